/**
 * The upstream HTTP client shared by all providers: undici with keep-alive pools per origin,
 * a timeout, abort on caller disconnect, and MLflow's `send_request` error semantics.
 */
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { GatewayError, isGatewayError } from './errors.js';

export interface UpstreamRequest {
  url: string;
  method?: 'POST' | 'GET' | 'PUT';
  headers?: Record<string, string>;
  /** A JSON body (serialised here). */
  body?: unknown;
  /** A body sent as-is, instead of `body`. */
  rawBody?: string | Uint8Array;
  /** Aborts the upstream call, e.g. when the caller disconnects. */
  signal?: AbortSignal;
  /** Max wait for response headers, and max idle time between body chunks. */
  timeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, as bytes; errors while reading are mapped to GatewayErrors. */
  body: AsyncIterable<Uint8Array>;
  /** The whole body as UTF-8 text (instead of iterating `body`). */
  text(): Promise<string>;
}

/** The shared upstream client, available to providers as `ctx.http`. */
export interface HttpClient {
  /** Send and parse a JSON answer; non-2xx, wrong content types and transport failures throw GatewayErrors. */
  json<T = any>(req: UpstreamRequest): Promise<T>;
  /** Open a streaming answer; a non-2xx status throws a GatewayError before any byte is yielded. */
  stream(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** The raw exchange: no status or content-type checks (transport failures are still mapped). */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 300_000;

const originOf = (url: string): string => {
  try { return new URL(url).origin; } catch { return 'the upstream'; }
};

/** Map a transport-level failure (connect, reset, timeout, abort) to a GatewayError. */
export function transportError(e: unknown, url: string, timeoutMs: number): GatewayError {
  if (isGatewayError(e)) return e;
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code ?? '';
  const origin = originOf(url);
  if (err?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || e instanceof undiciErrors.RequestAbortedError) {
    return new GatewayError('GW_ERR_CLIENT_CLOSED', 'The request was aborted.', { cause: e });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatewayError('GW_ERR_UPSTREAM_TIMEOUT', `The upstream at ${origin} did not answer within ${timeoutMs / 1000} s.`, { cause: e });
  }
  const why = code || err?.message || 'unknown error';
  return new GatewayError('GW_ERR_UPSTREAM_UNREACHABLE', `Could not reach the upstream at ${origin} (${why}).`, { cause: e });
}

const headerValue = (h: Record<string, string | string[] | undefined>, name: string): string => {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

/**
 * Turn an upstream answer into MLflow's `send_request` result or error:
 * JSON is parsed, text/plain becomes `{message}`, any other content type is a 502;
 * a non-2xx status keeps its status, with `error.message` (or the whole body) as detail.
 */
export function interpretUpstream(status: number, contentType: string, text: string): unknown {
  const ct = contentType.split(';')[0]!.trim().toLowerCase();
  let parsed: unknown;
  if (ct === 'application/json' || ct.endsWith('+json')) {
    try { parsed = text.length ? JSON.parse(text) : {}; } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream answered with invalid JSON (status ${status}).`);
    }
  } else if (ct === 'text/plain') {
    parsed = { message: text };
  } else {
    throw new GatewayError('GW_ERR_UPSTREAM_CONTENT_TYPE',
      `The returned data type from the route service is not supported. Received content type: ${contentType || 'none'}`);
  }
  if (status >= 200 && status < 300) return parsed;
  throw upstreamStatusError(status, parsed);
}

/** The GatewayError for a non-2xx upstream answer already parsed. */
export function upstreamStatusError(status: number, parsed: unknown): GatewayError {
  const obj = parsed as { error?: unknown; message?: unknown } | null;
  let detail: unknown = parsed;
  if (obj && typeof obj === 'object' && 'error' in obj && obj.error !== undefined) {
    const e = obj.error as { message?: unknown } | string;
    if (typeof e === 'string') detail = e;
    else if (e && typeof e === 'object' && typeof e.message === 'string') detail = e.message;
    else detail = `Upstream error (status ${status})`;
  }
  const message = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: status >= 400 && status < 600 ? status : 502, detail });
}

/** Create the shared client. One per process is enough: undici pools connections per origin. */
export function createHttpClient(options: { dispatcher?: Dispatcher; defaultTimeoutMs?: number } = {}): HttpClient {
  // No cap on connections per origin: a cap queues streams inside the gateway (1,000 open streams
  // to one upstream need 1,000 connections); keep-alive reuses them between calls.
  const dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000 });
  const defaultTimeout = options.defaultTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;

  async function send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const timeoutMs = req.timeoutMs ?? defaultTimeout;
    const headers: Record<string, string> = { ...req.headers };
    let body: string | Uint8Array | undefined = req.rawBody;
    if (body === undefined && req.body !== undefined) {
      body = JSON.stringify(req.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    try {
      const res = await request(req.url, {
        method: req.method ?? 'POST',
        headers,
        body,
        signal: req.signal,
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const raw = res.body;
      const mapped: AsyncIterable<Uint8Array> = {
        async *[Symbol.asyncIterator]() {
          try { for await (const chunk of raw) yield chunk as Uint8Array; } catch (e) { throw transportError(e, req.url, timeoutMs); }
          finally { if (!raw.destroyed) raw.destroy(); }
        },
      };
      const text = async () => {
        try { return await raw.text(); } catch (e) { throw transportError(e, req.url, timeoutMs); }
      };
      return { status: res.statusCode, headers: res.headers as UpstreamResponse['headers'], body: mapped, text };
    } catch (e) {
      throw transportError(e, req.url, timeoutMs);
    }
  }

  return {
    request: send,
    async json<T>(req: UpstreamRequest): Promise<T> {
      const res = await send(req);
      return interpretUpstream(res.status, headerValue(res.headers, 'content-type'), await res.text()) as T;
    },
    async stream(req: UpstreamRequest): Promise<UpstreamResponse> {
      const res = await send(req);
      if (res.status >= 200 && res.status < 300) return res;
      const text = await res.text();
      const ct = headerValue(res.headers, 'content-type');
      try { interpretUpstream(res.status, ct, text); } catch (e) {
        if (isGatewayError(e) && e.code === 'GW_ERR_UPSTREAM_CONTENT_TYPE') throw upstreamStatusError(res.status, { message: text });
        throw e;
      }
      throw upstreamStatusError(res.status, text);
    },
    async close() { await dispatcher.close(); },
  };
}
