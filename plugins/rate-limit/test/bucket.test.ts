import { describe, expect, it } from 'vitest';
import { adjust, peek, take } from '../src/bucket.js';
import { compileLimit, limitProblems, parsePeriod, PARSE_MESSAGE } from '../src/limit.js';
import { memoryStore } from '../src/stores.js';
import { fakeShared, ManualClock } from './fakes.js';

const setup = (limit: Parameters<typeof compileLimit>[0]) => {
  const clock = new ManualClock();
  const store = memoryStore(fakeShared(clock));
  const c = compileLimit(limit)!;
  return { clock, store, rate: c.calls!.rate, c, hit: (cost = 1) => take(store, 'k', c.calls!.rate, clock.now(), cost) };
};

describe('renewal_period: MLflow parse rules', () => {
  it('accepts granularities, plurals, case and multiples', () => {
    expect(parsePeriod(30, 'minute')).toEqual({ calls: 30, multiple: 1, granularity: 'minute', periodMs: 60_000 });
    expect(parsePeriod(3, '5 minutes')).toMatchObject({ multiple: 5, periodMs: 300_000 });
    expect(parsePeriod(1, ' 2  Hours ')).toMatchObject({ multiple: 2, granularity: 'hour', periodMs: 7_200_000 });
    for (const g of ['second', 'seconds', 'day', 'days', 'month', 'year', 'YEARS']) expect(parsePeriod(1, g)).not.toBeNull();
    expect(parsePeriod(0, 'minute')).toMatchObject({ calls: 0 });
  });
  it('refuses what MLflow refuses, with its message', () => {
    for (const p of ['fortnight', '5', 'minute!', '1.5 minutes', '', '0 minutes']) expect(parsePeriod(1, p)).toBeNull();
    expect(parsePeriod(-1, 'minute')).toBeNull();
    expect(limitProblems({ calls: -1, renewal_period: 'minute' })).toEqual([{ path: [], message: PARSE_MESSAGE }]);
    expect(limitProblems({ calls: 10, renewal_period: 'fortnight' })[0]!.message).toBe(PARSE_MESSAGE);
    expect(PARSE_MESSAGE).toBe('Failed to parse the rate limit configuration.Please make sure limit.calls is a positive number andlimit.renewal_period is a right granularity');
  });
  it('checks key, burst and tokens', () => {
    expect(limitProblems({ calls: 1, renewal_period: 'minute', key: 'user' })[0]).toMatchObject({ path: ['key'] });
    for (const key of [null, 'ip', 'endpoint', 'caller', 'header:X-User-Id']) expect(limitProblems({ calls: 1, renewal_period: 'minute', key })).toEqual([]);
    expect(limitProblems({ calls: 1, renewal_period: 'minute', burst: 0 })[0]).toMatchObject({ path: ['burst'] });
    expect(limitProblems({ calls: 1, renewal_period: 'minute', tokens: 0 })[0]).toMatchObject({ path: ['tokens'] });
    expect(limitProblems({ renewal_period: 'minute', tokens: 100 }, { callsRequired: false })).toEqual([]);
  });
  it('fingerprints change with the limit and only with it', () => {
    const a = compileLimit({ calls: 30, renewal_period: 'minute' })!;
    expect(compileLimit({ calls: 30, renewal_period: 'minutes' })!.calls!.fingerprint).toBe(a.calls!.fingerprint);
    expect(compileLimit({ calls: 30, renewal_period: 'minute', tokens: 5 })!.calls!.fingerprint).toBe(a.calls!.fingerprint);
    expect(compileLimit({ calls: 31, renewal_period: 'minute' })!.calls!.fingerprint).not.toBe(a.calls!.fingerprint);
    expect(compileLimit({ calls: 30, renewal_period: 'minute', burst: 5 })!.calls!.fingerprint).not.toBe(a.calls!.fingerprint);
    expect(compileLimit({ calls: 30, renewal_period: 'minute', key: 'endpoint' })!.calls!.fingerprint).not.toBe(a.calls!.fingerprint);
  });
});

