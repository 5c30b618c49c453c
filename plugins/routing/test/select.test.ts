import { describe, expect, it } from 'vitest';
import {
  backoffDelay, cooldownFor, countsForBreaker, decideAfterFailure, planCandidates, weightedIndex, resolvePolicy, statusMatches,
  type RoutePolicy,
} from '../src/index.js';

const seq = (...xs: number[]) => { let i = 0; return () => xs[i++ % xs.length]!; };
const ok = () => ({ state: 'ok' as const });
const split = [{ name: 'chat1', traffic_percentage: 80 }, { name: 'chat2', traffic_percentage: 20 }];
const SPLIT: Pick<RoutePolicy, 'strategy' | 'fallback'> = { strategy: 'TRAFFIC_SPLIT', fallback: false };

describe('weightedIndex', () => {
  it('maps r in [0,1) onto cumulative percentages exactly', () => {
    expect(weightedIndex([80, 20], 0)).toBe(0);
    expect(weightedIndex([80, 20], 0.7999999)).toBe(0);
    expect(weightedIndex([80, 20], 0.8)).toBe(1);
    expect(weightedIndex([80, 20], 0.9999999)).toBe(1);
    expect(weightedIndex([50, 30, 20], 0.5)).toBe(1);
    expect(weightedIndex([50, 30, 20], 0.79)).toBe(1);
    expect(weightedIndex([50, 30, 20], 0.8)).toBe(2);
  });

  it('never draws a zero weight and reports no positive weight as -1', () => {
    expect(weightedIndex([0, 100, 0], 0)).toBe(1);
    expect(weightedIndex([0, 100, 0], 0.999)).toBe(1);
    expect(weightedIndex([100, 0], 0.9999)).toBe(0);
    expect(weightedIndex([0, 0], 0.5)).toBe(-1);
    expect(weightedIndex([], 0.5)).toBe(-1);
  });

  it('counts exactly over a grid of injected values: 80/20 gives 80 and 20 of 100', () => {
    const counts = [0, 0];
    for (let k = 0; k < 100; k++) counts[weightedIndex([80, 20], k / 100)]!++;
    expect(counts).toEqual([80, 20]);
    const three = [0, 0, 0];
    for (let k = 0; k < 1000; k++) three[weightedIndex([10, 60, 30], k / 1000)]!++;
    expect(three).toEqual([100, 600, 300]);
  });

  it('stays within ±2% of the configured shares over 10,000 draws with a real random source', () => {
    for (const weights of [[80, 20], [50, 30, 20], [1, 99], [34, 33, 33]]) {
      const counts = weights.map(() => 0);
      for (let k = 0; k < 10_000; k++) counts[weightedIndex(weights, Math.random())]!++;
      counts.forEach((c, i) => expect(Math.abs(c / 100 - weights[i]!)).toBeLessThanOrEqual(2));
    }
  });
});

describe('planCandidates', () => {
  it('TRAFFIC_SPLIT draws once and, like MLflow, tries only the drawn destination', () => {
    let calls = 0;
    const r = () => { calls++; return 0.85; };
    expect(planCandidates(split, SPLIT, ok, r)).toEqual({ candidates: ['chat2'], drawn: 'chat2' });
    expect(calls).toBe(1);
    expect(planCandidates(split, SPLIT, ok, () => 0.1).candidates).toEqual(['chat1']);
  });

  it('TRAFFIC_SPLIT with fallback: the drawn one, then the others in config order', () => {
    const dests = [{ name: 'a', traffic_percentage: 50 }, { name: 'b', traffic_percentage: 0 }, { name: 'c', traffic_percentage: 50 }];
    expect(planCandidates(dests, { strategy: 'TRAFFIC_SPLIT', fallback: true }, ok, () => 0.6).candidates).toEqual(['c', 'a', 'b']);
    expect(planCandidates(dests, { strategy: 'TRAFFIC_SPLIT', fallback: true }, ok, () => 0.1).candidates).toEqual(['a', 'b', 'c']);
  });

  it('skips cooling and open destinations and re-weighs the rest', () => {
    const avail = (n: string) => (n === 'chat1' ? { state: 'cooling' as const, until: 5 } : { state: 'ok' as const });
    expect(planCandidates(split, SPLIT, avail, () => 0.01).candidates).toEqual(['chat2']);
    const none = () => ({ state: 'open' as const, until: 5 });
    expect(planCandidates(split, SPLIT, none, () => 0.5)).toEqual({ candidates: [], drawn: null });
    // a zero-weight destination is a fallback reserve only: never drawn, even when the others are down
    const reserve = [{ name: 'a', traffic_percentage: 100 }, { name: 'b', traffic_percentage: 0 }];
    const aDown = (n: string) => (n === 'a' ? { state: 'open' as const, until: 5 } : { state: 'ok' as const });
    expect(planCandidates(reserve, SPLIT, aDown, () => 0.5).candidates).toEqual([]);
    expect(planCandidates(reserve, { strategy: 'TRAFFIC_SPLIT', fallback: true }, aDown, () => 0.5).candidates).toEqual(['b']);
  });

  it('FALLBACK keeps the config order, without a draw, and keeps half-open destinations in', () => {
    const dests = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    const avail = (n: string) => (n === 'a' ? { state: 'half_open' as const } : n === 'b' ? { state: 'cooling' as const, until: 9 } : { state: 'ok' as const });
    let calls = 0;
    expect(planCandidates(dests, { strategy: 'FALLBACK', fallback: true }, avail, () => { calls++; return 0; }).candidates).toEqual(['a', 'c']);
    expect(calls).toBe(0);
  });
});

