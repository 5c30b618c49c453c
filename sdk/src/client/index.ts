/**
 * `@gatehouse/sdk/client` — a typed client for applications that call a Gatehouse (or MLflow AI)
 * gateway. The MLflow deployments client's verbs: `listEndpoints`, `getEndpoint`, `predict`,
 * `predictStream`, `getLimits`, `setLimits`. Built on `fetch` only, so it runs in Node ≥ 18 and
 * in browsers; it imports nothing from Node.
 *
 * @example
 * import { GatewayClient } from '@gatehouse/sdk/client';
 * const client = new GatewayClient<{ chat: 'llm/v1/chat'; embeddings: 'llm/v1/embeddings' }>({ baseUrl: 'http://127.0.0.1:5000' });
 * const res = await client.predict('chat', { messages: [{ role: 'user', content: 'What is MLflow?' }] });
 * console.log(res.choices[0].message.content);
 */
import { sseEvents } from '../sse.js';
import type {
  ChatChunk, ChatMessage, ChatResponse, ChatTool, CompletionsChunk, CompletionsResponse, EmbeddingsResponse, EndpointType,
} from '../types.js';

export type { ChatChunk, ChatMessage, ChatResponse, CompletionsChunk, CompletionsResponse, EmbeddingsResponse, EndpointType };

// ---------------------------------------------------------------------------------------------
// Wire types

/** Request parameters shared by chat and completions (all optional; the gateway validates them). */
export interface GenerationParams {
  temperature?: number;
  max_tokens?: number;
  top_p?: number;
  n?: number;
  stop?: string[];
  frequency_penalty?: number;
  presence_penalty?: number;
  [extra: string]: unknown;
}

export interface ChatInputs extends GenerationParams {
  messages: Array<Pick<ChatMessage, 'role' | 'content'> & Partial<ChatMessage>>;
  tools?: ChatTool[];
}
export interface CompletionsInputs extends GenerationParams { prompt: string }
export interface EmbeddingsInputs { input: string | string[]; encoding_format?: 'float' | 'base64'; [extra: string]: unknown }

/** What each endpoint type takes and answers. */
export interface EndpointTypes {
  'llm/v1/chat': { inputs: ChatInputs; response: ChatResponse; chunk: ChatChunk };
  'llm/v1/completions': { inputs: CompletionsInputs; response: CompletionsResponse; chunk: CompletionsChunk };
  'llm/v1/embeddings': { inputs: EmbeddingsInputs; response: EmbeddingsResponse; chunk: never };
}

/** The endpoint names an application knows, with their types, e.g. `{ chat: 'llm/v1/chat' }`. */
export type EndpointMap = Record<string, EndpointType>;

type TypeOf<M extends EndpointMap, N extends string> = N extends keyof M ? M[N] : EndpointType;
/** The inputs `predict` takes for endpoint `N`. */
export type InputsOf<M extends EndpointMap, N extends string> = EndpointTypes[TypeOf<M, N>]['inputs'];
/** The answer `predict` returns for endpoint `N`. */
export type ResponseOf<M extends EndpointMap, N extends string> = EndpointTypes[TypeOf<M, N>]['response'];
/** The chunks `predictStream` yields for endpoint `N`. */
export type ChunkOf<M extends EndpointMap, N extends string> = EndpointTypes[TypeOf<M, N>]['chunk'];

export interface EndpointLimit { calls: number; key: string | null; renewal_period: string; [extra: string]: unknown }

/** An endpoint as `GET /api/2.0/endpoints/{name}` lists it. */
export interface Endpoint {
  name: string;
  endpoint_type: EndpointType;
  model: { name: string | null; provider: string };
  endpoint_url: string;
  limit: EndpointLimit | null;
  [extra: string]: unknown;
}

/** A limit as the limits API shows it (MLflow's fields, plus what the gateway adds, e.g. its current state). */
export interface Limit { calls?: number | null; key?: string | null; renewal_period: string; [extra: string]: unknown }

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Any error answer of the gateway, with its HTTP status and a code. Both error shapes are read:
 * MLflow's `{"detail": ...}` (and `{"error": "..."}` for rate limits) and OpenAI's
 * `{"error": {"message", "type", "param", "code"}}`; a stream's final `{"error": {...}}` event
 * too. Catch a subclass for one kind of failure.
 */
export class GatewayClientError extends Error {
  override readonly name: string = 'GatewayClientError';
  /** The HTTP status (0 when no answer came: network failure, abort). */
  readonly status: number;
  /** The gateway's code (`GW_ERR_...`) or the OpenAI-shaped `code`; `HTTP_<status>` when the body carried none. */
  readonly code: string;
  /** The error `type` when the body carried one (OpenAI shape, stream errors). */
  readonly type: string | null;
  readonly param: string | null;
  /** The `detail` (MLflow shape) as sent: a string, or e.g. a FastAPI-shaped 422 list. */
  readonly detail: unknown;
  /** The whole error body. */
  readonly body: unknown;
  /** The gateway's `x-request-id`, to find the request in its logs. */
  readonly requestId: string | null;
  /** `Retry-After` in milliseconds, when the answer had one. */
  readonly retryAfterMs: number | null;

