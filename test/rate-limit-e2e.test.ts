/**
 * The limiter in a whole gateway (in process, injected clock): the seeds' limit examples enforce
 * unchanged, 200 concurrent calls admit exactly `calls`, every surface and a traffic route draw
 * from one bucket, 429s are shaped per surface (and understood by the official `openai` SDK),
 * a stream's completion tokens are debited after its last chunk, a reload keeps state.
 */
import OpenAI, { RateLimitError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, HttpClient, UpstreamRequest } from '@gatehouse/sdk';
import { startTestGateway, type TestGateway } from '@gatehouse/sdk/testing';
import mlflow from '@gatehouse/plugin-mlflow';
import openaiCompat from '@gatehouse/plugin-openai-compat';
import rateLimit from '@gatehouse/plugin-rate-limit';
import routing from '@gatehouse/plugin-routing';
import auth from '@gatehouse/plugin-auth';
import mock from '@gatehouse/provider-mock';
import openai from '@gatehouse/provider-openai';

const PLUGINS = [mlflow, openaiCompat, routing, rateLimit];
const MSG = { messages: [{ role: 'user', content: 'hello there' }] };

class ManualClock implements Clock {
  t = Date.UTC(2026, 0, 1);
  now() { return this.t; }
  advance(ms: number) { this.t += ms; }
}

let open: TestGateway[] = [];
afterEach(async () => { await Promise.all(open.map((g) => g.close())); open = []; });
const start = async (o: Parameters<typeof startTestGateway>[0]) => { const g = await startTestGateway(o); open.push(g); return g; };

/** OpenAI's chat API answered in process (no network). */
const fakeOpenAI = (): HttpClient & { calls: number } => {
  const f = {
    calls: 0,
    async json<T>(req: UpstreamRequest): Promise<T> {
      f.calls++;
      return {
        id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: (req.body as { model: string }).model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
      } as T;
    },
    async stream(): Promise<never> { throw new Error('no streams here'); },
    async request(): Promise<never> { throw new Error('no raw requests here'); },
    async close() {},
  };
  return f;
};

const statuses = (rs: Array<{ status: number }>) => rs.reduce<Record<number, number>>((m, r) => { m[r.status] = (m[r.status] ?? 0) + 1; return m; }, {});

describe("the seeds' limit examples, unchanged, enforce", () => {
  it('seed 000: calls: 100 per minute admits 100, refuses the 101st with MLflow\'s body, refills continuously', async () => {
    // Seed 000's YAML as written there (indentation restored).
    const SEED = `
endpoints:
- name: rate-limited-chat
  endpoint_type: llm/v1/chat
  model:
    provider: openai
    name: gpt-3.5-turbo
    config:
      openai_api_key: $OPENAI_API_KEY
  limit:
    renewal_period: minute
    calls: 100 # max calls per renewal period
`;
    const clock = new ManualClock();
    const http = fakeOpenAI();
    const gw = await start({ config: SEED, plugins: PLUGINS, providers: [openai], http, clock, env: { OPENAI_API_KEY: 'sk-seed-000' } });
    const rs = [];
    for (let i = 0; i < 101; i++) rs.push(await gw.request('POST', '/endpoints/rate-limited-chat/invocations', { json: MSG }));
    expect(statuses(rs)).toEqual({ 200: 100, 429: 1 });
    expect(http.calls).toBe(100);
    expect(rs[100]!.json).toEqual({ error: 'Rate limit exceeded: 100 per 1 minute' });
    expect(rs[100]!.headers['retry-after']).toBe('1');
    clock.advance(600); // one call every 0.6 s
    expect((await gw.request('POST', '/gateway/rate-limited-chat/invocations', { json: MSG })).status).toBe(200);
    expect((await gw.request('POST', '/gateway/rate-limited-chat/invocations', { json: MSG })).status).toBe(429);
  });

  it("seed 003: the tutorial's calls: 30 per minute admits 30 of 35; its burst: 10 per hour admits 10, then one per 36 s", async () => {
    const clock = new ManualClock();
    const gw = await start({
      // The tutorial's endpoint, and its "custom limiting policy" block on a second endpoint.
      config: `
endpoints:
- name: ai-assistant
  endpoint_type: llm/v1/chat
  model:
    provider: openai
    name: gpt-4
    config:
      openai_api_key: $OPENAI_API_KEY
  limit:
    calls: 30
    renewal_period: minute
- name: bursty
  endpoint_type: llm/v1/chat
  model:
    provider: openai
    name: gpt-4
    config:
      openai_api_key: $OPENAI_API_KEY
  limit:
    calls: 100 # 请求次数上限
    renewal_period: hour # 计数周期
    burst: 10 # 突发流量容忍
`,
      plugins: PLUGINS, providers: [openai], http: fakeOpenAI(), clock, env: { OPENAI_API_KEY: 'sk-seed-003' },
    });
    const tutorial = [];
    for (let i = 0; i < 35; i++) tutorial.push(await gw.request('POST', '/endpoints/ai-assistant/invocations', { json: MSG }));
    expect(statuses(tutorial)).toEqual({ 200: 30, 429: 5 });
    const bursty = [];
    for (let i = 0; i < 12; i++) bursty.push(await gw.request('POST', '/endpoints/bursty/invocations', { json: MSG }));
    expect(statuses(bursty)).toEqual({ 200: 10, 429: 2 });
    expect(bursty[0]!.headers['ratelimit-policy']).toBe('"endpoint:bursty";q=100;w=3600;gatehouse-burst=10');
    expect(bursty[11]!.headers['retry-after']).toBe('36');
    expect(bursty[11]!.json).toEqual({ error: 'Rate limit exceeded: 100 per 1 hour' });
    clock.advance(36_000);
    expect((await gw.request('POST', '/endpoints/bursty/invocations', { json: MSG })).status).toBe(200);
  });
});

