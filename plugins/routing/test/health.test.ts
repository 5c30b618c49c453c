import { describe, expect, it } from 'vitest';
import type { SharedState } from '@gatehouse/sdk';
import { Health, PROBE_LATCH_MS, resolvePolicy, type BreakerPolicy } from '../src/index.js';

/** SharedState as the sdk documents it (counters with expiry, atomic bounded add), in memory, on a fake clock. */
function memoryState(clock: { now(): number }): SharedState & { keys(): string[] } {
  const m = new Map<string, { v: number; exp: number }>();
  const read = (k: string) => { const e = m.get(k); return e && e.exp > clock.now() ? e.v : undefined; };
  const exp = (ttl?: number) => (ttl && ttl > 0 ? clock.now() + ttl : Infinity);
  return {
    async get(k) { return read(k); },
    async set(k, v, ttl) { m.set(k, { v, exp: exp(ttl) }); },
    async add(k, d, ttl) { const v = (read(k) ?? 0) + d; m.set(k, { v, exp: exp(ttl) }); return v; },
    async addBounded(k, o) {
      const v = Math.max(read(k) ?? o.floor, o.floor) + o.delta;
      if (v > o.ceiling) return { ok: false, value: v };
      m.set(k, { v, exp: exp(o.ttlMs) });
      return { ok: true, value: v };
    },
    async delete(k) { m.delete(k); },
    keys: () => [...m.keys()].filter((k) => read(k) !== undefined),
  };
}

function setup(breaker: Partial<BreakerPolicy> = {}) {
  let t = 1_000_000;
  const clock = { now: () => t };
  const shared = memoryState(clock);
  const health = new Health(shared, clock);
  const b = resolvePolicy({ routing_strategy: 'FALLBACK', slices: { breaker: { consecutive_failures: 3, cooldown_ms: 10_000, ...breaker } } }).breaker!;
  return { health, shared, b, advance: (ms: number) => { t += ms; }, now: () => t };
}

describe('cool-downs', () => {
  it('a destination cools down for the time given, then is back', async () => {
    const { health, advance, now } = setup();
    expect(await health.availability('a')).toEqual({ state: 'ok' });
    const until = await health.coolDown('a', 5000);
    expect(until).toBe(now() + 5000);
    expect(await health.availability('a')).toEqual({ state: 'cooling', until });
    expect(await health.availability('b')).toEqual({ state: 'ok' });
    advance(4999);
    expect((await health.availability('a')).state).toBe('cooling');
    advance(1);
    expect(await health.availability('a')).toEqual({ state: 'ok' });
  });

  it('a shorter cool-down never cuts a longer one short', async () => {
    const { health, now } = setup();
    const until = await health.coolDown('a', 30_000);
    expect(await health.coolDown('a', 1000)).toBe(until);
    expect(await health.availability('a')).toEqual({ state: 'cooling', until });
    expect(until).toBe(now() + 30_000);
  });
});

describe('circuit breaker', () => {
  it('closed → open after N failures in a row → half-open after its cool-down → closed on a successful probe', async () => {
    const { health, b, advance, now } = setup();
    expect((await health.recordFailure('a', b, false)).opened).toBeNull();
    expect((await health.recordFailure('a', b, false)).opened).toBeNull();
    const third = await health.recordFailure('a', b, false);
    expect(third.opened).toEqual({ reason: 'consecutive_failures', failures: 3, until: now() + 10_000 });
    expect(await health.availability('a')).toEqual({ state: 'open', until: now() + 10_000 });
    // a fourth failure (a call that was already in flight) does not re-open or extend it
    expect((await health.recordFailure('a', b, false)).opened).toBeNull();
    advance(10_000);
    expect(await health.availability('a')).toEqual({ state: 'half_open' });
    // exactly one probe
    expect(await health.acquireProbe('a')).toBe(true);
    expect(await health.acquireProbe('a')).toBe(false);
    expect(await health.recordSuccess('a', b, true)).toBe(true);
    expect(await health.availability('a')).toEqual({ state: 'ok' });
    // the streak starts over
    expect((await health.recordFailure('a', b, false)).opened).toBeNull();
  });

  it('a success in between resets the streak', async () => {
    const { health, b } = setup();
    await health.recordFailure('a', b, false);
    await health.recordFailure('a', b, false);
    await health.recordSuccess('a', b, false);
    await health.recordFailure('a', b, false);
    expect((await health.recordFailure('a', b, false)).opened).toBeNull();
    expect((await health.availability('a')).state).toBe('ok');
  });

  it('a failed probe re-opens it for another cool-down and frees the latch', async () => {
    const { health, b, advance, now } = setup();
    for (let i = 0; i < 3; i++) await health.recordFailure('a', b, false);
    advance(10_000);
    expect(await health.acquireProbe('a')).toBe(true);
    const r = await health.recordFailure('a', b, true);
    expect(r.opened).toEqual({ reason: 'probe_failed', failures: 4, until: now() + 10_000 });
    expect((await health.availability('a')).state).toBe('open');
    advance(10_000);
    expect(await health.acquireProbe('a')).toBe(true);
  });

  it('a probe that never reports frees the latch after PROBE_LATCH_MS', async () => {
    const { health, b, advance } = setup();
    for (let i = 0; i < 3; i++) await health.recordFailure('a', b, false);
    advance(10_000);
    expect(await health.acquireProbe('a')).toBe(true);
    advance(PROBE_LATCH_MS - 1);
    expect(await health.acquireProbe('a')).toBe(false);
    advance(1);
    expect(await health.acquireProbe('a')).toBe(true);
  });

  it('opens on the error ratio over the window once it has enough calls', async () => {
    const { health, b, advance } = setup({ consecutive_failures: 0, error_ratio: 0.5, window_ms: 10_000, min_calls: 4 });
    await health.recordSuccess('a', b, false);
    expect((await health.recordFailure('a', b, false)).opened).toBeNull(); // 1 of 2, below min_calls
    await health.recordSuccess('a', b, false);
    expect((await health.recordFailure('a', b, false)).opened).toEqual(expect.objectContaining({ reason: 'error_ratio' })); // 2 of 4
    // an old window weighs less as it slides out
    const s2 = setup({ consecutive_failures: 0, error_ratio: 0.5, window_ms: 10_000, min_calls: 4 });
    for (let i = 0; i < 3; i++) await s2.health.recordFailure('a', s2.b, false);
    s2.advance(25_000); // two windows later: nothing left
    for (let i = 0; i < 3; i++) await s2.health.recordSuccess('a', s2.b, false);
    expect((await s2.health.recordFailure('a', s2.b, false)).opened).toBeNull(); // 1 of 4
  });

  it('keeps its state under routing: keys', async () => {
    const { health, shared, b } = setup();
    await health.coolDown('chat.1', 1000);
    for (let i = 0; i < 3; i++) await health.recordFailure('chat.1', b, false);
    expect(shared.keys().sort()).toEqual(['routing:cool:chat.1', 'routing:fails:chat.1', 'routing:open:chat.1']);
  });
});
