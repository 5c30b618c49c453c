import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import {
  GatewayError, parseJsonBody, toGatewayError, type Caller, type GatewayApi, type Guard, type Invocation, type Logger, type Observer,
  type RequestOutcome, type RouteDefinition, type RouteRequest, type RouteResult, type SurfaceDefinition, type Usage,
} from '@gatehouse/sdk';
import { ORIGIN } from '../pipeline/compose.js';
import { internals } from '../pipeline/stages.js';

export interface EdgeLimits { maxBodyBytes: number; bodyTimeoutMs: number }

export interface MountOptions {
  app: Koa;
  router: Router;
  routes: Array<{ def: RouteDefinition; owner: string }>;
  api: GatewayApi;
  surfaces: Map<string, SurfaceDefinition>;
  guard: Guard | null;
  observers: Observer[];
  logger: Logger;
  secrets: string[];
  limits: EdgeLimits;
  now(): number;
}

/** What the edge records about one HTTP request, turned into a RequestOutcome at the end. */
interface Exchange {
  id: string;
  /** The request path, or '/' when the request target is not a valid URL (answered 400). */
  path: string;
  startedAt: number;
  t0: number;
  out: Record<string, string>;
  route: string | null;
  surface: string | null;
  caller: Caller | null;
  invocation: Invocation | null;
  code: string | null;
  message: string | null;
  ttfb: number | null;
  bytes: number;
  chunks: number;
  usage: Usage | null;
  /** Aborted when the client goes away before the answer is complete (routes only). */
  ac: AbortController | null;
}

/** The fallback when no installed surface claims a path: a plain JSON error. */
const plainSurface: SurfaceDefinition = {
  name: 'plain',
  renderError: (err) => ({ status: err.status, body: { error: { message: err.expose ? err.message : 'Internal Server Error', code: err.code } } }),
};

const REQUEST_ID = /^[\w.:\-]{1,128}$/;

/**
 * How much of a refused body is still read and dropped. Closing the socket while the client is
 * still sending makes it see a reset (Node's fetch: EPIPE) instead of the 413; so the 413 goes out
 * at once and the rest of the body is read away (up to this, within the body timeout), as nginx's
 * lingering close does. A body declared larger is answered and the connection closed.
 */
const DRAIN_BYTES = 64 * 1024 * 1024;

function drain(req: IncomingMessage, ms: number): void {
  const socket = req.socket;
  let left = DRAIN_BYTES;
  const stop = () => { clearTimeout(timer); socket.off('close', stop); };
  const cut = () => { stop(); socket.destroy(); };
  const timer = setTimeout(cut, ms).unref();
  req.on('data', (c: Buffer) => { if ((left -= c.length) < 0) cut(); });
  req.once('end', stop);
  socket.once('close', stop);
  req.resume();
}

function readBody(req: IncomingMessage, limits: EdgeLimits): Promise<string> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (linger: boolean) => {
    if (linger) drain(req, limits.bodyTimeoutMs);
    return new GatewayError('GW_ERR_REQUEST_TOO_LARGE', `The request body is larger than the limit of ${limits.maxBodyBytes} bytes.`, linger ? {} : { headers: { connection: 'close' } });
  };
  if (declared > limits.maxBodyBytes) return Promise.reject(tooLarge(declared <= DRAIN_BYTES));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (e?: Error, linger = false) => {
      clearTimeout(timer);
      req.off('data', onData); req.off('end', onEnd); req.off('error', onError);
      if (!e) { resolve(Buffer.concat(chunks).toString('utf8')); return; }
      if (!linger) req.pause();
      reject(e);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(new GatewayError('GW_ERR_REQUEST_TIMEOUT', `The request body did not arrive within ${limits.bodyTimeoutMs / 1000} s.`, { headers: { connection: 'close' } })), limits.bodyTimeoutMs);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBodyBytes) { done(tooLarge(true), true); return; }
      chunks.push(c);
      arm();
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(e);
    req.on('data', onData); req.on('end', onEnd); req.on('error', onError);
    arm();
  });
}

