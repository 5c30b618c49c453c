/**
 * The upstream HTTP client shared by all providers: undici with keep-alive pools per origin,
 * a timeout, abort on caller disconnect, and MLflow's `send_request` error semantics.
 */
import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { GatewayError, isGatewayError, parseRetryAfter, type UpstreamFacts } from './errors.js';
import { isBlank } from './json.js';

type RequestFn = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/**
 * undici's Agent and its `request` from their own modules. undici's index also loads fetch,
 * WebSocket, EventSource, the caches and the mock agents, none of which the gateway uses: about
 * 70 ms and 8 MB at start-up on the bench machine. The version is pinned (sdk/package.json):
 * whoever bumps it runs the suite, which fails at once if these paths moved.
 */
const load = createRequire(import.meta.url);
const undici = {
  Agent: load('undici/lib/dispatcher/agent.js') as typeof UndiciAgent,
  request: load('undici/lib/api/api-request.js') as RequestFn,
};

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
  /**
   * `stream()` only: accept a 2xx `application/json` answer (a complete answer where a stream was
   * asked for) and return it for the provider to replay as chunks (see `isJsonAnswer`,
   * `readJsonAnswer`, `chunksOfResponse`). Without it such an answer is a 502.
   */
  allowJson?: boolean;
  /** `stream()` only: the media types accepted as a stream (default `STREAM_CONTENT_TYPES`). */
  streamContentTypes?: readonly string[];
}

/**
 * Media types `stream()` accepts on a 2xx answer by default: SSE, the NDJSON family, and AWS's
 * event stream. A missing content type is accepted too. Anything else (e.g. an HTML page from a
 * proxy) is a 502 `GW_ERR_UPSTREAM_CONTENT_TYPE` naming the type.
 */
export const STREAM_CONTENT_TYPES: readonly string[] = [
  'text/event-stream', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines',
  'application/jsonlines', 'application/stream+json', 'application/vnd.amazon.eventstream',
];

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
  /**
   * Open a streaming answer. Before any byte is yielded, a GatewayError is thrown for a non-2xx
   * status, a 2xx answer that is not a stream (`GW_ERR_UPSTREAM_CONTENT_TYPE`, naming the type;
   * JSON only without `allowJson`), or a 2xx answer with an empty body (`GW_ERR_UPSTREAM_EMPTY`).
   */
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
  if (err?.name === 'AbortError' || code === 'UND_ERR_ABORTED') {
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

/** The media type of a `content-type` value, lower-cased, without parameters. */
const mediaType = (contentType: string): string => contentType.split(';')[0]!.trim().toLowerCase();
const isJsonType = (ct: string): boolean => ct === 'application/json' || ct.endsWith('+json');

/** A 2xx answer with nothing in it: never a success (issue: it used to pass as an empty 200). */
export function emptyUpstreamError(status: number): GatewayError {
  return new GatewayError('GW_ERR_UPSTREAM_EMPTY', `The upstream answered status ${status} with an empty body.`);
}

/** True when a 2xx answer to a stream request is a complete JSON answer (see `UpstreamRequest.allowJson`). */
export function isJsonAnswer(res: UpstreamResponse): boolean {
  const ct = mediaType(headerValue(res.headers, 'content-type'));
  return isJsonType(ct) && !STREAM_CONTENT_TYPES.includes(ct);
}

/**
 * Read a complete JSON answer (e.g. one given to a stream request): an empty body is a 502
 * `GW_ERR_UPSTREAM_EMPTY`, text that is not JSON a 502 `GW_ERR_UPSTREAM_BAD_RESPONSE`, and an
 * object with an `error` field a 502 carrying the upstream's message.
 * @example
 * if (isJsonAnswer(res)) { yield* chunksOfResponse(mapChat(await readJsonAnswer(res))); return; }
 */
export async function readJsonAnswer<T = any>(res: UpstreamResponse): Promise<T> {
  const text = await res.text();
  if (isBlank(text)) throw emptyUpstreamError(res.status);
  let js: any;
  try { js = JSON.parse(text); } catch {
    throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream answered with invalid JSON (status ${res.status}).`);
  }
  if (js && typeof js === 'object' && !Array.isArray(js) && js.error !== undefined && js.error !== null) {
    throw upstreamStatusError(502, js, res.headers);
  }
  return js as T;
}

/**
 * Turn an upstream answer into MLflow's `send_request` result or error:
 * JSON is parsed, text/plain becomes `{message}`, any other content type is a 502;
 * a non-2xx status keeps its status, with `error.message` (or the whole body) as detail.
 */
export function interpretUpstream(status: number, contentType: string, text: string, headers?: UpstreamResponse['headers']): unknown {
  const ct = mediaType(contentType);
  const ok = status >= 200 && status < 300;
  if (isBlank(text)) {
    if (ok) throw emptyUpstreamError(status);
    throw upstreamStatusError(status, `The upstream answered status ${status} with an empty body.`, headers);
  }
  let parsed: unknown;
  if (isJsonType(ct)) {
    try { parsed = JSON.parse(text); } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream answered with invalid JSON (status ${status}).`);
    }
  } else if (ct === 'text/plain') {
    parsed = { message: text };
  } else {
    throw new GatewayError('GW_ERR_UPSTREAM_CONTENT_TYPE',
      `The returned data type from the route service is not supported. Received content type: ${contentType || 'none'}`);
  }
  if (ok) return parsed;
  throw upstreamStatusError(status, parsed, headers);
}