describe('token bucket (GCRA) with an injected clock', () => {
  it('starts full, refuses when empty, refills continuously, never above capacity', async () => {
    const { clock, hit } = setup({ calls: 3, renewal_period: 'minute' });
    expect((await hit()).remaining).toBe(2);
    expect((await hit()).remaining).toBe(1);
    const third = await hit();
    expect(third).toMatchObject({ ok: true, remaining: 0 });
    expect(third.resetMs).toBe(60_000);
    const refused = await hit();
    expect(refused).toMatchObject({ ok: false, remaining: 0, retryAfterMs: 20_000 });
    clock.advance(19_999);
    expect((await hit()).ok).toBe(false);
    clock.advance(1);
    expect(await hit()).toMatchObject({ ok: true, remaining: 0 });
    clock.advance(10 * 60_000); // a long pause fills it, but only to capacity
    const after = [];
    for (let i = 0; i < 5; i++) after.push((await hit()).ok);
    expect(after).toEqual([true, true, true, false, false]);
  });

  it('burst sets the capacity; calls the refill rate (seed 003: 100 per hour, burst 10)', async () => {
    const { clock, hit } = setup({ calls: 100, renewal_period: 'hour', burst: 10 });
    let ok = 0;
    for (let i = 0; i < 15; i++) if ((await hit()).ok) ok++;
    expect(ok).toBe(10);
    const r = await hit();
    expect(r.retryAfterMs).toBe(36_000);
    clock.advance(36_000);
    expect((await hit()).ok).toBe(true);
    expect((await hit()).ok).toBe(false);
  });

  it('fractional intervals: 7 per 5 minutes admits exactly on the boundary, and counts right over an hour', async () => {
    const { clock, hit } = setup({ calls: 7, renewal_period: '5 minutes' });
    const T = 300_000 / 7;
    for (let i = 0; i < 7; i++) expect((await hit()).ok).toBe(true);
    const refused = await hit();
    expect(refused.ok).toBe(false);
    expect(Math.abs(refused.retryAfterMs - T)).toBeLessThan(0.01); // epoch-ms floats: ~2e-4 ms resolution
    clock.advance(Math.floor(T)); // 42857 ms < T
    expect((await hit()).ok).toBe(false);
    clock.advance(1); // 42858 ms > T
    expect((await hit()).ok).toBe(true);

    const long = setup({ calls: 7, renewal_period: '5 minutes' });
    let admitted = 0;
    for (let t = 0; t < 3_590_000; t += 1000) { if ((await long.hit()).ok) admitted++; long.clock.advance(1000); }
    // 7 at the start, then one per T: floor(3,589,000 / T) more.
    expect(admitted).toBe(7 + Math.floor(3_589_000 / T));
  });

  it('high rates stay exact: 10,000 per second admits 10,000 at once, then 10 per millisecond', async () => {
    const { clock, hit } = setup({ calls: 10_000, renewal_period: 'second' });
    let ok = 0;
    for (let i = 0; i < 10_050; i++) if ((await hit()).ok) ok++;
    expect(ok).toBe(10_000);
    clock.advance(1);
    ok = 0;
    for (let i = 0; i < 20; i++) if ((await hit()).ok) ok++;
    expect(ok).toBe(10);
  });

  it('calls: 0 refuses everything, with no retry time', async () => {
    const { hit, c } = setup({ calls: 0, renewal_period: 'minute' });
    expect(c.calls!.rate).toEqual({ capacity: 0, intervalMs: null });
    const r = await hit();
    expect(r.ok).toBe(false);
    expect(r.retryAfterMs).toBe(Infinity);
    expect(c.calls!.message).toBe('Rate limit exceeded: 0 per 1 minute');
  });

  it('costs above one unit (tokens), a cost that never fits, and debits that overdraw', async () => {
    const clock = new ManualClock();
    const store = memoryStore(fakeShared(clock));
    const c = compileLimit({ calls: 10, renewal_period: 'minute', tokens: 1000 })!;
    const rate = c.tokens!.rate; // 1000 tokens a minute: 60 ms a token
    expect((await take(store, 't', rate, clock.now(), 600)).remaining).toBe(400);
    expect((await take(store, 't', rate, clock.now(), 2000)).retryAfterMs).toBe(Infinity);
    const short = await take(store, 't', rate, clock.now(), 500);
    expect(short).toMatchObject({ ok: false, retryAfterMs: 100 * 60 });
    // The answer used 900 more tokens than estimated: the bucket is overdrawn by 500.
    await adjust(store, 't', rate, clock.now(), 900);
    expect(await peek(store, 't', rate, clock.now())).toEqual({ remaining: 0, resetMs: 1500 * 60 });
    clock.advance(500 * 60);
    expect((await take(store, 't', rate, clock.now(), 1)).ok).toBe(false);
    clock.advance(60);
    expect((await take(store, 't', rate, clock.now(), 1)).ok).toBe(true);
    // A refund gives units back, but never above capacity.
    await adjust(store, 't', rate, clock.now(), -5000);
    expect((await peek(store, 't', rate, clock.now())).remaining).toBe(1000);
  });

  it('state expires once the bucket would be full anyway', async () => {
    const clock = new ManualClock();
    const shared = fakeShared(clock);
    const store = memoryStore(shared);
    const rate = compileLimit({ calls: 2, renewal_period: 'second' })!.calls!.rate;
    await take(store, 'x', rate, clock.now());
    expect(shared.values.size).toBe(1);
    clock.advance(2_000);
    expect(await shared.get('rate-limit:x')).toBeUndefined();
    expect(await peek(store, 'x', rate, clock.now())).toEqual({ remaining: 2, resetMs: 0 });
  });
});