describe('backoffDelay', () => {
  it('is full jitter over an exponential cap', () => {
    expect(backoffDelay(1, 100, 2000, 0.5)).toBe(50);
    expect(backoffDelay(2, 100, 2000, 0.5)).toBe(100);
    expect(backoffDelay(3, 100, 2000, 0.999)).toBe(399);
    expect(backoffDelay(10, 100, 2000, 0.5)).toBe(1000); // capped at max_backoff_ms
    expect(backoffDelay(4, 100, 2000, 0)).toBe(0);
  });
});

describe('decideAfterFailure', () => {
  const fallback = resolvePolicy({ routing_strategy: 'FALLBACK', slices: {} });
  const facts = { code: 'GW_ERR_UPSTREAM_STATUS', status: 503, unavailable: false, triesHere: 1, elapsedMs: 0, hasNext: true };

  it('FALLBACK: a 5xx, 429, connection failure or timeout moves to the next candidate; a 4xx does not', () => {
    expect(decideAfterFailure(fallback, facts, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(fallback, { ...facts, status: 429 }, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(fallback, { ...facts, code: 'GW_ERR_UPSTREAM_UNREACHABLE', status: 502 }, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(fallback, { ...facts, code: 'GW_ERR_UPSTREAM_TIMEOUT', status: 504 }, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(fallback, { ...facts, code: 'GW_ERR_RATE_LIMITED', status: 429 }, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(fallback, { ...facts, status: 400 }, seq(0))).toEqual({ action: 'pass' });
    expect(decideAfterFailure(fallback, { ...facts, code: 'GW_ERR_REQUEST_PARAM', status: 422 }, seq(0))).toEqual({ action: 'pass' });
    expect(decideAfterFailure(fallback, { ...facts, hasNext: false }, seq(0))).toEqual({ action: 'exhausted' });
  });

  it('uses the configured fallback_on list', () => {
    const p = resolvePolicy({ routing_strategy: 'FALLBACK', slices: { fallback_on: [503, '4xx'] } });
    expect(decideAfterFailure(p, { ...facts, status: 500 }, seq(0))).toEqual({ action: 'pass' });
    expect(decideAfterFailure(p, { ...facts, status: 404 }, seq(0))).toEqual({ action: 'next' });
  });

  it('TRAFFIC_SPLIT without fallback never moves on; with fallback it does', () => {
    const s = resolvePolicy({ routing_strategy: 'TRAFFIC_SPLIT', slices: {} });
    expect(decideAfterFailure(s, facts, seq(0))).toEqual({ action: 'pass' });
    const sf = resolvePolicy({ routing_strategy: 'TRAFFIC_SPLIT', slices: { fallback: true } });
    expect(decideAfterFailure(sf, facts, seq(0))).toEqual({ action: 'next' });
  });

  it('retries with jittered backoff, bounded by attempts and total time, then falls back', () => {
    const p = resolvePolicy({ routing_strategy: 'FALLBACK', slices: { retries: { attempts: 2, backoff_ms: 100, max_backoff_ms: 1000, max_total_ms: 500 } } });
    expect(decideAfterFailure(p, { ...facts, triesHere: 1 }, seq(0.5))).toEqual({ action: 'retry', delayMs: 50 });
    expect(decideAfterFailure(p, { ...facts, triesHere: 2 }, seq(0.5))).toEqual({ action: 'retry', delayMs: 100 });
    expect(decideAfterFailure(p, { ...facts, triesHere: 3 }, seq(0.5))).toEqual({ action: 'next' });
    // the delay would overrun max_total_ms
    expect(decideAfterFailure(p, { ...facts, triesHere: 2, elapsedMs: 450 }, seq(0.9))).toEqual({ action: 'next' });
    expect(decideAfterFailure(p, { ...facts, triesHere: 2, elapsedMs: 450 }, seq(0.1))).toEqual({ action: 'retry', delayMs: 20 });
    // not on a destination that just cooled down or opened its breaker, not on the gateway's own limit, not on a 4xx
    expect(decideAfterFailure(p, { ...facts, unavailable: true }, seq(0.5))).toEqual({ action: 'next' });
    expect(decideAfterFailure(p, { ...facts, code: 'GW_ERR_RATE_LIMITED', status: 429 }, seq(0.5))).toEqual({ action: 'next' });
    expect(decideAfterFailure(p, { ...facts, status: 400 }, seq(0.5))).toEqual({ action: 'pass' });
  });

  it('moves past a destination skipped at its attempt, or gives up when it was the last', () => {
    const s = resolvePolicy({ routing_strategy: 'TRAFFIC_SPLIT', slices: {} });
    expect(decideAfterFailure(s, { ...facts, code: 'GW_ERR_ROUTE_DESTINATION_SKIPPED', hasNext: true }, seq(0))).toEqual({ action: 'next' });
    expect(decideAfterFailure(s, { ...facts, code: 'GW_ERR_ROUTE_DESTINATION_SKIPPED', hasNext: false }, seq(0))).toEqual({ action: 'exhausted' });
  });
});

describe('small rules', () => {
  it('statusMatches knows statuses and classes', () => {
    expect(statusMatches([429, '5xx'], 429)).toBe(true);
    expect(statusMatches([429, '5xx'], 599)).toBe(true);
    expect(statusMatches([429, '5xx'], 404)).toBe(false);
    expect(statusMatches(['4xx'], 404)).toBe(true);
  });

  it('cooldownFor honours Retry-After on 429/503 only, capped, with a default', () => {
    const cfg = { default_ms: 0, max_ms: 60_000 };
    expect(cooldownFor({ status: 429, retryAfterMs: 5000 }, cfg)).toBe(5000);
    expect(cooldownFor({ status: 503, retryAfterMs: 86_400_000 }, cfg)).toBe(60_000);
    expect(cooldownFor({ status: 500, retryAfterMs: 5000 }, cfg)).toBe(0);
    expect(cooldownFor({ status: 429, retryAfterMs: null }, cfg)).toBe(0);
    expect(cooldownFor({ status: 429, retryAfterMs: null }, { default_ms: 1500, max_ms: 60_000 })).toBe(1500);
    expect(cooldownFor({ status: 429, retryAfterMs: 5000 }, { default_ms: 0, max_ms: 0 })).toBe(0);
    expect(cooldownFor(undefined, cfg)).toBe(0);
  });

  it('only upstream failures count against a breaker', () => {
    expect(countsForBreaker('GW_ERR_UPSTREAM_STATUS', 503)).toBe(true);
    expect(countsForBreaker('GW_ERR_UPSTREAM_UNREACHABLE', 502)).toBe(true);
    expect(countsForBreaker('GW_ERR_UPSTREAM_TIMEOUT', 504)).toBe(true);
    expect(countsForBreaker('GW_ERR_UPSTREAM_BAD_RESPONSE', 502)).toBe(true);
    expect(countsForBreaker('GW_ERR_UPSTREAM_STATUS', 429)).toBe(false);
    expect(countsForBreaker('GW_ERR_UPSTREAM_STATUS', 400)).toBe(false);
    expect(countsForBreaker('GW_ERR_RATE_LIMITED', 429)).toBe(false);
    expect(countsForBreaker('GW_ERR_CAPABILITY_UNSUPPORTED', 501)).toBe(false);
  });
});
