import { createServer, type Server } from 'node:http';

export interface MetricsServer { server: Server; url: string; close(): Promise<void> }

/**
 * A bare HTTP server answering `GET /metrics` on its own address (`metrics.listen`), so scrapes
 * can stay on an internal interface. Anything else is a 404. Resolves once it listens; rejects
 * when the address cannot be bound.
 */
export function serveMetrics(
  listen: { host: string; port: number },
  collect: () => Promise<{ text: string; contentType: string }>,
  onError: (e: Error) => void,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') { res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n'); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n'); return; }
    collect().then(({ text, contentType }) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (e: Error) => {
      onError(e);
      res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      server.on('error', onError);
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : listen.port;
      const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
      resolve({
        server,
        url: `http://${host}:${port}/metrics`,
        close: () => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }),
      });
    });
  });
}