  constructor(message: string, init: { status: number; code?: string | null; type?: string | null; param?: string | null; detail?: unknown; body?: unknown; requestId?: string | null; retryAfterMs?: number | null; cause?: unknown }) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.status = init.status;
    this.code = init.code ?? `HTTP_${init.status}`;
    this.type = init.type ?? null;
    this.param = init.param ?? null;
    this.detail = init.detail ?? null;
    this.body = init.body ?? null;
    this.requestId = init.requestId ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }
}
/** 400, 413, 422: the request is wrong. */
export class BadRequestError extends GatewayClientError { override readonly name = 'BadRequestError'; }
/** 401: no or a wrong gateway key. */
export class AuthenticationError extends GatewayClientError { override readonly name = 'AuthenticationError'; }
/** 403: the key may not call this. */
export class PermissionDeniedError extends GatewayClientError { override readonly name = 'PermissionDeniedError'; }
/** 404: no such endpoint or route. */
export class NotFoundError extends GatewayClientError { override readonly name = 'NotFoundError'; }
/** 429: a limit was reached; see `retryAfterMs`. */
export class RateLimitError extends GatewayClientError { override readonly name = 'RateLimitError'; }
/** 501: the endpoint's provider lacks the capability. */
export class NotImplementedError extends GatewayClientError { override readonly name = 'NotImplementedError'; }
/** 504 (or the client's own timeout): the upstream or the gateway was too slow. */
export class GatewayTimeoutError extends GatewayClientError { override readonly name = 'GatewayTimeoutError'; }
/** Other 5xx: the gateway or its upstream failed. */
export class ServerError extends GatewayClientError { override readonly name = 'ServerError'; }
/** No answer at all: the gateway is unreachable, or the call was aborted (`status` 0). */
export class ConnectionError extends GatewayClientError { override readonly name = 'ConnectionError'; }

type ErrorClass = new (message: string, init: ConstructorParameters<typeof GatewayClientError>[1]) => GatewayClientError;
const classFor = (status: number): ErrorClass =>
  status === 400 || status === 413 || status === 422 ? BadRequestError
    : status === 401 ? AuthenticationError
    : status === 403 ? PermissionDeniedError
    : status === 404 ? NotFoundError
    : status === 429 ? RateLimitError
    : status === 501 ? NotImplementedError
    : status === 504 || status === 408 ? GatewayTimeoutError
    : status >= 500 ? ServerError
    : GatewayClientError;

const detailMessage = (detail: unknown): string => {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && typeof d === 'object' && 'msg' in d
      ? `${Array.isArray((d as { loc?: unknown }).loc) ? `${((d as { loc: unknown[] }).loc).join('.')}: ` : ''}${String((d as { msg: unknown }).msg)}`
      : JSON.stringify(d))).join('; ');
  }
  return JSON.stringify(detail);
};

/**
 * Build the typed error for a parsed error body: `{detail}`, `{error: "..."}` or
 * `{error: {message, type, param, code, status?}}`.
 */
export function errorFromBody(status: number, body: unknown, meta: { requestId?: string | null; retryAfterMs?: number | null } = {}): GatewayClientError {
  let message = `The gateway answered status ${status}.`;
  let code: string | null = null;
  let type: string | null = null;
  let param: string | null = null;
  let detail: unknown = null;
  const b = body as { detail?: unknown; error?: unknown; message?: unknown } | null;
  if (b && typeof b === 'object' && !Array.isArray(b)) {
    if ('detail' in b && b.detail !== undefined) { detail = b.detail; message = detailMessage(b.detail); }
    else if (typeof b.error === 'string') { message = b.error; detail = b.error; }
    else if (b.error && typeof b.error === 'object') {
      const e = b.error as { message?: unknown; type?: unknown; param?: unknown; code?: unknown; status?: unknown };
      if (typeof e.message === 'string') message = e.message;
      if (typeof e.type === 'string') type = e.type;
      if (typeof e.param === 'string') param = e.param;
      if (typeof e.code === 'string' && e.code) code = e.code;
      if (typeof e.status === 'number' && status === 0) status = e.status;
      detail = e.message ?? null;
    } else if (typeof b.message === 'string') { message = b.message; detail = b.message; }
  } else if (typeof body === 'string' && body) { message = body; detail = body; }
  const Cls = classFor(status);
  return new Cls(message, { status, code, type, param, detail, body, requestId: meta.requestId ?? null, retryAfterMs: meta.retryAfterMs ?? null });
}

