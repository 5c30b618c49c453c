/**
 * The Node floor: the least a Node proxy can do for the benchmark's request, to measure Gatehouse
 * against. node:http in, undici keep-alive out (one Agent, no connection cap), one JSON parse of
 * the caller's body and one stringify of the upstream's; the answer (JSON or SSE) is piped back.
 *
 *   POST [/<variant>]/floor   body {messages, stream?} (what Gatehouse gets) → upstream
 *        <FLOOR_UPSTREAM>[/<variant>]/v1/chat/completions with {model, messages, stream, stream_options}
 *        (what Gatehouse sends).
 *
 * Started by run.mjs with FLOOR_UPSTREAM and an IPC channel; posts {type:'ready', port}.
 */
import { createServer } from 'node:http';
import { Agent, request } from 'undici';

const UPSTREAM = process.env.FLOOR_UPSTREAM ?? 'http://127.0.0.1:8000';
const dispatcher = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000 });

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const out = { model: 'gpt-4o-mini', ...body };
      if (body.stream) out.stream_options = { include_usage: true };
      const variant = req.url.slice(0, req.url.lastIndexOf('/floor'));
      const up = await request(`${UPSTREAM}${variant}/v1/chat/completions`, {
        method: 'POST', dispatcher, body: JSON.stringify(out),
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      });
      res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] ?? 'application/json' });
      res.on('close', () => { if (!res.writableFinished) up.body.destroy(); });
      for await (const c of up.body) if (!res.write(c) && !res.destroyed) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
      res.end();
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(e?.message ?? e) } }));
    }
  });
});
server.keepAliveTimeout = 65_000;
server.requestTimeout = 0;

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => { // the same accept queue as Gatehouse's
  const { port } = server.address();
  if (process.send) process.send({ type: 'ready', port });
  else process.stdout.write(`floor proxy on http://127.0.0.1:${port}\n`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
