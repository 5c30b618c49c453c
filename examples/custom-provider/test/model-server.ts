/**
 * A tiny House model service for the example's tests: a real HTTP server on 127.0.0.1 that
 * speaks the House wire format (see src/transforms.ts). Its "model" echoes the last user
 * message word by word, so answers are deterministic. It checks the key, honours
 * `max_new_tokens`, streams server-sent events, and can be told to fail the next call.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HouseServer {
  url: string;
  /** Bodies received, in order. */
  received: Array<{ path: string; authorization: string | undefined; body: any }>;
  /** Connections closed by the client before their answer ended (e.g. a caller's abort). */
  readonly abandoned: number;
  /** Answer the next call with this status and `{ code, message }` (or fail a stream after `afterTokens` tokens). */
  failNext(f: { status?: number; code: string; message: string; afterTokens?: number; headers?: Record<string, string> }): void;
  close(): Promise<void>;
}

const words = (s: string) => s.split(/(?<=\s)/).filter((w) => w.length > 0);

/** The deterministic 4-dimensional embedding of a text. */
export function houseVector(text: string): number[] {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.codePointAt(0)!, 16777619) >>> 0;
  return [0, 1, 2, 3].map((i) => Math.round((((h >>> (i * 8)) & 0xff) / 255 - 0.5) * 1e4) / 1e4);
}

export async function startHouseServer(opts: { key: string; tokenDelayMs?: number }): Promise<HouseServer> {
  const received: HouseServer['received'] = [];
  let failure: Parameters<HouseServer['failNext']>[0] | null = null;
  let abandoned = 0;
  const delay = opts.tokenDelayMs ?? 2;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const c of req) raw += c;
    let body: any;
    try { body = JSON.parse(raw); } catch { return send(res, 400, { code: 'BAD_JSON', message: 'body is not JSON' }); }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    received.push({ path, authorization: req.headers.authorization, body });
    res.on('close', () => { if (!res.writableFinished) abandoned++; });

    if (req.headers.authorization !== `House ${opts.key}`) return send(res, 401, { code: 'UNAUTHENTICATED', message: 'unknown service key' });
    const fail = failure;
    failure = null;
    if (fail && fail.afterTokens === undefined) return send(res, fail.status ?? 500, { code: fail.code, message: fail.message }, fail.headers);

    if (path === '/v1/embed') {
      const texts: string[] = body.texts ?? [];
      return send(res, 200, { model: body.model, vectors: texts.map(houseVector), usage: { input_tokens: texts.reduce((n, t) => n + words(t).length, 0) } });
    }
    if (path !== '/v1/generate') return send(res, 404, { code: 'NOT_FOUND', message: `no route ${path}` });

    const input: string = body.input?.prompt ?? [...(body.input?.messages ?? [])].reverse().find((m: any) => m.role === 'user')?.text ?? '';
    const all = words(`Echo: ${input}`);
    const max = body.params?.max_new_tokens;
    const out = max && all.length > max ? all.slice(0, max) : all;
    const finish = out.length < all.length ? 'max_tokens' : 'end';
    const usage = { input_tokens: words(input).length, output_tokens: out.length };
    if (!body.stream) {
      return send(res, 200, { request_id: `house-${received.length}`, model: body.model, outputs: [{ text: out.join(''), finish }], usage });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < out.length; i++) {
      if (res.destroyed) return;
      if (fail && i === fail.afterTokens) {
        res.end(`event: error\ndata: ${JSON.stringify({ code: fail.code, message: fail.message })}\n\n`);
        return;
      }
      res.write(`event: token\ndata: ${JSON.stringify({ text: out[i] })}\n\n`);
      await sleep(delay);
    }
    res.end(`event: done\ndata: ${JSON.stringify({ finish, usage })}\n\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get abandoned() { return abandoned; },
    failNext(f) { failure = f; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
