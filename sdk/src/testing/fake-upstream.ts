/**
 * A loopback HTTP server that plays fixtures in a provider's real wire format and records what
 * it received: JSON bodies, SSE or NDJSON streams split at awkward byte boundaries, error bodies,
 * wrong content types, delays, connection resets and hangs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  url: string;
  pathname: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: any;
}

export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body (content-type application/json unless `contentType` says otherwise). */
  json?: unknown;
  /** A text body (content-type text/plain unless `contentType` says otherwise). */
  text?: string;
  /** Server-sent events: objects are JSON-encoded; each written as `data: ...\n\n`. Strings are written verbatim when they start with `event:` / `:` / `data:`. */
  sse?: Array<unknown>;
  /** Newline-delimited JSON lines. */
  ndjson?: unknown[];
  /** Exact body bytes. */
  raw?: string | Uint8Array;
  contentType?: string;
  /** Split the body into writes: every N bytes, or at these byte offsets. */
  splitEvery?: number;
  splitAt?: number[];
  /** Delay between body writes. */
  chunkDelayMs?: number;
  /** Delay before the status line. */
  delayMs?: number;
  /** Destroy the connection: before any answer, or after writing this many body bytes. */
  reset?: 'before-headers' | { afterBytes: number };
  /** Never answer (until the client gives up or the server closes). */
  hang?: boolean;
  /** Write the body, then keep the answer open without ending it (until the client gives up or the server closes). */
  holdOpen?: boolean;
}

export type FakeHandler = FakeResponse | ((req: RecordedRequest) => FakeResponse | Promise<FakeResponse>);

export interface FakeUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The last request received (throws if none). */
  last(): RecordedRequest;
  /** Replace or add a route: key `'POST /v1/chat/completions'` or `'/v1/chat/completions'` (any method). */
  on(route: string, handler: FakeHandler | FakeHandler[]): void;
  /**
   * Requests whose connection the client closed before the answer ended (a caller's abort, a
   * timeout giving up), in the order the closes happened.
   */
  closes: RecordedRequest[];
  /** Resolve true once `count` early closes were recorded in all, or false after `timeoutMs`. */
  waitForCloses(count?: number, timeoutMs?: number): Promise<boolean>;
  /** TCP connections accepted so far: a client that reuses keep-alive connections opens few. */
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Encode events as `text/event-stream` text, the way `FakeResponse.sse` writes them. */
export function encodeSse(events: unknown[]): string {
  return events.map((e) => {
    if (typeof e === 'string') {
      if (/^(event:|data:|:|id:|retry:)/.test(e)) return e.endsWith('\n\n') ? e : e + '\n\n';
      return `data: ${e}\n\n`;
    }
    return `data: ${JSON.stringify(e)}\n\n`;
  }).join('');
}

function bodyOf(f: FakeResponse): { bytes: Buffer; contentType: string } {
  if (f.json !== undefined) return { bytes: Buffer.from(JSON.stringify(f.json)), contentType: f.contentType ?? 'application/json' };
  if (f.sse) return { bytes: Buffer.from(encodeSse(f.sse)), contentType: f.contentType ?? 'text/event-stream' };
  if (f.ndjson) return { bytes: Buffer.from(f.ndjson.map((l) => JSON.stringify(l) + '\n').join('')), contentType: f.contentType ?? 'application/x-ndjson' };
  if (f.text !== undefined) return { bytes: Buffer.from(f.text), contentType: f.contentType ?? 'text/plain' };
  if (f.raw !== undefined) return { bytes: Buffer.from(f.raw), contentType: f.contentType ?? 'application/octet-stream' };
  return { bytes: Buffer.alloc(0), contentType: f.contentType ?? 'application/json' };
}

