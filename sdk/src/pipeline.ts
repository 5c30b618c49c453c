/**
 * The request pipeline as plugins see it: the stages, the invocation that flows through them,
 * attempts at the provider call, and the outcome every request ends with.
 */
import type { GatewayError } from './errors.js';
import type { EndpointType, UnifiedChunk, UnifiedResponse, Usage } from './types.js';

/**
 * The pipeline stages, in order. `core/src/pipeline/stages.ts` implements exactly these.
 * - `receive`: the kernel reads and validates the body. A plugin joining `pre` runs on headers alone.
 * - `admit`: who may call, and how much (auth checks, limits).
 * - `route`: which endpoints to try (`inv.candidates`), e.g. a traffic split or a fallback list.
 * - `invoke`: the kernel tries the candidates as attempts (see `AttemptPolicy`).
 * - `respond`: the answer is ready (JSON) or primed (stream); set headers, shape, account.
 */
export const STAGES = ['receive', 'admit', 'route', 'invoke', 'respond'] as const;
export type Stage = (typeof STAGES)[number];

/** An endpoint of the running configuration. */
export interface EndpointInfo {
  name: string;
  endpoint_type: EndpointType;
  model: { name: string | null; provider: string };
  /** MLflow's `limit` block as written (listed by the endpoint APIs); enforced by a limiter plugin. */
  limit: { calls: number; key: string | null; renewal_period: string; [extra: string]: unknown } | null;
  /** Default request parameters from `model.config` (e.g. `temperature`); a request's own value wins. */
  defaults: Readonly<Record<string, unknown>>;
  /** Every plugin-owned key of this endpoint, validated by its owner's schema (e.g. `limit`). */
  slices: Readonly<Record<string, unknown>>;
}

/** A traffic route of the running configuration. */
export interface RouteInfo {
  name: string;
  task_type: EndpointType;
  destinations: Array<{ name: string; traffic_percentage?: number; [extra: string]: unknown }>;
  routing_strategy: string;
  /** Every plugin-owned key of this route (`limit`, `retries`, ...), validated by its owner's schema. */
  slices: Readonly<Record<string, unknown>>;
}

/** Who is calling, as the installed guard established it (e.g. a gateway key's name). Never a secret. */
export interface Caller {
  /** A stable, printable name (logs, metrics labels, bucket keys). */
  name: string;
  /** Scopes such as `admin`. */
  scopes: readonly string[];
  /** Anything else the guard wants later stages to see (e.g. a per-caller `limit`). */
  attributes?: Readonly<Record<string, unknown>>;
  /** Whether this caller may call an endpoint or route by name (lists show only those); absent means everything. */
  may?(target: string): boolean;
}

/** A timestamped event on an invocation (tracing shows them; e.g. `rate_limited`, `retry`, `first_token`). */
export interface InvocationEvent { name: string; at: number; attributes?: Record<string, unknown> }

/** One try at the provider call. */
export interface Attempt {
  /** 1-based. */
  readonly n: number;
  readonly endpoint: EndpointInfo;
  /** Epoch ms when the attempt started. */
  readonly startedAt: number;
  /** Extra headers for this attempt's upstream request (e.g. a `traceparent` per attempt). Set them in `AttemptPolicy.before`. */
  readonly upstreamHeaders: Record<string, string>;
  /** Filled in as the attempt runs. */
  durationMs: number;
  /** Time spent waiting on the upstream (headers and body), as the kernel's HTTP client measured it. */
  upstreamMs: number;
  /** The upstream's HTTP status when one answered. */
  upstreamStatus: number | null;
  error: GatewayError | null;
}

/** What the kernel does after a failed attempt. */
export type AttemptDecision =
  | { action: 'retry'; delayMs?: number }
  | { action: 'next'; delayMs?: number }
  | { action: 'fail'; error?: GatewayError };

/**
 * Joins the kernel's attempt loop (the `invoke` stage). Policies run in plugin order.
 * @example
 * ctx.attempts({
 *   before(inv, a) { if (breakerOpen(a.endpoint.name)) throw new GatewayError('GW_ERR_UPSTREAM_UNAVAILABLE', 'open'); },
 *   failed(inv, a, err) { return a.n < 3 ? { action: 'retry', delayMs: 100 } : { action: 'next' }; },
 *   succeeded(inv, a) { breakerClose(a.endpoint.name); },
 * });
 */
