/**
 * One error type and one catalogue of codes. Each code has an HTTP status and says whether its
 * message may be shown to a caller. Errors are recognised by shape (a brand), never by
 * `instanceof`, so two copies of the sdk still understand each other.
 */

const BRAND = Symbol.for('gatehouse.error');

export interface ErrorCodeInfo { status: number; expose: boolean; type: string }

/** The catalogue. `type` is the OpenAI-style error type a surface may show. */
export const ERROR_CODES = {
  GW_ERR_REQUEST_INVALID_JSON: { status: 422, expose: true, type: 'invalid_request_error' },
  GW_ERR_REQUEST_VALIDATION: { status: 422, expose: true, type: 'invalid_request_error' },
  GW_ERR_REQUEST_PARAM: { status: 422, expose: true, type: 'invalid_request_error' },
  GW_ERR_REQUEST_BAD: { status: 400, expose: true, type: 'invalid_request_error' },
  GW_ERR_REQUEST_TOO_LARGE: { status: 413, expose: true, type: 'invalid_request_error' },
  GW_ERR_REQUEST_MODEL_FIELD: { status: 422, expose: true, type: 'invalid_request_error' },
  GW_ERR_ROUTE_NOT_FOUND: { status: 404, expose: true, type: 'not_found_error' },
  GW_ERR_ENDPOINT_NOT_FOUND: { status: 404, expose: true, type: 'not_found_error' },
  GW_ERR_ENDPOINT_TYPE_MISMATCH: { status: 400, expose: true, type: 'invalid_request_error' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, expose: true, type: 'invalid_request_error' },
  GW_ERR_CAPABILITY_UNSUPPORTED: { status: 501, expose: true, type: 'not_implemented_error' },
  GW_ERR_NOT_IMPLEMENTED: { status: 501, expose: true, type: 'not_implemented_error' },
  GW_ERR_RATE_LIMITED: { status: 429, expose: true, type: 'rate_limit_error' },
  GW_ERR_UPSTREAM_STATUS: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_UPSTREAM_CONTENT_TYPE: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_UPSTREAM_UNREACHABLE: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, expose: true, type: 'timeout_error' },
  GW_ERR_UPSTREAM_EMPTY: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_UPSTREAM_TRUNCATED: { status: 502, expose: true, type: 'upstream_error' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, expose: true, type: 'invalid_request_error' },
  GW_ERR_CLIENT_CLOSED: { status: 499, expose: false, type: 'client_closed' },
  GW_ERR_INTERNAL: { status: 500, expose: false, type: 'internal_error' },
  GW_ERR_CONFIG_INVALID: { status: 500, expose: false, type: 'config_error' },
  GW_ERR_PLUGIN_DUPLICATE: { status: 500, expose: false, type: 'plugin_error' },
  GW_ERR_PLUGIN_MANIFEST: { status: 500, expose: false, type: 'plugin_error' },
  GW_ERR_PLUGIN_LOAD: { status: 500, expose: false, type: 'plugin_error' },
  GW_ERR_PLUGIN_DEPENDENCY: { status: 500, expose: false, type: 'plugin_error' },
  GW_ERR_PLUGIN_API_VERSION: { status: 500, expose: false, type: 'plugin_error' },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A built-in code, or one a plugin defined (`PluginDefinition.errors`). */
export type ErrorCode = keyof typeof ERROR_CODES | (string & {});

/** Every code known in this process: the built-ins plus plugin-defined ones. Shared by all copies of the sdk. */
const registry: Map<string, ErrorCodeInfo & { owner: string }> = ((globalThis as Record<symbol, unknown>)[Symbol.for('gatehouse.errorCodes')] ??=
  new Map(Object.entries(ERROR_CODES).map(([k, v]) => [k, { ...v, owner: 'core' }]))) as Map<string, ErrorCodeInfo & { owner: string }>;

/**
 * Register error codes (the kernel does it for `PluginDefinition.errors` at load time). Codes are
 * `GW_ERR_<AREA>_<WHAT>`; defining a code another owner defined is refused.
 * @example defineErrorCodes('rate-limit', { GW_ERR_LIMIT_STORE: { status: 503, expose: true, type: 'unavailable_error' } });
 */
