/**
 * Token buckets as GCRA (the generic cell rate algorithm): one number per bucket, the
 * "theoretical arrival time" (TAT) at which the bucket would be full again. A bucket of
 * capacity B refilled at one unit per T ms admits a cost of n units at time `now` when
 * `max(TAT, now) + n·T <= now + B·T`, and then stores the new TAT. That is exactly seed 003's
 * token bucket (full at start, continuous refill, never above capacity) in one atomic
 * "bounded add": the store primitive `addBounded(key, {floor: now, delta: n·T, ceiling: now + B·T})`.
 */
import type { Rate } from './limit.js';

/** The one primitive a store must make atomic (SharedState.addBounded's contract). */
export interface BoundedAdd { delta: number; floor: number; ceiling: number; ttlMs?: number }

export interface BucketStore {
  readonly kind: 'memory' | 'redis';
  /** `next = max(value ?? floor, floor) + delta`, stored when `next <= ceiling`. */
  addBounded(key: string, op: BoundedAdd): Promise<{ ok: boolean; value: number }>;
  get(key: string): Promise<number | undefined>;
}

/** JSON-safe stand-ins for ±∞ (the kernel relays SharedState ops between processes as JSON). */
export const NO_CEILING = Number.MAX_VALUE;
const NO_FLOOR = -Number.MAX_VALUE;

/**
 * TATs are stored as milliseconds since 2025-01-01, not since 1970: at ~3e10 one float ulp is
 * ~4e-6 ms (since 1970, ~2.4e-4 ms), so even 10,000 calls a second refill precisely.
 */
export const EPOCH_MS = Date.UTC(2025, 0, 1);

/** Float slack for the ceiling comparison: sums of fractional intervals can land a few ulps past an exact ceiling. */
const SLACK_MS = 0.001;

export interface Decision {
  ok: boolean;
  /** Whole units left after this decision (0 when refused). */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
  /** When refused: milliseconds until this cost would fit (Infinity: it never will). */
  retryAfterMs: number;
}

const remainingAt = (tat: number, now: number, rate: Rate & { intervalMs: number }): number =>
  Math.max(0, Math.floor((now + rate.capacity * rate.intervalMs - Math.max(tat, now) + SLACK_MS) / rate.intervalMs));

/** Take `cost` units (default 1) from a bucket, atomically in the store. */
export async function take(store: BucketStore, key: string, rate: Rate, clockNow: number, cost = 1): Promise<Decision> {
  const now = clockNow - EPOCH_MS;
  if (rate.intervalMs === null || rate.capacity <= 0) return { ok: false, remaining: 0, resetMs: 0, retryAfterMs: Infinity };
  const T = rate.intervalMs;
  const window = rate.capacity * T;
  if (cost > rate.capacity) {
    const tat = (await store.get(key)) ?? now;
    return { ok: false, remaining: remainingAt(tat, now, { ...rate, intervalMs: T }), resetMs: Math.max(0, tat - now), retryAfterMs: Infinity };
  }
  const r = await store.addBounded(key, { delta: cost * T, floor: now, ceiling: now + window + SLACK_MS, ttlMs: Math.ceil(window) + 1000 });
  if (r.ok) return { ok: true, remaining: remainingAt(r.value, now, { ...rate, intervalMs: T }), resetMs: Math.max(0, r.value - now), retryAfterMs: 0 };
  const tatBefore = r.value - cost * T;
  return { ok: false, remaining: remainingAt(tatBefore, now, { ...rate, intervalMs: T }), resetMs: Math.max(0, tatBefore - now), retryAfterMs: Math.max(0, r.value - (now + window)) };
}

/**
 * Debit (positive) or refund (negative) units unconditionally: completion tokens known only
 * after the answer may overdraw a bucket, which then refuses until it has refilled.
 */
export async function adjust(store: BucketStore, key: string, rate: Rate, clockNow: number, units: number): Promise<void> {
  if (rate.intervalMs === null || units === 0) return;
  const now = clockNow - EPOCH_MS;
  const delta = units * rate.intervalMs;
  // An overdrawn TAT lies beyond now + capacity·T: keep the key alive until it is reached.
  const ttlMs = Math.ceil(rate.capacity * rate.intervalMs + Math.max(0, delta)) + 1000;
  // A refund may take the TAT below now: that only means "full" (reads take max(TAT, now)).
  const r = await store.addBounded(key, { delta, floor: units > 0 ? now : NO_FLOOR, ceiling: NO_CEILING, ttlMs });
  const needed = Math.ceil(r.value - now) + 1000;
  if (needed > ttlMs) await store.addBounded(key, { delta: 0, floor: NO_FLOOR, ceiling: NO_CEILING, ttlMs: needed });
}

/** The bucket's state without taking anything (the limits API). */
export async function peek(store: BucketStore, key: string, rate: Rate, clockNow: number): Promise<{ remaining: number; resetMs: number }> {
  const now = clockNow - EPOCH_MS;
  if (rate.intervalMs === null || rate.capacity <= 0) return { remaining: 0, resetMs: 0 };
  const tat = (await store.get(key)) ?? now;
  return { remaining: remainingAt(tat, now, { ...rate, intervalMs: rate.intervalMs }), resetMs: Math.max(0, tat - now) };
}
