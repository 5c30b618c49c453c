/**
 * Two gateway processes (the built CLI) sharing a real redis-server (started here on a free
 * loopback port, no persistence, stopped by PID): 200 requests at once over both admit exactly
 * `calls`. Redis killed mid-run: fail_mode open admits (and warns), fail_mode closed answers
 * 503; neither process crashes, and both enforce again once Redis is back.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedis, startRedis, type RedisServer } from './helpers/redis-server.js';
import { call, freePort, REPO_ROOT, sleep, startCli, until, type Answer, type GatewayProcess } from './helpers/processes.js';

const built = existsSync(join(REPO_ROOT, 'core/dist/cli.js')) && existsSync(join(REPO_ROOT, 'plugins/rate-limit/dist/index.js'));
const runnable = built && hasRedis;
const MSG = { messages: [{ role: 'user', content: 'hello' }] };
const PASSWORD = 'rl-test-redis-pass-4f9d';

const endpoints = [
  { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 20, renewal_period: 'day' } },
  { name: 'small', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 2, renewal_period: 'day', key: 'endpoint' } },
  { name: 'later', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 1, renewal_period: 'day', key: 'endpoint' } },
];
const count = (rs: Answer[]) => rs.reduce<Record<number, number>>((m, r) => { m[r.status] = (m[r.status] ?? 0) + 1; return m; }, {});

describe.skipIf(!runnable && !process.env.CI)('two gateways sharing one Redis', () => {
  let redis: RedisServer;
  let open: GatewayProcess; // fail_mode: open (the default); the store URI from MLflow's variable
  let closed: GatewayProcess; // fail_mode: closed; the store URI from its config
  // A generous timeout_ms: a loaded CI machine must not turn slow answers into fail-mode
  // decisions here (a dead Redis fails at once: the client does not queue while disconnected).
  beforeAll(async () => {
    redis = await startRedis({ password: PASSWORD });
    const [p1, p2] = [await freePort(), await freePort()];
    [open, closed] = await Promise.all([
      startCli({ endpoints, 'rate-limit': { redis: { password: '$RL_REDIS_PASSWORD', key_prefix: 'gh-test:', timeout_ms: 5000 } } },
        { port: p1, env: { MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI: redis.url, RL_REDIS_PASSWORD: PASSWORD } }),
      startCli({ endpoints, 'rate-limit': { storage_uri: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`, fail_mode: 'closed', redis: { key_prefix: 'gh-test:', timeout_ms: 5000 } } },
        { port: p2 }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([open?.stop(), closed?.stop()]);
    await redis?.stop();
  });

  it('say at start-up where the buckets are, without the password', () => {
    const startup = (g: GatewayProcess) => g.logs().find((l) => String(l.msg).startsWith('rate-limit: buckets in Redis'))?.msg;
    expect(startup(open)).toBe(`rate-limit: buckets in Redis at redis://127.0.0.1:${redis.port} (from MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI), fail_mode open`);
    expect(startup(closed)).toBe(`rate-limit: buckets in Redis at redis://:***@127.0.0.1:${redis.port} (from rate-limit.storage_uri), fail_mode closed`);
    expect(open.out.text + closed.out.text).not.toContain(PASSWORD);
  });

  it('200 requests at once over both gateways against calls: 20 per day: exactly 20 admitted', async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => call('POST', `${(i % 2 ? open : closed).url}/endpoints/chat/invocations`, MSG)));
    expect(count(rs)).toEqual({ 200: 20, 429: 180 });
    // Each gateway alone would admit 20 from a bucket of its own: 20 in all proves the bucket is shared.
    // (Which gateway's requests reach Redis first is a race, so no split between them is asserted.)
    const state = await call('GET', `${open.url}/api/2.0/endpoints/limits/chat`);
    expect(state.json.limits[0].state).toMatchObject({ store: 'redis', remaining: 0 });
  });

  it('Redis killed mid-run: open admits, closed answers 503, nobody crashes; both enforce again once it is back', async () => {
    // A run of calls to both gateways, Redis killed in the middle of it.
    const during: Array<Promise<Answer>> = [];
    for (let i = 0; i < 60; i++) {
      if (i === 30) await redis.kill();
      during.push(call('POST', `${(i % 2 ? open : closed).url}/endpoints/small/invocations`, MSG));
      await sleep(2);
    }
    const rs = await Promise.all(during);
    expect(rs.every((r) => [200, 429, 503].includes(r.status))).toBe(true);

    // While it is down: open admits without limits (and without RateLimit headers)...
    const openDown = await Promise.all(Array.from({ length: 5 }, () => call('POST', `${open.url}/endpoints/later/invocations`, MSG)));
    expect(openDown.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(openDown[0]!.headers.ratelimit).toBeUndefined();
    // ...closed refuses with a 503 that says why, and a Retry-After.
    const closedDown = await call('POST', `${closed.url}/endpoints/later/invocations`, MSG);
    expect(closedDown.status).toBe(503);
    expect(closedDown.json).toEqual({ detail: 'The rate-limit store is unavailable, so limited calls are refused for now (fail_mode: closed). Try again shortly.' });
    expect(closedDown.headers['retry-after']).toBe('1');
    // /v1 on the closed gateway: OpenAI's shape.
    const v1 = await call('POST', `${closed.url}/v1/chat/completions`, { model: 'later', ...MSG });
    expect(v1.status).toBe(503);
    expect(v1.json.error.message).toContain('rate-limit store is unavailable');
    // Both processes are alive and healthy; the open one warned.
    for (const g of [open, closed]) {
      expect(g.child.exitCode).toBeNull();
      expect((await call('GET', `${g.url}/health`)).status).toBe(200);
    }
    expect(open.logs().some((l) => l.level === 'warn' && /admitting without limits \(fail_mode: open\)/.test(String(l.msg)))).toBe(true);

    // Redis back (empty: no persistence). ioredis reconnects by itself; limits hold again.
    await redis.restart();
    for (const g of [open, closed]) {
      await until('reconnected', async () => ((await call('GET', `${g.url}/api/2.0/endpoints/limits/later`)).json.limits[0].state.remaining === 1 ? true : undefined), 100, 100);
    }
    const after = [await call('POST', `${open.url}/endpoints/later/invocations`, MSG), await call('POST', `${closed.url}/endpoints/later/invocations`, MSG), await call('POST', `${open.url}/endpoints/later/invocations`, MSG)];
    expect(after.map((r) => r.status)).toEqual([200, 429, 429]);
    expect(after[0]!.headers.ratelimit).toBe('"endpoint:later";r=0;t=86400');
    expect(open.logs().filter((l) => String(l.msg).startsWith('rate-limit: connected to Redis')).length).toBeGreaterThanOrEqual(2);
  });
});
