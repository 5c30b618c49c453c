/**
 * Label values. Every value comes from a bounded set: configured endpoint and route names,
 * registered surfaces and route patterns, catalogued error codes. Nothing a caller typed
 * (an unknown endpoint name, a random path) ever becomes a label value.
 */
import { errorCodeInfo, type Attempt, type EndpointInfo, type Invocation } from '@gatehouse/sdk';

/** The value of a label that does not apply (no endpoint, no traffic route, no error). */
export const NONE = '(none)';
/** The `handler` label of a request no HTTP route matched. */
export const UNMATCHED = '(unmatched)';
/** The `code` label of an error code that is not in the catalogue. */
export const OTHER = '(other)';

export interface TargetLabels { endpoint: string; route: string; provider: string; model: string }

export const NO_TARGET: Readonly<TargetLabels> = Object.freeze({ endpoint: NONE, route: NONE, provider: NONE, model: NONE });

export function endpointLabels(ep: EndpointInfo | null | undefined): Pick<TargetLabels, 'endpoint' | 'provider' | 'model'> {
  if (!ep) return { endpoint: NONE, provider: NONE, model: NONE };
  return { endpoint: ep.name, provider: ep.model.provider || NONE, model: ep.model.name ?? NONE };
}

/**
 * Endpoint, traffic route, provider and model of an invocation. The endpoint is the one that
 * served (for a traffic route: the destination of the last attempt, else the one the kernel bound).
 * Both come from the configuration (the kernel resolved the target before the pipeline), so
 * a name nobody configured cannot get here.
 */
export function targetLabels(inv: Invocation | null | undefined): TargetLabels {
  if (!inv) return NO_TARGET;
  const last = inv.attempts.length ? inv.attempts[inv.attempts.length - 1] : undefined;
  const ep = inv.endpoint ?? last?.endpoint ?? null;
  const e = endpointLabels(ep);
  return { endpoint: e.endpoint, route: inv.route?.name ?? NONE, provider: e.provider, model: e.model };
}

const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** `2xx`, `4xx`, ... (the same string each time: it keys a label lookup per request). */
export function statusClass(status: number): string {
  if (!Number.isFinite(status) || status < 100 || status > 599) return 'other';
  return STATUS_CLASSES[Math.floor(status / 100)]!;
}

/** An error code as a label: catalogued codes only (built-ins and plugin codes registered at load). */
export function codeLabel(code: string | null | undefined): string {
  if (!code) return NONE;
  return errorCodeInfo(code) ? code : OTHER;
}

/** The pipeline events the metrics count (the shared event-name convention). Others are ignored. */
export const COUNTED_EVENTS: ReadonlySet<string> = new Set(['rate_limited', 'retry', 'fallback_triggered', 'cooldown', 'breaker_open', 'first_token']);

/** Whether an attempt after the first retried the same endpoint or fell back to another. */
export function attemptKind(inv: Pick<Invocation, 'attempts'>, attempt: Pick<Attempt, 'n' | 'endpoint'>): 'first' | 'retry' | 'fallback' {
  if (attempt.n <= 1) return 'first';
  let prev: Attempt | undefined;
  for (const a of inv.attempts) if (a.n === attempt.n - 1) { prev = a; break; }
  return prev && prev.endpoint.name === attempt.endpoint.name ? 'retry' : 'fallback';
}

/**
 * The gateway's own time: total time minus time waiting on upstreams, in milliseconds, never
 * negative. `now` and `startedAt` are `performance.now()` values. Call it when the answer is
 * ready; for a primed stream that is right after its first chunk arrived, and the attempt that
 * produced it counts whole (its `durationMs`): the kernel's HTTP client reports a stream's body
 * wait only when the stream ends, so at the first chunk `upstreamMs` holds just the wait for the
 * headers, and the wait from the headers to the first token is the upstream's time, not ours.
 */
export function overheadMs(now: number, inv: Pick<Invocation, 'startedAt' | 'attempts' | 'stream' | 'result'>): number {
  const primedStream = inv.stream && !!inv.result && typeof (inv.result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
  const last = inv.attempts.length - 1;
  let upstream = 0;
  for (let i = 0; i <= last; i++) {
    const a = inv.attempts[i]!;
    const waited = primedStream && i === last && !a.error ? Math.max(a.upstreamMs, a.durationMs) : a.upstreamMs;
    if (waited > 0) upstream += waited;
  }
  const v = now - inv.startedAt - upstream;
  return v > 0 ? v : 0;
}

/** Parse `host:port` (also `[::1]:port` and a bare port). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim()) ?? /^()()(\d{1,5})$/.exec(value.trim());
  if (!m) throw new TypeError(`'${value}' is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new TypeError(`'${value}' has a port above 65535`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