const nonEmpty = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * The `type`, `code` and `param` of an upstream error body: OpenAI's
 * `{"error": {"message", "type", "code", "param"}}` or Anthropic's
 * `{"type": "error", "error": {"type", "message"}}`. Non-empty strings only; anything else is null.
 * @example upstreamErrorFields({ error: { type: 'insufficient_quota', code: 'insufficient_quota', param: null } })
 * // → { type: 'insufficient_quota', code: 'insufficient_quota', param: null }
 */
export function upstreamErrorFields(parsed: unknown): { type: string | null; code: string | null; param: string | null } {
  const error = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as { error?: unknown }).error : undefined;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return { type: null, code: null, param: null };
  const e = error as { type?: unknown; code?: unknown; param?: unknown };
  return { type: nonEmpty(e.type), code: nonEmpty(e.code), param: nonEmpty(e.param) };
}

/**
 * The GatewayError for a non-2xx upstream answer already parsed. It keeps the upstream's facts
 * (status, headers, `Retry-After`, and its error body's `type`, `code` and `param`, see
 * `upstreamErrorFields`), and a `Retry-After` is passed on to the caller.
 */
export function upstreamStatusError(status: number, parsed: unknown, headers: UpstreamResponse['headers'] = {}): GatewayError {
  const obj = parsed as { error?: unknown; message?: unknown } | null;
  let detail: unknown = parsed;
  if (obj && typeof obj === 'object' && 'error' in obj && obj.error !== undefined) {
    const e = obj.error as { message?: unknown } | string;
    if (typeof e === 'string') detail = e;
    else if (e && typeof e === 'object' && typeof e.message === 'string') detail = e.message;
    // MLflow uses aiohttp's reason phrase when `error` has no `message` (e.g. "Too Many Requests").
    else detail = STATUS_CODES[status] ?? `Upstream error (status ${status})`;
  }
  const message = typeof detail === 'string' ? detail : JSON.stringify(detail);
  const retryAfter = headerValue(headers, 'retry-after');
  const upstream: UpstreamFacts = { status, headers, retryAfterMs: parseRetryAfter(retryAfter), ...upstreamErrorFields(parsed) };
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, {
    status: status >= 400 && status < 600 ? status : 502, detail, upstream,
    headers: retryAfter && (status === 429 || status === 503) ? { 'retry-after': retryAfter } : undefined,
  });
}

/**
 * What the kernel attaches to one attempt's signal: extra upstream headers, and a sink for the
 * time spent waiting on the upstream. Providers never see it; they pass `call.signal`.
 */
export interface AttemptHooks {
  headers?: Readonly<Record<string, string>>;
  upstream?(ms: number, status: number | null): void;
}

/**
 * Drop an answer's body without reading it to its end (an upstream that streams an HTML page
 * forever must not hold the call): read at most one chunk, then close the connection.
 */
