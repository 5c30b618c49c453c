import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import {
  GatewayError, toGatewayError, type GatewayApi, type Logger, type RouteDefinition, type RouteRequest, type RouteResult,
  type SurfaceDefinition,
} from '@gatehouse/sdk';
import { invalidJsonError } from '../pipeline/validate.js';

const MAX_BODY = 16 * 1024 * 1024;

export interface MountOptions {
  app: Koa;
  router: Router;
  routes: Array<{ def: RouteDefinition; owner: string }>;
  api: GatewayApi;
  surfaces: Map<string, SurfaceDefinition>;
  logger: Logger;
  secrets: string[];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new GatewayError('GW_ERR_REQUEST_TOO_LARGE', `The request body is larger than ${MAX_BODY} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
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

function scrubError(err: GatewayError, secrets: string[]): GatewayError {
  if (!secrets.length) return err;
  const message = scrub(err.message, secrets);
  const detail = scrub(err.detail, secrets);
  if (message === err.message && detail === err.detail) return err;
  return new GatewayError(err.code, message, { status: err.status, detail, param: err.param, headers: err.headers });
}

function logError(logger: Logger, err: GatewayError, path: string, secrets: string[]) {
  const fields: Record<string, unknown> = { code: err.code, status: err.status, path };
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

/** Write server-sent events straight to the socket, with backpressure; errors after the start become a final event. */
async function writeSse(res: ServerResponse, items: AsyncIterable<unknown>, surface: SurfaceDefinition, signal: AbortSignal, headers: Record<string, string> | undefined, onError: (e: GatewayError) => GatewayError) {
  const it = items[Symbol.asyncIterator]();
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers });
  res.flushHeaders();
  let finished = false;
  try {
    for (;;) {
      const step = await it.next();
      if (step.done) { finished = true; break; }
      if (signal.aborted) break;
      if (!res.write(`data: ${JSON.stringify(step.value)}\n\n`)) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done); res.on('close', done);
        });
      }
    }
    if (finished && surface.streamTerminator) res.write(`data: ${surface.streamTerminator}\n\n`);
  } catch (e) {
    finished = true;
    if (!signal.aborted) {
      const err = onError(toGatewayError(e));
      const event = surface.renderStreamError?.(err) ?? { error: { message: err.expose ? err.message : 'Internal Server Error', type: err.type, code: err.code, status: err.status } };
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    }
  } finally {
    if (!finished) await it.return?.(undefined).catch(() => undefined);
    res.end();
  }
}

/** Mount route definitions on the Koa app, with one error middleware that renders each surface's error shape. */
export function mountRoutes({ app, router, routes, api, surfaces, logger, secrets }: MountOptions): void {
  const surfaceOf = (name: string | undefined) => surfaces.get(name ?? 'mlflow') ?? surfaces.get('mlflow')!;
  const handle = (e: unknown, path: string) => {
    const err = scrubError(toGatewayError(e), secrets);
    logError(logger, err, path, secrets);
    return err;
  };

  const prefixed = [...surfaces.values()].filter((s) => s.pathPrefix);
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        const match = router.match(ctx.path, ctx.method);
        if (match.path.length > 0) {
          const allowed = [...new Set(match.path.flatMap((l) => l.methods))].filter((m) => m !== 'HEAD');
          ctx.set('Allow', allowed.join(', '));
          throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed');
        }
        const alt = ctx.path.endsWith('/') ? ctx.path.slice(0, -1) : `${ctx.path}/`;
        if (alt && router.match(alt, ctx.method).route) {
          ctx.status = 307;
          ctx.set('Location', alt + (ctx.querystring ? `?${ctx.querystring}` : ''));
          ctx.body = '';
          return;
        }
        throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
      }
    } catch (e) {
      const err = handle(e, ctx.path);
      if (ctx.respond === false || ctx.res.headersSent) { ctx.res.end(); return; }
      const surface = (ctx.state.surface as string | undefined) ?? prefixed.find((s) => ctx.path.startsWith(s.pathPrefix!))?.name;
      const rendered = surfaceOf(surface).renderError(err);
      ctx.status = rendered.status;
      if (err.headers) ctx.set(err.headers);
      if (rendered.headers) ctx.set(rendered.headers);
      ctx.body = rendered.body;
    }
  });

  for (const { def } of routes) {
    const surface = surfaceOf(def.surface);
    const method = def.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    router[method](def.path, async (ctx) => {
      ctx.state.surface = surface.name;
      const ac = new AbortController();
      const res = ctx.res;
      res.once('close', () => { if (!res.writableFinished) ac.abort(new GatewayError('GW_ERR_CLIENT_CLOSED', 'The client closed the connection.')); });
      const req: RouteRequest = {
        method: ctx.method,
        path: ctx.path,
        params: ctx.params as Record<string, string>,
        query: ctx.query as Record<string, string | undefined>,
        headers: ctx.headers,
        ip: ctx.ip,
        signal: ac.signal,
        async json() {
          const text = await readBody(ctx.req);
          if (!text.trim()) return undefined;
          try { return JSON.parse(text); } catch (e) { throw invalidJsonError(text, e); }
        },
      };
      const result: RouteResult = await def.handler(req, api);
      if ('sse' in result) {
        ctx.respond = false;
        await writeSse(res, result.sse, surface, ac.signal, result.headers, (e) => handle(e, ctx.path));
        return;
      }
      if ('redirect' in result) {
        ctx.status = result.status ?? 307;
        ctx.set('Location', result.redirect);
        ctx.body = '';
        return;
      }
      if (result.headers) ctx.set(result.headers);
      ctx.status = result.status ?? 200;
      if ('json' in result) ctx.body = result.json;
      else if ('text' in result) { ctx.type = result.contentType; ctx.body = result.text; }
      else { ctx.type = result.contentType; ctx.body = result.stream; }
    });
  }
  app.use(router.routes());
}