/** Remove every configured key from what is about to be shown or logged. */
export function scrub<T>(value: T, secrets: string[]): T {
  if (!secrets.length || value === null || value === undefined) return value;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (!secrets.some((s) => text.includes(s))) return value;
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  return (typeof value === 'string' ? out : JSON.parse(out)) as T;
}

export function scrubError(err: GatewayError, secrets: string[]): GatewayError {
  if (!secrets.length) return err;
  const message = scrub(err.message, secrets);
  const detail = scrub(err.detail, secrets);
  // The upstream's own error type, code and param are shown by the OpenAI surface: scrubbed too.
  const u = err.upstream;
  const [type, code, param] = [scrub(u?.type, secrets), scrub(u?.code, secrets), scrub(u?.param, secrets)];
  const upstream = u && (type !== u.type || code !== u.code || param !== u.param) ? { ...u, type, code, param } : u;
  if (message === err.message && detail === err.detail && upstream === u) return err;
  return new GatewayError(err.code, message, { status: err.status, detail, param: err.param, headers: err.headers, upstream });
}

function logError(logger: Logger, err: GatewayError, path: string, id: string, secrets: string[]) {
  const fields: Record<string, unknown> = { code: err.code, status: err.status, path, request_id: id };
  const origin = (err as unknown as Record<symbol, unknown>)[ORIGIN] ?? (err.cause as Record<symbol, unknown> | undefined)?.[ORIGIN];
  if (origin) Object.assign(fields, origin);
  if (err.status >= 500 && err.code === 'GW_ERR_INTERNAL') {
    const cause = err.cause as Error | undefined;
    fields.error = scrub(cause?.stack ?? cause?.message ?? err.message, secrets);
    logger.error('request failed', fields);
  } else if (err.status >= 500) {
    logger.warn(scrub(err.message, secrets), fields);
  } else {
    logger.debug(scrub(err.message, secrets), fields);
  }
}

/** One SSE frame: `data:` JSON, with an `event:` line for an item made by `sseEvent`. */
const frameOf = (v: unknown): string => {
  const e = v as { event?: unknown; data?: unknown } | null;
  return e && typeof e === 'object' && SSE_EVENT in e ? `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n` : `data: ${JSON.stringify(v)}\n\n`;
};

/** Write server-sent events straight to the socket, with backpressure; errors after the start become a final event. */
async function writeSse(res: ServerResponse, items: AsyncIterable<unknown>, surface: SurfaceDefinition, signal: AbortSignal, x: Exchange, onError: (e: GatewayError) => GatewayError) {
  const it = items[Symbol.asyncIterator]();
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...x.out });
  // The headers go with the first event, in one write, when it is ready now (a pipeline stream is
  // primed: its first chunk is); otherwise on their own at the next turn.
  let early: NodeJS.Immediate | null = setImmediate(() => { early = null; if (!res.headersSent && !res.destroyed) res.flushHeaders(); });
  let finished = false;
  const write = (s: string) => {
    if (early) { clearImmediate(early); early = null; }
    if (x.ttfb === null) x.ttfb = performance.now() - x.t0;
    x.bytes += Buffer.byteLength(s);
    return res.write(s);
  };
  try {
    for (;;) {
      const step = await it.next();
      if (step.done) { finished = true; break; }
      if (signal.aborted) break;
      x.chunks++;
      if (!write(frameOf(step.value))) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done); res.on('close', done);
        });
      }
    }
    if (finished && surface.streamTerminator) write(`data: ${surface.streamTerminator}\n\n`);
  } catch (e) {
    finished = true;
    if (!signal.aborted) {
      const err = onError(toGatewayError(e));
      x.code = err.code; x.message = err.message;
      write(frameOf(surface.renderStreamError?.(err) ?? { error: { message: err.expose ? err.message : 'Internal Server Error', type: err.type, code: err.code, status: err.status } }));
    }
  } finally {
    if (early) { clearImmediate(early); early = null; }
    if (!finished) await it.return?.(undefined).catch(() => undefined);
    res.end();
  }
}

/** Mark an SSE item as a named event (`event: <name>` line): `sseEvent('message_start', {...})`. */
export const SSE_EVENT = Symbol.for('gatehouse.sseEvent');