describe('exactness and one bucket per endpoint', () => {
  const config = {
    endpoints: [
      { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 0 } }, limit: { calls: 20, renewal_period: 'day' } },
      { name: 'shared', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 0 } }, limit: { calls: 5, renewal_period: 'day' } },
    ],
    routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'shared', traffic_percentage: 100 }] }],
  };

  it('200 requests at once against calls: 20 per day: exactly 20 admitted', async () => {
    const gw = await start({ config, plugins: PLUGINS, providers: [mock] });
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      gw.request('POST', i % 2 ? '/endpoints/chat/invocations' : '/gateway/chat/invocations', { json: MSG })));
    expect(statuses(rs)).toEqual({ 200: 20, 429: 180 });
  });

  it('/endpoints, /gateway, /v1 and a traffic route draw from one bucket; 429s are shaped per surface', async () => {
    const gw = await start({ config, plugins: PLUGINS, providers: [mock] });
    const calls = [
      () => gw.request('POST', '/endpoints/shared/invocations', { json: MSG }),
      () => gw.request('POST', '/gateway/shared/invocations', { json: MSG }),
      () => gw.request('POST', '/v1/chat/completions', { json: { model: 'shared', ...MSG } }),
      () => gw.request('POST', '/gateway/split/invocations', { json: MSG }),
      () => gw.request('POST', '/v1/chat/completions', { json: { model: 'split', ...MSG } }),
    ];
    const admitted = [];
    for (const c of calls) admitted.push(await c());
    expect(admitted.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(admitted.map((r) => r.headers.ratelimit)).toEqual([4, 3, 2, 1, 0].map((r) => `"endpoint:shared";r=${r};t=${(5 - r) * 17280}`));
    for (const r of admitted) expect(r.headers['ratelimit-policy']).toBe('"endpoint:shared";q=5;w=86400');

    const mlflowRefusal = await calls[1]!();
    expect(mlflowRefusal.status).toBe(429);
    expect(mlflowRefusal.json).toEqual({ error: 'Rate limit exceeded: 5 per 1 day' });
    expect(mlflowRefusal.headers['retry-after']).toBe('17280');
    const routeRefusal = await calls[3]!();
    expect(routeRefusal.status).toBe(429);
    expect(routeRefusal.json).toEqual({ error: 'Rate limit exceeded: 5 per 1 day' });
    const openaiRefusal = await calls[2]!();
    expect(openaiRefusal.status).toBe(429);
    expect(openaiRefusal.json).toEqual({ error: { message: 'Rate limit exceeded: 5 per 1 day', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    expect(openaiRefusal.headers['retry-after']).toBe('17280');
    expect(openaiRefusal.headers.ratelimit).toBe('"endpoint:shared";r=0;t=86400');
  });

  it("a route's own limit counts its calls on every surface, before its destination's", async () => {
    const gw = await start({
      config: { ...config, routes: [{ ...config.routes[0], limit: { calls: 2, renewal_period: 'minute', key: 'endpoint' } }] },
      plugins: PLUGINS, providers: [mock],
    });
    const a = await gw.request('POST', '/endpoints/split/invocations', { json: MSG });
    expect(a.status).toBe(200);
    expect(a.headers['ratelimit-policy']).toBe('"route:split";q=2;w=60, "endpoint:shared";q=5;w=86400');
    expect((await gw.request('POST', '/v1/chat/completions', { json: { model: 'split', ...MSG } })).status).toBe(200);
    const third = await gw.request('POST', '/gateway/split/invocations', { json: MSG });
    expect(third.json).toEqual({ error: 'Rate limit exceeded: 2 per 1 minute' });
    // The route's refusal did not touch the endpoint's bucket: 3 of 5 left.
    const direct = await gw.request('POST', '/endpoints/shared/invocations', { json: MSG });
    expect(direct.headers.ratelimit).toBe('"endpoint:shared";r=2;t=51840');
  });

  it('the official openai SDK: RateLimitError, and a retry that honours Retry-After', async () => {
    const clock = new ManualClock();
    const gw = await start({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 1, renewal_period: 'second' } }] },
      plugins: PLUGINS, providers: [mock], clock, listen: true,
    });
    const seen: Array<{ status: number; retryAfter: string | null }> = [];
    // The gateway's clock moves on by what Retry-After said while the SDK waits it out for real.
    const countingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      seen.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
      if (res.status === 429) clock.advance(Number(res.headers.get('retry-after')) * 1000);
      return res;
    };
    const noRetry = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, fetch: countingFetch });
    expect((await noRetry.chat.completions.create({ model: 'chat', ...MSG } as never)).object).toBe('chat.completion');
    const err = await noRetry.chat.completions.create({ model: 'chat', ...MSG } as never).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).status).toBe(429);
    expect((err as RateLimitError).code).toBe('rate_limit_exceeded');
    expect((err as RateLimitError).message).toContain('Rate limit exceeded: 1 per 1 second');
    expect((err as RateLimitError).headers?.get('retry-after')).toBe('1');

    clock.advance(1000); // a fresh bucket: one call now, the next one refused
    seen.length = 0;
    const retrying = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 1, fetch: countingFetch });
    await retrying.chat.completions.create({ model: 'chat', ...MSG } as never);
    const res = await retrying.chat.completions.create({ model: 'chat', ...MSG } as never);
    expect(res.object).toBe('chat.completion');
    // first call; second call: a 429 with Retry-After: 1, then the SDK's retry, admitted.
    expect(seen).toEqual([{ status: 200, retryAfter: null }, { status: 429, retryAfter: '1' }, { status: 200, retryAfter: null }]);
  });
});

