/** The Lua bounded add against a real redis-server: same decisions as the in-memory store, exact under concurrency. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { silentLogger } from '@gatehouse/sdk/testing';
import { adjust, peek, take } from '../src/bucket.js';
import { compileLimit } from '../src/limit.js';
import { createRedisClient, memoryStore, redisStore, whenReady } from '../src/stores.js';
import { fakeShared, ManualClock } from './fakes.js';
import { hasRedis, startRedis, type RedisServer } from '../../../test/helpers/redis-server.js';

describe.skipIf(!hasRedis)('Redis store (real redis-server)', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const client = async (uri: string, password?: string) => {
    const c = createRedisClient({ uri, password, timeoutMs: 5000, keyPrefix: 't:', logger: silentLogger });
    clients.push(c);
    expect(await whenReady(c, 5000)).toBe(true);
    return c;
  };

  beforeAll(async () => { server = await startRedis({ password: 'redis-test-pass' }); });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  it('decides exactly as the in-memory store, step by step (fractional rates, costs, overdraw, refunds)', async () => {
    const clock = new ManualClock();
    const mem = memoryStore(fakeShared(clock));
    const red = redisStore(await client(server.url, 'redis-test-pass'), `eq:${Date.now()}:`);
    const calls = compileLimit({ calls: 7, renewal_period: '5 minutes', burst: 3 })!.calls!.rate;
    const tokens = compileLimit({ calls: 1, renewal_period: 'minute', tokens: 1000 })!.tokens!.rate;
    const steps: Array<[number, 'c' | 't' | 'a', number]> = [
      [0, 'c', 1], [0, 'c', 1], [0, 'c', 1], [0, 'c', 1], [42_857, 'c', 1], [1, 'c', 1], [500_000, 'c', 1],
      [0, 't', 600], [0, 't', 500], [0, 'a', 900], [30_000, 't', 1], [60_000, 't', 1], [0, 'a', -300], [0, 't', 2000],
    ];
    for (const [dt, kind, n] of steps) {
      clock.advance(dt);
      if (kind === 'a') {
        await adjust(mem, 'tk', tokens, clock.now(), n);
        await adjust(red, 'tk', tokens, clock.now(), n);
        expect(await peek(red, 'tk', tokens, clock.now())).toEqual(await peek(mem, 'tk', tokens, clock.now()));
        continue;
      }
      const [key, rate] = kind === 'c' ? ['ck', calls] : ['tk', tokens];
      const m = await take(mem, key, rate, clock.now(), n);
      const r = await take(red, key, rate, clock.now(), n);
      expect(r).toEqual(m);
    }
  });

  it('200 concurrent takes from two clients against 20 per day: exactly 20 admitted', async () => {
    const a = redisStore(await client(server.url, 'redis-test-pass'), 'conc:');
    const b = redisStore(await client(server.url, 'redis-test-pass'), 'conc:');
    const rate = compileLimit({ calls: 20, renewal_period: 'day' })!.calls!.rate;
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => take(i % 2 ? a : b, 'day', rate, now)));
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(results.filter((r) => !r.ok).every((r) => r.retryAfterMs > 0)).toBe(true);
  });

  it('keys expire in Redis once the bucket would be full anyway', async () => {
    const c = await client(server.url, 'redis-test-pass');
    const s = redisStore(c, 'ttl:');
    const rate = compileLimit({ calls: 10, renewal_period: 'minute' })!.calls!.rate;
    await take(s, 'k', rate, Date.now());
    const ttl = await c.pttl('ttl:k');
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
  });

  it('a slow server fails the operation after timeout_ms (the fail mode decides)', async () => {
    const admin = await client(server.url, 'redis-test-pass');
    const slowSide = createRedisClient({ uri: server.url, password: 'redis-test-pass', timeoutMs: 200, keyPrefix: 't:', logger: silentLogger });
    clients.push(slowSide);
    expect(await whenReady(slowSide, 5000)).toBe(true);
    const rate = compileLimit({ calls: 5, renewal_period: 'minute' })!.calls!.rate;
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
    const t0 = Date.now();
    await expect(take(redisStore(slowSide, 'slow:'), 'k', rate, Date.now())).rejects.toThrow(/timed out/i);
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('a server that dies and is back before the first reconnect attempt is still seen down, then connected again', async () => {
    // Its own server: killing the shared one would disturb the other tests.
    const own = await startRedis();
    const lines: string[] = [];
    const states: boolean[] = [];
    const log = (level: string) => (msg: string) => { lines.push(`${level}: ${msg}`); };
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
    const c = createRedisClient({ uri: own.url, timeoutMs: 500, keyPrefix: 'r:', logger, onState: (up) => states.push(up) });
    clients.push(c);
    try {
      expect(await whenReady(c, 5000)).toBe(true);
      await own.kill();
      await own.restart(); // usually back before ioredis's first retry (100 ms): no 'error' is ever emitted
      await vi.waitFor(() => expect(c.status).toBe('ready'), { timeout: 10_000, interval: 20 });
      expect(states[0]).toBe(true);
      expect(states).toContain(false);
      expect(states.at(-1)).toBe(true);
      expect(lines.filter((l) => l.startsWith('info: rate-limit: connected to Redis'))).toHaveLength(2);
      expect(lines.filter((l) => l.startsWith('warn: rate-limit: lost the connection to Redis'))).toHaveLength(1);
      // A deliberate quit (shutdown, reload) is no lost connection.
      await c.quit();
      await vi.waitFor(() => expect(c.status).toBe('end'), { timeout: 5000, interval: 10 });
      await new Promise((r) => setImmediate(r));
      expect(lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);
      expect(states.at(-1)).toBe(false);
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  it('a wrong password and an unreachable server fail the operation (the fail mode decides), never hang', async () => {
    const bad = createRedisClient({ uri: server.url, password: 'wrong', timeoutMs: 200, keyPrefix: 'x:', logger: silentLogger });
    clients.push(bad);
    expect(await whenReady(bad, 1000)).toBe(false);
    await expect(take(redisStore(bad, 'x:'), 'k', compileLimit({ calls: 1, renewal_period: 'minute' })!.calls!.rate, Date.now())).rejects.toThrow();
    const nowhere = createRedisClient({ uri: 'redis://127.0.0.1:1', timeoutMs: 200, keyPrefix: 'x:', logger: silentLogger });
    clients.push(nowhere);
    await expect(take(redisStore(nowhere, 'x:'), 'k', compileLimit({ calls: 1, renewal_period: 'minute' })!.calls!.rate, Date.now())).rejects.toThrow();
  });
});
