/**
 * `gatehouse start --workers 2` (the built CLI): 200 requests at once against calls: 20 per day
 * admit exactly 20 — the buckets live in the cluster primary's shared state, not per worker
 * (MLflow admits N× the limit with N workers).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { call, freePort, REPO_ROOT, startCli, until, type GatewayProcess } from './helpers/processes.js';

const built = existsSync(join(REPO_ROOT, 'core/dist/cli.js')) && existsSync(join(REPO_ROOT, 'plugins/rate-limit/dist/index.js'));
const MSG = { messages: [{ role: 'user', content: 'hello' }] };
const ENDPOINTS = [
  { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 20, renewal_period: 'day' } },
  { name: 'other', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 3, renewal_period: 'day', key: 'endpoint' } },
];

describe.skipIf(!built)('--workers 2', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startCli({ endpoints: ENDPOINTS }, { port: await freePort(), workers: 2 });
  }, 60_000);
  afterAll(async () => { await gw?.stop(); });

  it('200 requests at once, each on its own connection: exactly 20 admitted', async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      call('POST', `${gw.url}/${i % 3 ? 'endpoints' : 'gateway'}/chat/invocations`, MSG)));
    const byStatus = rs.reduce<Record<number, number>>((m, r) => { m[r.status] = (m[r.status] ?? 0) + 1; return m; }, {});
    expect(byStatus).toEqual({ 200: 20, 429: 180 });
    expect(rs.find((r) => r.status === 429)!.json).toEqual({ error: 'Rate limit exceeded: 20 per 1 day' });
    // Both workers served: on Linux the cluster primary hands connections out round-robin, and
    // each request came on its own connection. Both logged the shared store at start-up.
    expect(gw.logs().filter((l) => String(l.msg).startsWith('rate-limit: buckets in memory, shared by all workers')).map((l) => l.worker).sort()).toEqual([1, 2]);
  });

  it('a reload of every worker (SIGHUP) keeps the shared buckets of unchanged limits', async () => {
    // Change another endpoint's limit; chat's stays as it was.
    writeFileSync(gw.configPath, stringify({ endpoints: [ENDPOINTS[0], { ...ENDPOINTS[1], limit: { calls: 3, renewal_period: 'day', key: 'endpoint', burst: 4 } }] }));
    gw.child.kill('SIGHUP');
    await until('both workers reloaded', async () => ((gw.out.text.match(/configuration reloaded/g) ?? []).length >= 2 ? true : undefined), 150);
    const after = await call('POST', `${gw.url}/endpoints/chat/invocations`, MSG);
    expect(after.status).toBe(429);
    expect(after.headers.ratelimit).toMatch(/^"endpoint:chat";r=0;t=\d+$/);
  }, 30_000);

  it('the /v1 surface draws from the same shared bucket (the changed limit started afresh: burst 4)', async () => {
    const rs = [];
    for (let i = 0; i < 5; i++) rs.push(await call('POST', `${gw.url}/${i % 2 ? 'v1/chat/completions' : 'endpoints/other/invocations'}`, i % 2 ? { model: 'other', ...MSG } : MSG));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
    expect(rs[4]!.json).toEqual({ error: 'Rate limit exceeded: 3 per 1 day' });
    expect(rs[1]!.headers['ratelimit-policy']).toBe('"endpoint:other";q=3;w=86400;gatehouse-burst=4');
  });
});