describe('token limits', () => {
  it("a stream's prompt estimate is taken before the call; its completion tokens are debited after its last chunk", async () => {
    const gw = await start({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 40 } }, limit: { calls: 100, renewal_period: 'day', tokens: 1000 } }] },
      plugins: PLUGINS, providers: [mock], listen: true,
    });
    const tokensLeft = async () => (await gw.request('GET', '/api/2.0/endpoints/limits/chat')).json.limits[0].state.tokens_remaining as number;
    expect(await tokensLeft()).toBe(1000);
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...MSG, stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toBe('"endpoint:chat";r=99;t=864');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    // Mid-stream: only the prompt estimate is taken ("user" "\n" "hello there" = 4, + 3 + 3 framing).
    expect(await tokensLeft()).toBe(990);
    let text = new TextDecoder().decode(first.value);
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    const usage = text.split('\n\n').map((b) => b.replace(/^data: /, '')).filter((b) => b.startsWith('{')).map((b) => JSON.parse(b)).find((c) => c.usage)?.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(3);
    let left = await tokensLeft();
    for (let i = 0; i < 50 && left === 990; i++) { await new Promise((r) => setTimeout(r, 10)); left = await tokensLeft(); }
    expect(left).toBe(1000 - usage.prompt_tokens - usage.completion_tokens);
  });

  it('a prompt over the token budget is refused before the provider is called', async () => {
    const gw = await start({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' }, limit: { calls: 100, renewal_period: 'minute', tokens: 50 } }] },
      plugins: PLUGINS, providers: [mock],
    });
    const r = await gw.request('POST', '/v1/chat/completions', { json: { model: 'chat', messages: [{ role: 'user', content: 'lorem ipsum '.repeat(40) }] } });
    expect(r.status).toBe(429);
    expect(r.json.error.code).toBe('rate_limit_exceeded');
    expect(r.json.error.message).toMatch(/^Rate limit exceeded: 50 tokens per 1 minute \(this prompt alone is about \d+ tokens\)$/);
    // The call it would have used was given back.
    expect((await gw.request('GET', '/api/2.0/gateway/limits/chat')).json.limits[0].state.remaining).toBe(100);
  });
});