function pieces(bytes: Buffer, f: FakeResponse): Buffer[] {
  if (f.splitAt?.length) {
    const out: Buffer[] = [];
    let prev = 0;
    for (const at of [...f.splitAt].sort((a, b) => a - b)) {
      if (at > prev && at < bytes.length) { out.push(bytes.subarray(prev, at)); prev = at; }
    }
    out.push(bytes.subarray(prev));
    return out;
  }
  if (f.splitEvery && f.splitEvery > 0) {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += f.splitEvery) out.push(bytes.subarray(i, i + f.splitEvery));
    return out;
  }
  return [bytes];
}

/**
 * Start a fake upstream on 127.0.0.1 with a random port.
 * @example
 * const up = await startFakeUpstream({ 'POST /v1/chat/completions': { json: { id: 'x', choices: [] } } });
 * // ... point a provider at up.url ...
 * expect(up.last().json.model).toBe('gpt-4o');
 * await up.close();
 */
export async function startFakeUpstream(routes: Record<string, FakeHandler | FakeHandler[]> = {}): Promise<FakeUpstream> {
  const table = new Map<string, FakeHandler[]>();
  const counters = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const closes: RecordedRequest[] = [];
  let closeWaiters: Array<() => void> = [];
  let closing = false;
  /** Answers the fake cut itself (`reset`): not a client's close. */
  const selfCut = new WeakSet<ServerResponse>();
  const on = (route: string, h: FakeHandler | FakeHandler[]) => { table.set(route, Array.isArray(h) ? h : [h]); counters.set(route, 0); };
  for (const [k, v] of Object.entries(routes)) on(k, v);

  const pick = (method: string, pathname: string): FakeHandler | undefined => {
    for (const key of [`${method} ${pathname}`, pathname]) {
      const list = table.get(key);
      if (list) {
        const i = counters.get(key) ?? 0;
        counters.set(key, i + 1);
        return list[Math.min(i, list.length - 1)];
      }
    }
    return undefined;
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET', url: req.url ?? '/', pathname: decodeURIComponent(u.pathname),
      query: Object.fromEntries(u.searchParams), headers: req.headers, body,
    };
    try { rec.json = body ? JSON.parse(body) : undefined; } catch { /* not JSON */ }
    requests.push(rec);
    res.on('close', () => {
      if (res.writableFinished || closing || selfCut.has(res)) return;
      closes.push(rec);
      const waiters = closeWaiters;
      closeWaiters = [];
      for (const w of waiters) w();
    });
    const h = pick(rec.method, rec.pathname);
    const f: FakeResponse = h === undefined
      ? { status: 404, json: { error: { message: `fake upstream: no route for ${rec.method} ${rec.pathname}` } } }
      : typeof h === 'function' ? await h(rec) : h;
    if (f.delayMs) await sleep(f.delayMs);
    if (f.hang) return;
    if (f.reset === 'before-headers') { selfCut.add(res); req.socket.destroy(); return; }
    const { bytes, contentType } = bodyOf(f);
    res.writeHead(f.status ?? 200, { 'content-type': contentType, ...f.headers });
    res.flushHeaders();
    let written = 0;
    for (const p of pieces(bytes, f)) {
      if (typeof f.reset === 'object' && written + p.length > f.reset.afterBytes) {
        res.write(p.subarray(0, Math.max(0, f.reset.afterBytes - written)));
        await sleep(5);
        selfCut.add(res);
        req.socket.destroy();
        return;
      }
      if (res.destroyed) return;
      res.write(p);
      written += p.length;
      if (f.chunkDelayMs) await sleep(f.chunkDelayMs);
    }
    if (f.holdOpen) return;
    res.end();
  });
  let connections = 0;
  server.on('connection', (s) => { connections++; sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    last() {
      const r = requests[requests.length - 1];
      if (!r) throw new Error('fake upstream received no request');
      return r;
    },
    on,
    reset() { requests.length = 0; closes.length = 0; for (const k of counters.keys()) counters.set(k, 0); },
    closes,
    get connections() { return connections; },
    async waitForCloses(count = 1, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (closes.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          closeWaiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
      return true;
    },
    close() {
      closing = true;
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Collect an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