export async function discardBody(res: UpstreamResponse): Promise<void> {
  const it = res.body[Symbol.asyncIterator]();
  try { await it.next(); } catch { /* already failed: nothing to drop */ }
  await it.return?.(undefined)?.catch(() => undefined);
}

const answerTooLarge = (max: number) => new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream's answer is larger than the limit of ${max} bytes.`);

/** A 2xx answer to a stream request: refuse what is not a stream, and an empty body (before any byte is yielded). */
async function checkStream(res: UpstreamResponse, req: UpstreamRequest, maxBody: number): Promise<UpstreamResponse> {
  const contentType = headerValue(res.headers, 'content-type');
  const ct = mediaType(contentType);
  // A stream type first: `application/stream+json` (Cohere) is a stream, not a JSON answer.
  if (ct && !(req.streamContentTypes ?? STREAM_CONTENT_TYPES).includes(ct)) {
    if (isJsonType(ct) && req.allowJson) return res;
    await discardBody(res);
    throw new GatewayError('GW_ERR_UPSTREAM_CONTENT_TYPE', isJsonType(ct)
      ? `The upstream answered a stream request with a complete JSON answer (content type ${contentType}), not a stream.`
      : `The upstream answered a stream request with content type ${contentType}, which is not a stream.`);
  }
  // Wait for the first bytes: a body that ends before any is an empty answer, not an empty stream.
  const it = res.body[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  if (first.done) throw emptyUpstreamError(res.status);
  const head = first.value;
  // The first bytes again, then the rest straight from the same iterator: no generator (and no
  // extra async step) per chunk.
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let replayed = false;
      return {
        next: () => {
          if (replayed) return it.next();
          replayed = true;
          return Promise.resolve({ done: false, value: head });
        },
        return: async () => { await it.return?.(); return { done: true, value: undefined }; },
      };
    },
  };
  const text = () => collectText(body, maxBody);
  return { status: res.status, headers: res.headers, body, text };
}

/**
 * An upstream body: the chunks with transport errors mapped, and the time spent reading reported
 * once at the end — a hand-written iterator over the stream's own, one promise per chunk. A class:
 * an object literal with a computed `[Symbol.asyncIterator]` method is slow to build for every
 * request, and JSON answers (read with `text()`) never iterate it.
 */
class UpstreamBody implements AsyncIterable<Uint8Array> {
  constructor(
    private readonly raw: Dispatcher.ResponseData['body'],
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly hooks: AttemptHooks | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const { raw, url, timeoutMs, hooks } = this;
    // Not destroyed when the reader stops early: see drainRest.
    const it = raw.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
    const t1 = hooks?.upstream ? performance.now() : 0;
    let finished = false;
    const finish = (early: boolean) => {
      if (finished) return;
      finished = true;
      if (early) drainRest(raw);
      else if (!raw.destroyed) raw.destroy();
      hooks?.upstream?.(performance.now() - t1, null);
    };
    return {
      next: () => it.next().then(
        (step) => { if (step.done) finish(false); return step; },
        (e) => { finish(false); throw transportError(e, url, timeoutMs); },
      ),
      return: async () => {
        try { await it.return?.(); } finally { finish(true); }
        return { done: true as const, value: undefined };
      },
    };
  }
}

/**
 * The most of an upstream answer read into memory (a JSON answer, an error body), in bytes: past
 * it the answer is a 502 and the connection is dropped, so one upstream cannot exhaust the
 * gateway's memory. Large enough for an embeddings batch of 2,048 inputs × 3,072 dimensions as JSON.
 */
export const MAX_UPSTREAM_BODY_BYTES = 256 * 1024 * 1024;

/** A body's text, at most `max` bytes; past them the reader stops (which closes the body). */
async function collectText(body: AsyncIterable<Uint8Array>, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > max) throw answerTooLarge(max);
    chunks.push(c);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** The text of an answer, at most `max` bytes: a declared length is checked first, a chunked body as it comes. */
