/**
 * Pure decisions: the weighted draw, the candidate list of a call, the backoff delay and what to
 * do after a failed attempt. No I/O, no clock, no randomness of their own: the caller passes them.
 */
import { statusMatches, type RoutePolicy } from './config.js';

/**
 * A weighted draw: `r` in [0, 1) scaled to the sum of the weights, then the first destination
 * whose cumulative weight exceeds it. With weights summing to 100 a destination of weight w is
 * drawn for exactly w% of the interval, e.g. 80/20: r < 0.8 → the first, r ≥ 0.8 → the second.
 * Weights ≤ 0 are never drawn. Returns -1 when no weight is positive.
 */
export function weightedIndex(weights: readonly number[], r: number): number {
  let total = 0;
  for (const w of weights) if (w > 0) total += w;
  if (total <= 0) return -1;
  const x = Math.min(Math.max(r, 0), 1) * total;
  let cum = 0;
  let lastPositive = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w <= 0) continue;
    cum += w;
    lastPositive = i;
    if (x < cum) return i;
  }
  return lastPositive; // r = 1 or float rounding at the very top
}

/** What the planner knows about a destination when the call starts. */
export type Availability =
  | { state: 'ok' }
  | { state: 'half_open' }
  | { state: 'cooling' | 'open'; until: number };

export interface Plan {
  /** Destination names, in the order to try them. */
  candidates: string[];
  /** The destination the weighted draw picked (TRAFFIC_SPLIT), if any. */
  drawn: string | null;
}

/**
 * The candidates of one call. Destinations that are cooling down or whose breaker is open are
 * skipped; a half-open one stays in (its attempt must win the single probe).
 * - TRAFFIC_SPLIT: one weighted draw over the available destinations (`random()` is called exactly
 *   once); with `fallback`, the other available destinations follow in config order.
 * - FALLBACK: the available destinations in config order.
 */
export function planCandidates(
  destinations: ReadonlyArray<{ name: string; traffic_percentage?: number }>,
  policy: Pick<RoutePolicy, 'strategy' | 'fallback'>,
  availability: (name: string) => Availability,
  random: () => number,
): Plan {
  const seen = new Set<string>();
  const unique = destinations.filter((d) => (seen.has(d.name) ? false : (seen.add(d.name), true)));
  const usable = (name: string) => availability(name).state === 'ok' || availability(name).state === 'half_open';
  if (policy.strategy === 'FALLBACK') return { candidates: unique.filter((d) => usable(d.name)).map((d) => d.name), drawn: null };

  // Weights by name (a name listed twice in a split adds up, as in MLflow).
  const weight = new Map<string, number>();
  for (const d of destinations) weight.set(d.name, (weight.get(d.name) ?? 0) + (d.traffic_percentage ?? 0));
  const open = unique.filter((d) => usable(d.name));
  const r = random();
  const i = weightedIndex(open.map((d) => weight.get(d.name)!), r);
  const drawn = i >= 0 ? open[i]!.name : null;
  if (!policy.fallback) return { candidates: drawn ? [drawn] : [], drawn };
  const rest = open.map((d) => d.name).filter((n) => n !== drawn);
  return { candidates: drawn ? [drawn, ...rest] : rest, drawn };
}

/** Exponential backoff with full jitter: retry k (1-based) waits `random() * min(max, base * 2^(k-1))`, floored to whole ms. */
export function backoffDelay(retry: number, base: number, max: number, r: number): number {
  const cap = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.floor(Math.max(0, Math.min(r, 1)) * cap);
}

/** The codes this plugin throws itself. */
export const CODES = {
  unavailable: 'GW_ERR_ROUTE_UNAVAILABLE',
  skipped: 'GW_ERR_ROUTE_DESTINATION_SKIPPED',
} as const;

export interface FailureFacts {
  code: string;
  status: number;
  /** The destination just became (or was found) unavailable: cooled down, breaker opened, or skipped. */
  unavailable: boolean;
  /** How many attempts this destination has had in this call, the failed one included. */
  triesHere: number;
  /** Time since the call started. */
  elapsedMs: number;
  /** Whether a candidate follows the current one. */
  hasNext: boolean;
}

export type Verdict =
  | { action: 'retry'; delayMs: number }
  | { action: 'next' }
  /** Every candidate is used up by failures the route falls back on: answer 503 naming the route. */
  | { action: 'exhausted' }
  /** Not ours to handle: the call fails with the attempt's own error. */
  | { action: 'pass' };

/**
 * What to do after a failed attempt of a route call:
 * 1. a destination skipped at its attempt (cooling, breaker open, probe taken) → the next one;
 * 2. a retryable status, on a destination still available, with retries left and time left → retry after a jittered delay
 *    (never for the gateway's own 429 from a destination's `limit`: that is no upstream trouble);
 * 3. a status the route falls back on → the next candidate, or `exhausted` when none is left;
 * 4. anything else (a 400, a 422, ...) → the attempt's own error.
 */
export function decideAfterFailure(policy: Pick<RoutePolicy, 'fallback' | 'fallback_on' | 'retries'>, f: FailureFacts, random: () => number): Verdict {
  if (f.code === CODES.skipped) return f.hasNext ? { action: 'next' } : { action: 'exhausted' };
  const r = policy.retries;
  const retryable = !f.unavailable && f.code !== 'GW_ERR_RATE_LIMITED' && !f.code.startsWith('GW_ERR_ROUTE_') && statusMatches(r.on, f.status);
  if (retryable && f.triesHere <= r.attempts) {
    const delayMs = backoffDelay(f.triesHere, r.backoff_ms, r.max_backoff_ms, random());
    if (f.elapsedMs + delayMs <= r.max_total_ms) return { action: 'retry', delayMs };
  }
  if (!policy.fallback || !statusMatches(policy.fallback_on, f.status)) return { action: 'pass' };
  return f.hasNext ? { action: 'next' } : { action: 'exhausted' };
}

/** Whether a failure counts against a destination's breaker: the upstream failed (5xx, unreachable, timed out, answered garbage). */
export function countsForBreaker(code: string, status: number): boolean {
  return code.startsWith('GW_ERR_UPSTREAM_') && status >= 500;
}

/** The cool-down an upstream's answer asks for: its `Retry-After` on a 429/503 (capped), else the configured default for those statuses. */
export function cooldownFor(upstream: { status: number; retryAfterMs: number | null } | undefined, cfg: { default_ms: number; max_ms: number }): number {
  if (!upstream || (upstream.status !== 429 && upstream.status !== 503) || cfg.max_ms <= 0) return 0;
  const want = upstream.retryAfterMs ?? cfg.default_ms;
  return Math.max(0, Math.min(want, cfg.max_ms));
}