/** Mount route definitions on the Koa app: the edge (request id, headers, guard, errors per surface, outcomes for observers), then the routes. */
export function mountRoutes(o: MountOptions): void {
  const { app, router, routes, api, surfaces, guard, observers, logger, secrets, limits } = o;
  const handle = (e: unknown, path: string, id: string) => {
    const err = scrubError(toGatewayError(e), secrets);
    logError(logger, err, path, id, secrets);
    return err;
  };
  const prefixed = [...surfaces.values()].filter((s) => s.pathPrefix).sort((a, b) => b.pathPrefix!.length - a.pathPrefix!.length);
  const surfaceFor = (name: string | null, path: string) =>
    (name ? surfaces.get(name) : undefined) ?? prefixed.find((s) => path.startsWith(s.pathPrefix!)) ?? plainSurface;

  // A route's `exists` check, by method and pattern: a path it says names nothing counts as unmatched.
  const exists = new Map<string, NonNullable<RouteDefinition['exists']>>();
  for (const { def } of routes) if (def.exists) exists.set(`${def.method} ${def.path}`, def.exists);
  /** Whether any route matches `path`, whatever the method (a Starlette route's partial match). */
  const routed = (path: string): { methods: string[] } | null => {
    const layers = router.match(path, 'GET').path.filter((l) => l.methods.length > 0 && l.methods.some((m) => {
      const check = exists.get(`${m} ${String(l.path)}`);
      return !check || check(l.params(path, l.captures(path)), api);
    }));
    return layers.length ? { methods: [...new Set(layers.flatMap((l) => l.methods))] } : null;
  };

  const finish = (ctx: Koa.Context, x: Exchange) => {
    if (!observers.length) return;
    const inv = x.invocation;
    const st = inv ? internals(inv) : null;
    const outcome: RequestOutcome = {
      id: x.id, method: ctx.method, path: x.path, route: x.route, surface: x.surface ?? surfaceFor(null, x.path).name,
      status: ctx.res.statusCode, code: x.code, message: x.message, startedAt: x.startedAt,
      durationMs: performance.now() - x.t0, ttfbMs: x.ttfb,
      upstreamMs: inv ? inv.attempts.reduce((s, a) => s + a.upstreamMs, 0) : 0,
      stream: inv?.stream ?? false, chunks: st?.chunks ?? x.chunks, bytes: x.bytes,
      aborted: !ctx.res.writableEnded, client: { ip: ctx.ip }, caller: x.caller,
      usage: st?.usage ?? null, invocation: inv,
    };
    for (const ob of observers) if (ob.finish) try { ob.finish(outcome); } catch (e) { logger.warn('observer failed', { error: (e as Error).message }); }
  };

  app.use(async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    let path: string | null;
    try { path = ctx.path; } catch { path = null; }
    const x: Exchange = {
      id: incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID(), path: path ?? '/', startedAt: o.now(), t0: performance.now(),
      out: {}, route: null, surface: null, caller: null, invocation: null, code: null, message: null, ttfb: null, bytes: 0, chunks: 0, usage: null, ac: null,
    };
    x.out['x-request-id'] = x.id;
    ctx.state.x = x;
    ctx.res.once('close', () => {
      if (x.ac && !ctx.res.writableFinished) x.ac.abort(new GatewayError('GW_ERR_CLIENT_CLOSED', 'The client closed the connection.'));
      finish(ctx, x);
    });
    try {
      // An absolute-form target with a malformed host (`http://[::1/health`) makes ctx.path throw: a 400, never a 500.
      if (path === null) throw new GatewayError('GW_ERR_REQUEST_BAD', 'The request target is not a valid URL.');
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        const match = routed(ctx.path);
        if (match) {
          ctx.set('Allow', match.methods.filter((m) => m !== 'HEAD').join(', '));
          throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed');
        }
        // Starlette's redirect_slashes: trailing slashes stripped (or one added), then a route for
        // the other form, for any method (a POST-only path's GET is redirected, then answered 405).
        const alt = ctx.path.endsWith('/') ? ctx.path.replace(/\/+$/, '') : `${ctx.path}/`;
        if (alt && routed(alt)) {
          ctx.status = 307;
          ctx.set('Location', alt + (ctx.querystring ? `?${ctx.querystring}` : ''));
          ctx.set(x.out);
          ctx.body = '';
          return;
        }
        throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
      }
    } catch (e) {
      const err = handle(e, x.path, x.id);
      x.code = err.code; x.message = err.message;
      if (ctx.respond === false || ctx.res.headersSent) { ctx.res.end(); return; }
      const rendered = surfaceFor(x.surface, x.path).renderError(err, { requestId: x.id });
      ctx.status = rendered.status;
      ctx.set(x.out);
      if (err.headers) ctx.set(err.headers);
      if (rendered.headers) ctx.set(rendered.headers);
      ctx.body = rendered.body;
    }
    if (x.ttfb === null) x.ttfb = performance.now() - x.t0;
  });

  for (const { def, owner } of routes) {
    const method = def.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    const target = { method: def.method, path: def.path, access: def.access ?? 'caller', owner };
    router[method](def.path, async (ctx) => {
      const x = ctx.state.x as Exchange;
      x.route = def.path;
      x.surface = surfaceFor(def.surface ?? null, def.path).name;
      const surface = surfaceFor(x.surface, ctx.path);
      const ac = (x.ac = new AbortController());
      const res = ctx.res;
      const req = new EdgeRequest(x, ctx, ac.signal, limits);
      if (guard) await guard(req, target);
      const result: RouteResult = await def.handler(req, api);
      if ('sse' in result) {
        if (result.invocation) x.invocation = result.invocation;
        if (result.headers) Object.assign(x.out, result.headers);
        ctx.respond = false;
        await writeSse(res, result.sse, surface, ac.signal, x, (e) => handle(e, ctx.path, x.id));
        return;
      }
      ctx.set(x.out);
      if ('redirect' in result) {
        ctx.status = result.status ?? 307;
        ctx.set('Location', result.redirect);
        ctx.body = '';
        return;
      }
      if (result.headers) ctx.set(result.headers);
      ctx.status = result.status ?? 200;
      if ('json' in result) {
        let text = JSON.stringify(result.json);
        if (secrets.length && secrets.some((sec) => text.includes(sec))) text = scrub(text, secrets);
        x.bytes = Buffer.byteLength(text);
        ctx.type = 'application/json';
        ctx.body = text;
      } else if ('text' in result) { ctx.type = result.contentType; ctx.body = result.text; x.bytes = typeof result.text === 'string' ? Buffer.byteLength(result.text) : result.text.byteLength; }
      else { ctx.type = result.contentType; ctx.body = result.stream; }
    });
  }
  app.use(router.routes());
}