function boundedText(raw: Dispatcher.ResponseData['body'], headers: Record<string, string | string[] | undefined>, max: number): Promise<string> {
  const declared = headerValue(headers, 'content-length');
  if (!declared) return collectText(raw, max);
  if (Number(declared) > max) { raw.destroy(); throw answerTooLarge(max); }
  return raw.text(); // undici reads a body with a declared length to exactly that length
}

/** What is read of a body after its reader stopped early, at most, before the connection is given up. */
const DRAIN_BYTES = 64 * 1024;
const DRAIN_MS = 1000;

/**
 * A reader that stops early — a stream's `[DONE]` arrives just before the end of the chunked body —
 * would destroy the body, and with it the keep-alive connection: every stream then paid a new TCP
 * (and, to a real provider, TLS) handshake. Read what is left instead, up to 64 KiB and one
 * second, so undici can reuse the connection; past that, or on an error, destroy it. A caller
 * that disconnects aborts the request's signal, which destroys the body at once.
 */
function drainRest(raw: Dispatcher.ResponseData['body']): void {
  if (raw.destroyed || raw.readableEnded) return;
  let left = DRAIN_BYTES;
  const timer = setTimeout(() => raw.destroy(), DRAIN_MS);
  timer.unref();
  raw.on('data', (c: Buffer) => { left -= c.length; if (left < 0) raw.destroy(); });
  raw.once('close', () => clearTimeout(timer));
  raw.on('error', () => undefined);
  raw.resume();
}

/** Create the shared client. One per process is enough: undici pools connections per origin. */
export function createHttpClient(options: { dispatcher?: Dispatcher; defaultTimeoutMs?: number; hooksOf?: (signal: AbortSignal) => AttemptHooks | undefined; maxBodyBytes?: number } = {}): HttpClient {
  const hooksOf = options.hooksOf;
  const maxBody = options.maxBodyBytes ?? MAX_UPSTREAM_BODY_BYTES;
  // No cap on connections per origin: a cap queues streams inside the gateway (1,000 open streams
  // to one upstream need 1,000 connections); keep-alive reuses them between calls.
  const dispatcher = options.dispatcher ?? new undici.Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000 });
  const defaultTimeout = options.defaultTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;

  async function send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const timeoutMs = req.timeoutMs ?? defaultTimeout;
    const hooks = req.signal && hooksOf ? hooksOf(req.signal) : undefined;
    const headers: Record<string, string> = hooks?.headers ? { ...req.headers, ...hooks.headers } : { ...req.headers };
    let body: string | Uint8Array | undefined = req.rawBody;
    if (body === undefined && req.body !== undefined) {
      body = JSON.stringify(req.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const t0 = hooks?.upstream ? performance.now() : 0;
    try {
      const url = new URL(req.url);
      const res = await undici.request.call(dispatcher, {
        origin: url.origin,
        path: url.search ? `${url.pathname}${url.search}` : url.pathname,
        method: req.method ?? 'POST',
        headers,
        body,
        signal: req.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      hooks?.upstream?.(performance.now() - t0, res.statusCode);
      const raw = res.body;
      const mapped = new UpstreamBody(raw, req.url, timeoutMs, hooks);
      const text = async () => {
        const t1 = hooks?.upstream ? performance.now() : 0;
        try { return await boundedText(raw, res.headers, maxBody); } catch (e) { throw isGatewayError(e) ? e : transportError(e, req.url, timeoutMs); }
        finally { hooks?.upstream?.(performance.now() - t1, null); }
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
      return interpretUpstream(res.status, headerValue(res.headers, 'content-type'), await res.text(), res.headers) as T;
    },
    async stream(req: UpstreamRequest): Promise<UpstreamResponse> {
      const res = await send(req);
      if (res.status >= 200 && res.status < 300) return checkStream(res, req, maxBody);
      const text = await res.text();
      const ct = headerValue(res.headers, 'content-type');
      try { interpretUpstream(res.status, ct, text, res.headers); } catch (e) {
        if (isGatewayError(e) && e.code === 'GW_ERR_UPSTREAM_CONTENT_TYPE') throw upstreamStatusError(res.status, { message: text }, res.headers);
        throw e;
      }
      throw upstreamStatusError(res.status, text, res.headers);
    },
    async close() { await dispatcher.close(); },
  };
}
