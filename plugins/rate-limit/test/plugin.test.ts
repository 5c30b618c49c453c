/** The plugin's behaviour on a fake context: where it checks, what it answers, headers, tokens, reloads, the limits API. */
import { describe, expect, it } from 'vitest';
import { isGatewayError, type ConfigView } from '@gatehouse/sdk';
import plugin, { RateLimitStatsToken, type RateLimitStats } from '../src/index.js';
import { PARSE_MESSAGE } from '../src/limit.js';
import { call, endpoint, get, harness, route, settle } from './harness.js';

describe('rate-limit plugin', () => {
  it('refuses past the limit with MLflow\'s message, Retry-After, IETF headers and an event', async () => {
    const chat = endpoint('chat', { calls: 3, renewal_period: 'minute' });
    const h = await harness(plugin, { endpoints: [chat] });
    for (let i = 0; i < 3; i++) {
      const c = call(h, { target: chat });
      expect(await c.run()).toBeNull();
      expect(c.headers['ratelimit-policy']).toBe('"endpoint:chat";q=3;w=60');
      expect(c.headers.ratelimit).toBe(`"endpoint:chat";r=${2 - i};t=${20 * (i + 1)}`);
    }
    const c = call(h, { target: chat });
    const err = await c.run();
    expect(isGatewayError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'GW_ERR_RATE_LIMITED', status: 429, message: 'Rate limit exceeded: 3 per 1 minute', headers: { 'retry-after': '20' } });
    expect(c.headers.ratelimit).toBe('"endpoint:chat";r=0;t=60');
    expect(c.inv.events).toEqual([expect.objectContaining({ name: 'rate_limited', attributes: expect.objectContaining({ scope: 'endpoint', name: 'chat', key: 'ip', retry_after_s: 20 }) })]);
    h.clock.advance(20_000);
    expect(await call(h, { target: chat }).run()).toBeNull();
    const stats = (h.provided.get(RateLimitStatsToken.id) as RateLimitStats).snapshot();
    expect(stats).toMatchObject({ store: 'memory', admitted: 4, refused: 1, storeErrors: 0 });
  });

  it('keys: ip (default) apart, endpoint shared, header and caller apart (falling back to the IP)', async () => {
    const byIp = endpoint('a', { calls: 1, renewal_period: 'day' });
    const shared = endpoint('b', { calls: 1, renewal_period: 'day', key: 'endpoint' });
    const byUser = endpoint('c', { calls: 1, renewal_period: 'day', key: 'header:X-User' });
    const byCaller = endpoint('d', { calls: 1, renewal_period: 'day', key: 'caller' });
    const h = await harness(plugin, { endpoints: [byIp, shared, byUser, byCaller] });
    const ok = async (o: Parameters<typeof call>[1]) => (await call(h, o).run()) === null;
    expect([await ok({ target: byIp, ip: '10.0.0.1' }), await ok({ target: byIp, ip: '10.0.0.2' }), await ok({ target: byIp, ip: '10.0.0.1' })]).toEqual([true, true, false]);
    expect([await ok({ target: shared, ip: '10.0.0.1' }), await ok({ target: shared, ip: '10.0.0.2' })]).toEqual([true, false]);
    expect([await ok({ target: byUser, headers: { 'x-user': 'ann' } }), await ok({ target: byUser, headers: { 'x-user': 'bob' } }),
      await ok({ target: byUser, headers: { 'x-user': 'ann' } }), await ok({ target: byUser, ip: '10.9.9.9' }), await ok({ target: byUser, ip: '10.9.9.9' })])
      .toEqual([true, true, false, true, false]);
    const ann = { name: 'ann', scopes: [] };
    expect([await ok({ target: byCaller, caller: ann, ip: '1.1.1.1' }), await ok({ target: byCaller, caller: ann, ip: '2.2.2.2' }),
      await ok({ target: byCaller, caller: { name: 'bob', scopes: [] } })]).toEqual([true, false, true]);
  });

  it('a route\'s limit is checked once per call, before each destination\'s own limit; a fallback\'s limit counts for its attempt', async () => {
    const a = endpoint('a', { calls: 1, renewal_period: 'day' });
    const b = endpoint('b', { calls: 5, renewal_period: 'day' });
    const split = route('split', ['a', 'b'], { calls: 3, renewal_period: 'day' });
    const h = await harness(plugin, { endpoints: [a, b], routes: [split] });
    const first = call(h, { target: split, candidates: [a, b] });
    expect(await first.run()).toBeNull();
    expect(first.inv.endpoint!.name).toBe('a');
    expect(first.headers['ratelimit-policy']).toBe('"route:split";q=3;w=86400, "endpoint:a";q=1;w=86400');
    // a is spent: the next call's first attempt is refused by a's limit and the fallback (b) serves.
    const second = call(h, { target: split, candidates: [a, b] });
    expect(await second.run()).toBeNull();
    expect(second.inv.endpoint!.name).toBe('b');
    expect(second.inv.attempts.map((x) => x.error && (x.error as Error).message)).toEqual(['Rate limit exceeded: 1 per 1 day', null]);
    expect(await call(h, { target: split, candidates: [a, b] }).run()).toBeNull();
    const fourth = await call(h, { target: split, candidates: [a, b] }).run();
    expect(fourth).toMatchObject({ status: 429, message: 'Rate limit exceeded: 3 per 1 day' });
    // Calls to b directly share b's bucket with the route's attempts (2 used of 5).
    const direct = call(h, { target: b });
    expect(await direct.run()).toBeNull();
    expect(direct.headers.ratelimit).toBe('"endpoint:b";r=2;t=51840');
  });

  it('a caller\'s own limit (attributes.limit) applies to all its calls', async () => {
    const chat = endpoint('chat', null);
    const h = await harness(plugin, { endpoints: [chat] });
    const ann = { name: 'ann', scopes: [], attributes: { endpoints: ['*'], limit: { calls: 2, renewal_period: 'hour' } } };
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await call(h, { target: chat, caller: ann }).run());
    expect(results.slice(0, 2)).toEqual([null, null]);
    expect(results[2]).toMatchObject({ status: 429, message: 'Rate limit exceeded: 2 per 1 hour' });
    expect(await call(h, { target: chat, caller: { ...ann, name: 'bob' } }).run()).toBeNull();
    // A caller limit that does not parse is ignored, with one warning.
    const odd = { name: 'odd', scopes: [], attributes: { limit: { calls: 1, renewal_period: 'fortnight' } } };
    expect(await call(h, { target: chat, caller: odd }).run()).toBeNull();
    expect(await call(h, { target: chat, caller: odd }).run()).toBeNull();
    expect(h.logs.filter((l) => l.includes("caller 'odd'"))).toHaveLength(1);
  });

  it('calls: 0 refuses every call and says so at start-up', async () => {
    const off = endpoint('off', { calls: 0, renewal_period: 'minute' });
    const h = await harness(plugin, { endpoints: [off] });
    expect(h.logs.some((l) => l.startsWith('warn:') && l.includes("endpoint 'off' has limit.calls 0"))).toBe(true);
    expect(await call(h, { target: off }).run()).toMatchObject({ status: 429, message: 'Rate limit exceeded: 0 per 1 minute', headers: { 'retry-after': '60' } });
  });

  it('token limits: the prompt estimate is taken before, completion tokens after the answer', async () => {
    const chat = endpoint('chat', { calls: 100, renewal_period: 'minute', tokens: 100 });
    const h = await harness(plugin, { endpoints: [chat] });
    const state = async () => ((await get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: 'chat' })) as { json: any }).json.limits[0].state;
    const c = call(h, { target: chat, body: { messages: [{ role: 'user', content: 'hello world' }] } });
    expect(await c.run()).toBeNull();
    // "user" + "\n" + "hello world" = 4 tokens, + 3 per message + 3 = 10.
    expect((await state()).tokens_remaining).toBe(90);
    c.finish({ prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 });
    await settle();
    expect((await state()).tokens_remaining).toBe(58);
    // Without usage, the answer's text is counted.
    const s = call(h, { target: chat, stream: true });
    expect(await s.run()).toBeNull();
    for (const w of ['Hello', ' there', ' friend']) h.observers[0]!.chunk!(s.inv, { id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content: w }, finish_reason: null }] } as never);
    s.finish(null);
    await settle();
    expect((await state()).tokens_remaining).toBe(58 - 10 - 3);
    // A prompt larger than the whole bucket can never pass.
    const huge = await call(h, { target: chat, body: { messages: [{ role: 'user', content: 'word '.repeat(200) }] } }).run();
    expect(huge).toMatchObject({ status: 429 });
    expect((huge as Error).message).toMatch(/^Rate limit exceeded: 100 tokens per 1 minute \(this prompt alone is about \d+ tokens\)$/);
  });

  it('token estimates of failed attempts and failed calls are given back', async () => {
    const a = endpoint('a', { calls: 100, renewal_period: 'minute', tokens: 100 });
    const b = endpoint('b', { calls: 100, renewal_period: 'minute', tokens: 100 });
    const split = route('split', ['a', 'b'], { calls: 100, renewal_period: 'minute', tokens: 100 });
    const h = await harness(plugin, { endpoints: [a, b], routes: [split] });
    const left = async (name: string) => ((await get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: name })) as { json: any }).json.limits[0].state.tokens_remaining;
    // a fails (an upstream error), b serves: a's estimate comes back, b and the route pay the usage.
    const c = call(h, { target: split, candidates: [a, b], failAttempt: (n) => (n === 1 ? new Error('upstream 500') : null) });
    expect(await c.run()).toBeNull();
    expect([await left('a'), await left('b'), await left('split')]).toEqual([90, 90, 90]);
    c.finish({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    await settle();
    expect([await left('a'), await left('b'), await left('split')]).toEqual([100, 85, 85]);
    // Every attempt fails, no usage: the route's estimate comes back too.
    const d = call(h, { target: split, candidates: [a, b], failAttempt: () => new Error('upstream 500') });
    expect(await d.run()).toBeInstanceOf(Error);
    d.finish(null, 502);
    await settle();
    expect([await left('a'), await left('b'), await left('split')]).toEqual([100, 85, 85]);
  });

  it('a reload keeps the state of unchanged limits and starts changed ones afresh', async () => {
    const a1 = endpoint('a', { calls: 2, renewal_period: 'day' });
    const b1 = endpoint('b', { calls: 2, renewal_period: 'day' });
    const h1 = await harness(plugin, { endpoints: [a1, b1] });
    for (const e of [a1, a1, b1, b1]) expect(await call(h1, { target: e }).run()).toBeNull();
    // The new generation's infos are new objects; a's limit is the same, b's changed.
    const a2 = endpoint('a', { calls: 2, renewal_period: 'day' });
    const b2 = endpoint('b', { calls: 3, renewal_period: 'day' });
    const h2 = await h1.reload({ endpoints: [a2, b2] });
    expect(await call(h2, { target: a2 }).run()).toMatchObject({ status: 429 });
    expect(await call(h2, { target: b2 }).run()).toBeNull();
  });

  it('the limits API answers the limits and the caller\'s state; set_limits answers 422 or 501', async () => {
    const chat = endpoint('chat', { calls: 10, renewal_period: '5 minutes', burst: 4 });
    const split = route('split', ['chat'], { calls: 2, renewal_period: 'second', key: 'endpoint' });
    const h = await harness(plugin, { endpoints: [chat, endpoint('free', null)], routes: [split] });
    expect(h.routes.map((r) => `${r.method} ${r.path} ${r.access} ${r.surface}`).sort()).toEqual([
      'GET /api/2.0/endpoints/limits/:endpoint admin mlflow', 'GET /api/2.0/gateway/limits/:endpoint admin mlflow',
      'POST /api/2.0/endpoints/limits/ admin mlflow', 'POST /api/2.0/gateway/limits/ admin mlflow',
    ]);
    await call(h, { target: chat, ip: '10.1.1.1' }).run();
    const mine = await get(h, '/api/2.0/gateway/limits/:endpoint', { endpoint: 'chat' }, { ip: '10.1.1.1' });
    expect(mine).toEqual({ json: { limits: [{ calls: 10, key: null, renewal_period: '5 minutes', burst: 4, tokens: null, applies_to: 'endpoint', state: { partition: '10.1.1.1', store: 'memory', remaining: 3, reset_seconds: 30 } }] } });
    const other = await get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: 'chat' }, { ip: '10.1.1.1', query: { key_value: '10.2.2.2' } }) as { json: any };
    expect(other.json.limits[0].state).toMatchObject({ partition: '10.2.2.2', remaining: 4 });
    expect((await get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: 'split' }) as { json: any }).json.limits[0]).toMatchObject({ applies_to: 'route', key: 'endpoint', state: { partition: null, remaining: 2 } });
    expect(await get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: 'free' })).toEqual({ json: { limits: [] } });
    await expect(get(h, '/api/2.0/endpoints/limits/:endpoint', { endpoint: 'nope' })).rejects.toMatchObject({ status: 404, message: "The endpoint 'nope' is not present or active on the server. Please verify the endpoint name." });
    await expect(get(h, '/api/2.0/endpoints/limits/', {}, { method: 'POST', body: { route: 'chat' } })).rejects.toMatchObject({ status: 422, detail: [{ type: 'missing', loc: ['body', 'limits'], msg: 'Field required', input: { route: 'chat' } }] });
    await expect(get(h, '/api/2.0/gateway/limits/', {}, { method: 'POST', body: { route: 'chat', limits: [] } })).rejects.toMatchObject({ status: 501, message: 'The set_limits API is not available yet.' });
  });

  it('check() reports what does not parse, with YAML paths', () => {
    const view = (section: Record<string, unknown>, endpoints = [endpoint('x', { calls: 10, renewal_period: 'fortnight' })], routes = [route('r', ['x'], { calls: 1, renewal_period: 'minute', key: 'user' })]) =>
      plugin.config!.check!({ section, endpoints, routes, env: {} } as ConfigView);
    expect(view({})).toEqual([
      { path: ['endpoints', 0, 'limit'], message: PARSE_MESSAGE },
      { path: ['routes', 0, 'limit', 'key'], message: "limit.key must be 'ip' (the default, MLflow's), 'endpoint', 'caller' or 'header:<name>'; got 'user'" },
    ]);
    expect(view({ storage_uri: 'memcached://x:1' }, [], [])).toEqual([{ path: ['rate-limit', 'storage_uri'], message: "rate-limit.storage_uri must be memory://, redis://host:port or rediss://host:port; got 'memcached://x:1'" }]);
    expect(view({ storage_uri: 'redis://:hunter2@h:6379' }, [], [])).toEqual([]);
  });
});