function retryAfter(v: string | null): number | null {
  if (!v) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

// ---------------------------------------------------------------------------------------------
// The client

export interface GatewayClientOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:5000`. */
  baseUrl: string;
  /** A gateway key, sent as `Authorization: Bearer <key>` (when the gateway runs the auth plugin). */
  apiKey?: string;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Give up on a call after this long (ms) with a `GatewayTimeoutError`; streams: the whole stream. Default: no limit. */
  timeoutMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * A client for one gateway. Give it the endpoints you use, with their types, and `predict`'s
 * inputs and answers are typed accordingly; endpoints not in the map take any type's inputs.
 * @example
 * const client = new GatewayClient<{ chat: 'llm/v1/chat' }>({ baseUrl: 'http://127.0.0.1:5000' });
 * for await (const chunk of client.predictStream('chat', { messages: [{ role: 'user', content: 'Write a story' }] })) {
 *   process.stdout.write(chunk.choices[0]?.delta.content ?? '');
 * }
 */
export class GatewayClient<M extends EndpointMap = EndpointMap> {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number | undefined;

  constructor(options: GatewayClientOptions | string) {
    const o = typeof options === 'string' ? { baseUrl: options } : options;
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    const f = o.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!f) throw new TypeError('GatewayClient needs fetch: pass options.fetch on runtimes without a global fetch');
    this.fetchImpl = f;
    this.headers = { ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}), ...o.headers };
    this.timeoutMs = o.timeoutMs;
  }

  /** Every endpoint of the gateway (all pages of `GET /api/2.0/endpoints/`). */
  async listEndpoints(options: CallOptions = {}): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    let token: string | null = null;
    do {
      const q: string = token ? `?page_token=${encodeURIComponent(token)}` : '';
      const page = await this.json<{ endpoints?: Endpoint[]; next_page_token?: string | null }>('GET', `/api/2.0/endpoints/${q}`, undefined, options);
      out.push(...(page.endpoints ?? []));
      token = page.next_page_token ?? null;
    } while (token);
    return out;
  }

  /** One endpoint (`GET /api/2.0/endpoints/{name}`); a `NotFoundError` when there is none. */
  getEndpoint(name: string, options: CallOptions = {}): Promise<Endpoint> {
    return this.json<Endpoint>('GET', `/api/2.0/endpoints/${encodeURIComponent(name)}`, undefined, options);
  }

  /**
   * Query an endpoint (or a traffic route): `POST /endpoints/{name}/invocations`.
   * @example const res = await client.predict('embeddings', { input: ['Hello world', 'MLflow AI Gateway'] });
   */
  predict<N extends keyof M & string>(endpoint: N, inputs: InputsOf<M, N>, options?: CallOptions): Promise<ResponseOf<M, N>>;
  predict(endpoint: string, inputs: EndpointTypes[EndpointType]['inputs'], options?: CallOptions): Promise<EndpointTypes[EndpointType]['response']>;
  predict(endpoint: string, inputs: Record<string, unknown>, options: CallOptions = {}): Promise<unknown> {
    if (inputs && (inputs as { stream?: unknown }).stream === true) {
      throw new TypeError('predict() returns one answer: use predictStream() for stream: true');
    }
    return this.json('POST', `/endpoints/${encodeURIComponent(endpoint)}/invocations`, inputs, options);
  }

  /**
   * Query an endpoint with `stream: true` and iterate its chunks as they come. A failure after the
   * stream started (the gateway's final `{"error": ...}` event) is thrown as a typed error.
   * Breaking out of the loop closes the connection (the gateway then aborts the upstream call).
   */
  predictStream<N extends string>(endpoint: N, inputs: InputsOf<M, N>, options: CallOptions = {}): AsyncIterable<ChunkOf<M, N>> {
    const self = this;
    return {
      [Symbol.asyncIterator]() {
        return self.stream(endpoint, { ...(inputs as object), stream: true }, options) as AsyncIterator<ChunkOf<M, N>>;
      },
    };
  }

  /** The limits of an endpoint or traffic route (`GET /api/2.0/endpoints/limits/{name}`). */
  async getLimits(endpoint: string, options: CallOptions & { keyValue?: string } = {}): Promise<{ limits: Limit[] }> {
    const q = options.keyValue !== undefined ? `?key_value=${encodeURIComponent(options.keyValue)}` : '';
    return this.json('GET', `/api/2.0/endpoints/limits/${encodeURIComponent(endpoint)}${q}`, undefined, options);
  }

  /** Set limits (`POST /api/2.0/endpoints/limits/`). Gatehouse, like MLflow, takes limits from the config file and answers 501 (`NotImplementedError`). */
  setLimits(endpoint: string, limits: Limit[], options: CallOptions = {}): Promise<{ limits: Limit[] }> {
    return this.json('POST', '/api/2.0/endpoints/limits/', { route: endpoint, limits }, options);
  }

  /** `GET /health`: true when the gateway answers `{"status": "OK"}`. */
  async health(options: CallOptions = {}): Promise<boolean> {
    try { return (await this.json<{ status?: string }>('GET', '/health', undefined, options)).status === 'OK'; } catch { return false; }
  }

  // -------------------------------------------------------------------------------------------

  private async send(method: string, path: string, body: unknown, options: CallOptions, accept: string): Promise<{ res: Response; done: () => void; timedOut: () => boolean }> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(options.signal?.reason);
    if (options.signal?.aborted) ctl.abort(options.signal.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = this.timeoutMs !== undefined ? setTimeout(() => { timedOut = true; ctl.abort(); }, this.timeoutMs) : undefined;
    const done = () => { if (timer !== undefined) clearTimeout(timer); options.signal?.removeEventListener('abort', onAbort); };
    const headers: Record<string, string> = { accept, ...this.headers, ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await this.fetchImpl(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl.signal });
      if (!res.ok) {
        done();
        throw await this.errorOf(res);
      }
      return { res, done, timedOut: () => timedOut };
    } catch (e) {
      done();
      throw this.wrap(e, timedOut);
    }
  }

  private wrap(e: unknown, timedOut: boolean): unknown {
    if (e instanceof GatewayClientError) return e;
    if (timedOut) return new GatewayTimeoutError(`No answer within ${this.timeoutMs} ms.`, { status: 0, code: 'CLIENT_TIMEOUT', cause: e });
    const aborted = (e as { name?: string })?.name === 'AbortError';
    return new ConnectionError(aborted ? 'The call was aborted.' : `Could not reach the gateway at ${this.baseUrl}: ${(e as Error)?.message ?? e}`, { status: 0, code: aborted ? 'ABORTED' : 'CONNECTION_FAILED', cause: e });
  }

  private async errorOf(res: Response): Promise<GatewayClientError> {
    const text = await res.text().catch(() => '');
    let body: unknown = text;
    try { body = text ? JSON.parse(text) : null; } catch { /* plain text */ }
    return errorFromBody(res.status, body, { requestId: res.headers.get('x-request-id'), retryAfterMs: retryAfter(res.headers.get('retry-after')) });
  }

  private async json<T>(method: string, path: string, body: unknown, options: CallOptions): Promise<T> {
    const { res, done, timedOut } = await this.send(method, path, body, options, 'application/json');
    try {
      const text = await res.text();
      try { return JSON.parse(text) as T; } catch {
        throw new ServerError('The gateway answered with something that is not JSON.', { status: res.status, code: 'BAD_RESPONSE', body: text, requestId: res.headers.get('x-request-id') });
      }
    } catch (e) { throw this.wrap(e, timedOut()); } finally { done(); }
  }

  private async *stream(endpoint: string, inputs: Record<string, unknown>, options: CallOptions): AsyncGenerator<unknown> {
    const { res, done, timedOut } = await this.send('POST', `/endpoints/${encodeURIComponent(endpoint)}/invocations`, inputs, options, 'text/event-stream');
    const requestId = res.headers.get('x-request-id');
    const ct = res.headers.get('content-type') ?? '';
    if (!ct.includes('text/event-stream')) {
      done();
      throw new ServerError(`The gateway answered a stream request with ${ct || 'no content type'}, not an event stream.`, { status: res.status, code: 'BAD_RESPONSE', requestId });
    }
    const reader = res.body!.getReader();
    const bytes: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for (;;) { const r = await reader.read(); if (r.done) return; yield r.value; }
      },
    };
    let finished = false;
    try {
      for await (const ev of sseEvents(bytes)) {
        const data = ev.data.trim();
        if (!data) continue;
        if (data === '[DONE]') { finished = true; break; }
        let js: any;
        try { js = JSON.parse(data); } catch {
          throw new ServerError('The gateway sent a stream event that is not JSON.', { status: res.status, code: 'BAD_RESPONSE', body: data, requestId });
        }
        if (js && typeof js === 'object' && (js.error !== undefined || ev.event === 'error')) {
          const status = typeof js.error?.status === 'number' ? js.error.status : 502;
          throw errorFromBody(status, js, { requestId });
        }
        yield js;
      }
      finished = true;
    } catch (e) {
      throw this.wrap(e, timedOut());
    } finally {
      // Leaving early (break, an error) closes the connection; the gateway aborts the upstream call.
      if (!finished) await reader.cancel().catch(() => {});
      done();
    }
  }
}

/** Shorthand for `new GatewayClient(...)`, after MLflow's `get_deploy_client(uri)`. */
export function getDeployClient<M extends EndpointMap = EndpointMap>(options: GatewayClientOptions | string): GatewayClient<M> {
  return new GatewayClient<M>(options);
}