export interface AttemptPolicy {
  /** Before an attempt: throw a GatewayError to fail it without calling the provider (e.g. a destination's limit). */
  before?(inv: Invocation, attempt: Attempt): void | Promise<void>;
  /**
   * After a failed attempt (for streams: a failure before the first chunk). The first policy
   * that returns a decision wins; with none, the call fails with the attempt's error.
   */
  failed?(inv: Invocation, attempt: Attempt, error: GatewayError): AttemptDecision | undefined | void | Promise<AttemptDecision | undefined | void>;
  /** After a successful attempt (for streams: once its first chunk arrived). */
  succeeded?(inv: Invocation, attempt: Attempt): void;
}

/** One call through the pipeline. Stage middleware reads and extends it. */
export interface Invocation {
  /** The request id (`x-request-id`, honoured when the caller sent a valid one). */
  readonly id: string;
  /** The surface that was called, e.g. `mlflow` or `openai`. */
  readonly surface: string;
  /** The request path that reached the gateway. */
  readonly path: string;
  /** The endpoint or route name the caller asked for. */
  readonly target: string;
  readonly type: EndpointType;
  /** Request headers, lower-case names, read-only. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Set a response header; the kernel applies it to the JSON answer, the stream or the error alike. */
  setHeader(name: string, value: string): void;
  /** Record an event (tracing shows it). During an attempt the kernel adds `attempt: n` unless given, so it lands on that attempt's span. */
  event(name: string, attributes?: Record<string, unknown>): void;
  /** Whether the caller asked for a stream; set by the kernel's `receive` step. */
  stream: boolean;
  readonly client: { ip: string };
  /** Who is calling, if a guard established it. */
  readonly caller: Caller | null;
  readonly signal: AbortSignal;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Set when `target` names a traffic route. */
  readonly route: RouteInfo | null;
  /** The endpoint the call went to: the target itself, or the destination of the attempt that served it. */
  endpoint: EndpointInfo | null;
  /** The endpoints to try in order; the kernel's `route` step sets `[endpoint]` unless a plugin set them. */
  candidates: EndpointInfo[];
  /** Every attempt so far. */
  readonly attempts: Attempt[];
  /** Events so far. */
  readonly events: InvocationEvent[];
  /** The request body; read and validated (defaults applied) by the kernel's `receive` step. Empty before it. */
  body: Record<string, unknown>;
  /** Set by the `invoke` stage: a response, or the chunks of a stream (primed: its first chunk has arrived). */
  result: UnifiedResponse | AsyncIterable<UnifiedChunk> | null;
  /** Free-form state shared between plugins, keyed by plugin name. */
  readonly state: Map<string, unknown>;
}

export type StageMiddleware = (inv: Invocation, next: () => Promise<void>) => Promise<void>;

/**
 * How a request ended, as the client saw it. Observers get it once per HTTP request, for
 * every route, including requests that failed before the pipeline (404, invalid JSON, 413).
 */
export interface RequestOutcome {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  /** The matched route pattern (e.g. `/endpoints/:name/invocations`), or null when none matched. */
  readonly route: string | null;
  /** The surface whose shapes the answer used. */
  readonly surface: string | null;
  /** The status that actually went out (after surface mapping). */
  readonly status: number;
  /** The error code when the answer was an error (also for a stream that ended with an error event). */
  readonly code: string | null;
  readonly message: string | null;
  /** Epoch ms when the request arrived. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** Time to the first byte of the body (streams: of the first chunk). */
  readonly ttfbMs: number | null;
  /** Time waiting on upstreams, summed over attempts. */
  readonly upstreamMs: number;
  readonly stream: boolean;
  readonly chunks: number;
  readonly bytes: number;
  /** The client went away before the answer was complete. */
  readonly aborted: boolean;
  readonly client: { ip: string };
  readonly caller: Caller | null;
  /** Token usage: the response's, or summed from stream chunks. */
  readonly usage: Usage | null;
  /** The pipeline's invocation, or null when the request never reached it. */
  readonly invocation: Invocation | null;
}

/**
 * Watches every request. Observers run inside the kernel's writer loop: no extra async hop per
 * chunk, whatever the number of observers. They must not throw (errors are logged and ignored)
 * and should not block.
 * @example
 * ctx.observe({ finish(o) { counter.inc({ status: String(o.status) }); } });
 */
export interface Observer {
  /** Each stream chunk, before it is written. */
  chunk?(inv: Invocation, chunk: UnifiedChunk): void;
  /** Each finished attempt. */
  attempt?(inv: Invocation, attempt: Attempt): void;
  /** Every request, once, after the answer ended (or the client left). */
  finish?(outcome: RequestOutcome): void;
}
