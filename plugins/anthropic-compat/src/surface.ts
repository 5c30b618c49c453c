/**
 * The Anthropic surface: errors as `{"type":"error","error":{"type","message"},"request_id"}`
 * with Anthropic's status-to-type table, and a failed stream's last event `error` in the same
 * shape. Statuses follow the OpenAI surface's reasoning: request problems are 400, an upstream
 * 4xx keeps its status except the gateway's own credential failures (401/403/407 → 502).
 */
import { sseEvent, type GatewayError, type SurfaceDefinition } from '@gatehouse/sdk';

export const SURFACE = 'anthropic';

export interface AnthropicErrorBody { type: 'error'; error: { type: string; message: string }; request_id?: string }

/** Anthropic's error types by HTTP status. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const STATUS_OVERRIDES: Partial<Record<string, number>> = {
  GW_ERR_REQUEST_INVALID_JSON: 400,
  GW_ERR_REQUEST_VALIDATION: 400,
  GW_ERR_REQUEST_PARAM: 400,
  GW_ERR_REQUEST_MODEL_FIELD: 400,
};

/** The status an Anthropic client sees for a gateway error. */
export function anthropicStatus(err: GatewayError): number {
  const override = STATUS_OVERRIDES[err.code];
  if (override !== undefined) return override;
  if (err.code === 'GW_ERR_UPSTREAM_STATUS') {
    const s = err.status;
    if (s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 407) return s;
    if (s === 529) return 529; // Anthropic's own "overloaded" passes through: clients back off on it
    return 502;
  }
  return err.status;
}

/** Anthropic's error `type` for a status (4xx without an entry: invalid_request_error; 5xx: api_error). */
export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export function anthropicError(err: GatewayError, status = anthropicStatus(err)): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(status), message: err.expose ? err.message : 'Internal Server Error' } };
}

export const anthropicSurface: SurfaceDefinition = {
  name: SURFACE,
  pathPrefix: '/v1/messages',
  renderError: (err, context) => {
    const status = anthropicStatus(err);
    const body: AnthropicErrorBody = anthropicError(err, status);
    const headers: Record<string, string> = {};
    // Anthropic's SDK reads `request-id` (APIError.requestID), on errors raised before a route runs too (the auth guard's).
    if (context) { body.request_id = context.requestId; headers['request-id'] = context.requestId; }
    // It retries 5xx answers unless told not to; retrying a 501 cannot help.
    if (status === 501) headers['x-should-retry'] = 'false';
    return { status, body, headers };
  },
  renderStreamError: (err) => sseEvent('error', anthropicError(err)),
};
