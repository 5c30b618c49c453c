/**
 * The OpenAI surface: how errors and streams look on `/v1/*`. OpenAI's error body is
 * `{"error": {"message", "type", "param", "code"}}`; its statuses differ from MLflow's in a few
 * places (validation is 400, not 422; a failing upstream is the gateway's 502, not the upstream's
 * own 5xx). The table lives here so the README can mirror it line for line.
 */
import { sseEvent, type GatewayError, type SurfaceDefinition } from '@gatehouse/sdk';
import { failedAt, responsesStreamError } from './responses.js';

export const SURFACE = 'openai';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** Codes whose catalogue status OpenAI clients expect differently. */
const STATUS_OVERRIDES: Partial<Record<string, number>> = {
  // OpenAI answers every malformed or invalid request with 400; FastAPI's 422 means nothing to its SDKs.
  GW_ERR_REQUEST_INVALID_JSON: 400,
  GW_ERR_REQUEST_VALIDATION: 400,
  GW_ERR_REQUEST_PARAM: 400,
  GW_ERR_REQUEST_MODEL_FIELD: 400,
};

/**
 * The status an OpenAI client sees for a gateway error.
 * - request problems: 400 (404 for an unknown model, 413 for a huge body);
 * - an upstream that answered 4xx keeps its status (a 429 stays a 429, so clients back off),
 *   except 401/403/407: those concern the gateway's own credentials, not the caller's, so they
 *   are the gateway's fault (502) and must not read as "your API key is wrong";
 * - an upstream 5xx, a bad answer or an unreachable upstream is 502; a timeout is 504.
 */
export function openAIStatus(err: GatewayError): number {
  const override = STATUS_OVERRIDES[err.code];
  if (override !== undefined) return override;
  if (err.code === 'GW_ERR_UPSTREAM_STATUS') {
    const s = err.status;
    if (s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 407) return s;
    return 502;
  }
  return err.status;
}

/**
 * Codes whose `type` and `code` OpenAI's own API spells differently, so that clients which look
 * at them (retry logic, "check your key" hints) recognise the situation.
 */
const OPENAI_CODES: Partial<Record<string, { type: string; code: string }>> = {
  GW_ERR_RATE_LIMITED: { type: 'requests', code: 'rate_limit_exceeded' },
  // The gateway's own keys (the auth plugin): the caller's key is missing or wrong.
  GW_ERR_AUTH_MISSING: { type: 'invalid_request_error', code: 'invalid_api_key' },
  GW_ERR_AUTH_INVALID: { type: 'invalid_request_error', code: 'invalid_api_key' },
  // The caller's key is valid but may not use this endpoint or route.
  GW_ERR_AUTH_FORBIDDEN: { type: 'permission_error', code: 'insufficient_permissions' },
  GW_ERR_AUTH_EXPIRED: { type: 'permission_error', code: 'api_key_expired' },
};

/**
 * The upstream's own error fields, when an upstream error carries a `type` or `code` (see
 * `UpstreamFacts`): OpenAI clients act on them (`insufficient_quota` is not a rate limit to retry,
 * `context_length_exceeded` means "trim the prompt"). Not for an upstream 401/403/407: that concerns
 * the gateway's own credentials, and e.g. `invalid_api_key` must not read as the caller's fault.
 */
function upstreamFields(err: GatewayError): { type: string | null; code: string | null; param: string | null } | null {
  const u = err.upstream;
  if (!u || (typeof u.type !== 'string' && typeof u.code !== 'string')) return null;
  if (u.status === 401 || u.status === 403 || u.status === 407) return null;
  return { type: u.type ?? null, code: u.code ?? null, param: u.param ?? null };
}

/**
 * The `error` object OpenAI clients parse, for a JSON answer and for a stream's last event alike.
 * An upstream error shows the upstream's `type` and `code` (and its `param` when the error has
 * none of its own) where it sent them as strings; otherwise the gateway's.
 */
export function openAIError(err: GatewayError): OpenAIErrorBody {
  const mapped = OPENAI_CODES[err.code];
  const up = upstreamFields(err);
  return {
    error: {
      message: err.expose ? err.message : 'Internal Server Error',
      type: up?.type ?? mapped?.type ?? err.type,
      param: err.param ?? up?.param ?? null,
      code: up?.code ?? mapped?.code ?? err.code,
    },
  };
}

export const openAISurface: SurfaceDefinition = {
  name: SURFACE,
  pathPrefix: '/v1/',
  renderError: (err) => {
    const status = openAIStatus(err);
    // OpenAI's SDKs retry 5xx answers unless told not to; retrying a 501 cannot help.
    return status === 501 ? { status, body: openAIError(err), headers: { 'x-should-retry': 'false' } } : { status, body: openAIError(err) };
  },
  streamTerminator: '[DONE]',
  renderStreamError: (err) => openAIError(err),
};

/** The surface of `/v1/responses`: OpenAI's error bodies, no `[DONE]`, and a typed `error` event on a failed stream. */
export const RESPONSES_SURFACE = 'openai-responses';

export const openAIResponsesSurface: SurfaceDefinition = {
  name: RESPONSES_SURFACE,
  renderError: openAISurface.renderError,
  renderStreamError: (err) => {
    const cause = (err as { cause?: unknown }).cause;
    const seq = failedAt.get(err) ?? (typeof cause === 'object' && cause !== null ? failedAt.get(cause) : undefined) ?? 0;
    return sseEvent('error', responsesStreamError(openAIError(err), seq));
  },
};