/**
 * The RouteRequest of one HTTP request. A class, not an object literal: a literal with a `caller`
 * getter/setter costs about 2 µs per request to build (accessors and closures per instance), a
 * class instance about 0.2 µs.
 */
class EdgeRequest implements RouteRequest {
  readonly id: string;
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  ip: string;
  signal: AbortSignal;
  readonly exchange: Exchange;
  #ctx: Koa.Context;
  #limits: EdgeLimits;
  #body: Promise<unknown> | undefined;

  constructor(x: Exchange, ctx: Koa.Context, signal: AbortSignal, limits: EdgeLimits) {
    this.id = x.id;
    this.method = ctx.method;
    this.path = ctx.path;
    this.params = ctx.params as Record<string, string>;
    this.query = ctx.query as Record<string, string | undefined>;
    this.headers = ctx.headers;
    this.ip = ctx.ip;
    this.signal = signal;
    this.exchange = x;
    this.#ctx = ctx;
    this.#limits = limits;
  }

  get caller(): Caller | null { return this.exchange.caller; }
  setHeader(name: string, value: string): void { this.exchange.out[name.toLowerCase()] = value; }
  set caller(c: Caller | null) { this.exchange.caller = c; }

  json(): Promise<unknown> {
    return this.#body ??= readBody(this.#ctx.req, this.#limits).then((text) => parseJsonBody(text));
  }
}

/** The exchange a RouteRequest belongs to (the kernel links invocations to it). */
export const exchangeOf = (req: RouteRequest): Exchange | undefined => (req as { exchange?: Exchange }).exchange;