export function defineErrorCodes(owner: string, codes: Readonly<Record<string, ErrorCodeInfo>>): void {
  for (const [code, info] of Object.entries(codes)) {
    if (!/^GW_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/.test(code)) throw new TypeError(`error code '${code}' of '${owner}' must look like GW_ERR_<AREA>_<WHAT>`);
    const had = registry.get(code);
    if (had && had.owner !== owner) throw new TypeError(`error code '${code}' is defined by both '${had.owner}' and '${owner}'`);
    registry.set(code, { ...info, owner });
  }
}

/** The catalogue entry of a code, or undefined. */
export const errorCodeInfo = (code: string): (ErrorCodeInfo & { owner: string }) | undefined => registry.get(code);

/** What an upstream answered, kept on the error so routing and surfaces can use it. */
export interface UpstreamFacts {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** `Retry-After` in milliseconds, when the upstream sent one. */
  retryAfterMs: number | null;
  /**
   * The upstream's own error `type`, `code` and `param`, from an OpenAI-shaped error body
   * (`{"error": {"message", "type", "code", "param"}}`) or Anthropic's
   * (`{"type": "error", "error": {"type", "message"}}`): non-empty strings only, anything else
   * (absent, a number, another body shape) is null. Set by `upstreamStatusError`; the OpenAI
   * surface shows them instead of the gateway's own, so clients see e.g. `insufficient_quota`.
   * They come from the upstream: the kernel scrubs configured keys out of them like the message.
   */
  type?: string | null;
  code?: string | null;
  param?: string | null;
}

export interface GatewayErrorOptions {
  /** Overrides the catalogue status, e.g. an upstream's own 4xx/5xx status. */
  status?: number;
  /** A non-string detail to render instead of the message (e.g. an upstream JSON body). */
  detail?: unknown;
  /** The request parameter at fault, shown by surfaces that have a `param` field. */
  param?: string | null;
  cause?: unknown;
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  /** What the upstream answered, for upstream errors. */
  upstream?: UpstreamFacts;
}

/**
 * The gateway's error.
 * @example
 * throw new GatewayError('GW_ERR_REQUEST_PARAM', "'n' must be '1' for the Anthropic provider.", { param: 'n' });
 */
export class GatewayError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly type: string;
  readonly detail: unknown;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;
  readonly upstream: UpstreamFacts | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'GatewayError';
    const info = registry.get(code);
    if (!info) throw new TypeError(`unknown error code '${code}' (define it with PluginDefinition.errors)`);
    this.code = code;
    this.status = options.status ?? info.status;
    this.expose = info.expose;
    this.type = info.type;
    this.detail = options.detail ?? message;
    this.param = options.param ?? null;
    this.headers = options.headers;
    this.upstream = options.upstream;
  }
}

/** Parse a `Retry-After` header (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** True for a GatewayError from any copy of the sdk. */
export function isGatewayError(e: unknown): e is GatewayError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** Wrap anything thrown into a GatewayError; unknown errors become a non-exposed 500. */
export function toGatewayError(e: unknown): GatewayError {
  if (isGatewayError(e)) return e;
  return new GatewayError('GW_ERR_INTERNAL', 'Internal Server Error', { cause: e });
}

/** MLflow's 501 message for a capability a provider lacks. */
export function unsupportedCapability(capability: import('./types.js').Capability, displayName: string): GatewayError {
  const what = {
    chat: 'The chat route is',
    completions: 'The completions route is',
    embeddings: 'The embeddings route is',
    chatStream: 'The chat streaming route is',
    completionsStream: 'The completions streaming route is',
  }[capability];
  return new GatewayError('GW_ERR_CAPABILITY_UNSUPPORTED', `${what} not implemented for ${displayName} models.`);
}

/** A provider-side parameter rejection (MLflow answers 422 with the message as `detail`). */
export function paramError(message: string, param?: string): GatewayError {
  return new GatewayError('GW_ERR_REQUEST_PARAM', message, { param: param ?? null });
}