describe('the limits API and reloads', () => {
  it('answers the configured limits and the state; set_limits keeps MLflow\'s 422 and 501', async () => {
    const gw = await start({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { calls: 10, renewal_period: '5 minutes', burst: 3 } }] },
      plugins: PLUGINS, providers: [mock],
    });
    await gw.request('POST', '/endpoints/chat/invocations', { json: MSG });
    for (const path of ['/api/2.0/endpoints/limits/chat', '/api/2.0/gateway/limits/chat']) {
      const r = await gw.request('GET', path);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ limits: [{ calls: 10, key: null, renewal_period: '5 minutes', burst: 3, tokens: null, applies_to: 'endpoint', state: { partition: '127.0.0.1', store: 'memory', remaining: 2, reset_seconds: 30 } }] });
    }
    expect((await gw.request('GET', '/api/2.0/endpoints/limits/nope')).json).toEqual({ detail: "The endpoint 'nope' is not present or active on the server. Please verify the endpoint name." });
    const bad = await gw.request('POST', '/api/2.0/endpoints/limits/', { json: { limits: 'x' } });
    expect(bad.status).toBe(422);
    expect(bad.json.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual(['body.route', 'body.limits']);
    const later = await gw.request('POST', '/api/2.0/gateway/limits/', { json: { route: 'chat', limits: [] } });
    expect(later.status).toBe(501);
    expect(later.json).toEqual({ detail: 'The set_limits API is not available yet.' });
  });

  it('a reload keeps the buckets of limits that did not change', async () => {
    const ep = (name: string, calls: number) => ({ name, endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { calls, renewal_period: 'day' } });
    const gw = await start({ config: { endpoints: [ep('same', 2), ep('changed', 2)] }, plugins: PLUGINS, providers: [mock] });
    for (const n of ['same', 'same', 'changed', 'changed']) expect((await gw.request('POST', `/endpoints/${n}/invocations`, { json: MSG })).status).toBe(200);
    expect(await gw.reload({ endpoints: [ep('same', 2), ep('changed', 3)] })).toBe(true);
    expect((await gw.request('POST', '/endpoints/same/invocations', { json: MSG })).status).toBe(429);
    expect((await gw.request('POST', '/endpoints/changed/invocations', { json: MSG })).status).toBe(200);
  });

  it('reports a renewal_period that does not parse with MLflow\'s message, and a bad key', async () => {
    const err = await startTestGateway({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { calls: 10, renewal_period: 'fortnight', key: 'user' } }] },
      plugins: PLUGINS, providers: [mock],
    }).then(() => null, (e: Error) => e);
    expect(err?.message).toContain('Failed to parse the rate limit configuration.Please make sure limit.calls is a positive number andlimit.renewal_period is a right granularity');
    expect(err?.message).toContain("limit.key must be 'ip' (the default, MLflow's), 'endpoint', 'caller' or 'header:<name>'; got 'user'");
  });
});

describe('with the auth plugin', () => {
  it("key: caller buckets by gateway key; a key's own limit applies to all its calls; the limits API is admin-only", async () => {
    const gw = await start({
      config: {
        endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { calls: 3, renewal_period: 'minute', key: 'caller' } }],
        auth: {
          keys: [
            { name: 'alice', key: '$ALICE_KEY', limit: { calls: 2, renewal_period: 'minute' } },
            { name: 'bob', key: '$BOB_KEY' },
            { name: 'ops', key: '$OPS_KEY', admin: true },
          ],
        },
      },
      plugins: [...PLUGINS, auth], providers: [mock],
      env: { ALICE_KEY: 'gh-alice-key-7d1e', BOB_KEY: 'gh-bob-key-93ac', OPS_KEY: 'gh-ops-key-55f0' },
    });
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const chat = (key: string) => gw.request('POST', '/v1/chat/completions', { headers: as(key), json: { model: 'chat', ...MSG } });
    const alice = [await chat('gh-alice-key-7d1e'), await chat('gh-alice-key-7d1e'), await chat('gh-alice-key-7d1e')];
    expect(alice.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(alice[0]!.headers['ratelimit-policy']).toBe('"caller:alice";q=2;w=60, "endpoint:chat";q=3;w=60');
    expect(alice[2]!.json.error.message).toBe('Rate limit exceeded: 2 per 1 minute');
    // Bob has his own bucket of chat's limit (same client IP, another caller).
    const bob = [];
    for (let i = 0; i < 4; i++) bob.push(await chat('gh-bob-key-93ac'));
    expect(bob.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(bob[3]!.json.error.message).toBe('Rate limit exceeded: 3 per 1 minute');

    expect((await gw.request('GET', '/api/2.0/endpoints/limits/chat', { headers: as('gh-bob-key-93ac') })).status).toBe(403);
    expect((await gw.request('GET', '/api/2.0/endpoints/limits/chat')).status).toBe(401);
    const ops = await gw.request('GET', '/api/2.0/endpoints/limits/chat?key_value=bob', { headers: as('gh-ops-key-55f0') });
    expect(ops.status).toBe(200);
    expect(ops.json.limits[0]).toMatchObject({ key: 'caller', state: { partition: 'bob', remaining: 0 } });
  });
});
