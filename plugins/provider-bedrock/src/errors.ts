/** Bedrock's error shapes as GatewayErrors (pure). */
import { GatewayError } from '@gatehouse/sdk';

/** HTTP statuses of Bedrock's exceptions, for stream exception events (which carry no status). */
const EXCEPTION_STATUS: Record<string, number> = {
  validationexception: 400,
  accessdeniedexception: 403,
  resourcenotfoundexception: 404,
  modeltimeoutexception: 408,
  modelstreamerrorexception: 424,
  modelerrorexception: 424,
  throttlingexception: 429,
  servicequotaexceededexception: 429,
  modelnotreadyexception: 429,
  internalserverexception: 500,
  serviceunavailableexception: 503,
};

/** `x-amzn-ErrorType: ValidationException:http://internal.amazon.com/...` → `ValidationException`. */
export function errorTypeName(header: string | undefined): string | undefined {
  const t = header?.split(':')[0]?.trim();
  return t || undefined;
}

/**
 * A non-2xx Bedrock answer: the JSON body's `message` (or `Message`) becomes the detail, the
 * upstream status is kept; without a message, the `x-amzn-ErrorType` name says what failed.
 */
export function bedrockHttpError(status: number, errorTypeHeader: string | undefined, bodyText: string): GatewayError {
  let message: string | undefined;
  try {
    const js = JSON.parse(bodyText) as { message?: unknown; Message?: unknown };
    const m = js?.message ?? js?.Message;
    if (typeof m === 'string' && m) message = m;
  } catch { /* not JSON */ }
  const type = errorTypeName(errorTypeHeader);
  const detail = message ?? `${type ?? 'Amazon Bedrock error'} (status ${status})`;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', detail, { status: status >= 400 && status < 600 ? status : 502 });
}

/** An `exception` message inside a ConverseStream (`:exception-type` + `{"message"}` payload). */
export function bedrockStreamException(exceptionType: string | undefined, payload: any): GatewayError {
  const type = exceptionType ?? 'unknownException';
  const message = typeof payload?.message === 'string' && payload.message ? payload.message : `Amazon Bedrock stream failed (${type})`;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: EXCEPTION_STATUS[type.toLowerCase()] ?? 502 });
}
