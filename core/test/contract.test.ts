/**
 * The plugin contract v2, tested the way a plugin author would: the sdk's test gateway, a config
 * object, and throwaway plugin and provider definitions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  chatResponse, createServiceToken, definePlugin, defineProvider, GatewayError, type ChatChunk, type Invocation, type PluginDefinition,
  type RequestOutcome, type RouteDefinition, type StageMiddleware,
} from '@gatehouse/sdk';
import { startTestGateway, type TestGateway } from '@gatehouse/sdk/testing';

const chunk = (content: string | null, finish: string | null = null, usage?: ChatChunk['usage']): ChatChunk => ({
  id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm',
  choices: [{ index: 0, finish_reason: finish, delta: { role: null, content, tool_calls: null } }], ...(usage ? { usage } : {}),
});

/** A provider that fails on cue: `failures` errors first, then answers. */
function cueProvider(script: { failures?: GatewayError[]; midStreamError?: boolean } = {}) {
  const calls: Array<{ attempt?: number; headers?: Record<string, string>; temperature?: unknown }> = [];
  const def = defineProvider({
    name: 'cue', displayName: 'Cue', requiresConfig: false,
    create: () => ({
      async chat(req, call) {
        calls.push({ attempt: call.attempt, headers: { ...call.headers }, temperature: req.temperature });
        const f = script.failures?.shift();
        if (f) throw f;
        return chatResponse({ model: 'm', choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1 } });
      },
      async *chatStream(_req, call) {
        calls.push({ attempt: call.attempt });
        const f = script.failures?.shift();
        if (f) throw f;
        yield chunk('a');
        if (script.midStreamError) throw new GatewayError('GW_ERR_UPSTREAM_STATUS', 'broke mid-stream', { status: 502 });
        yield chunk('b', 'stop');
        yield { ...chunk(null), choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } };
      },
    }),
  });
  return { def, calls };
}

/** A minimal surface, so these tests need no installed surface plugin. */
const surfacePlugin = definePlugin({
  name: 'test-surface',
  register(ctx) {
    ctx.surface({ name: 'test', pathPrefix: '/', renderError: (err) => ({ status: err.status, body: { code: err.code, message: err.message } }), streamTerminator: '[END]' });
    ctx.route({ method: 'GET', path: '/health', access: 'public', handler: async () => ({ json: { ok: true } }) });
    ctx.route({
      method: 'POST', path: '/call/:name', surface: 'test',
      handler: async (req, gw) => {
        const r = await gw.invoke({ req, surface: 'test', target: req.params.name! });
        return r.kind === 'json' ? { json: r.value } : { sse: r.chunks, invocation: r.invocation };
      },
    });
  },
});

const config = (extra: Record<string, unknown> = {}) => ({
  endpoints: [
    { name: 'a', endpoint_type: 'llm/v1/chat', model: { provider: 'cue', name: 'x' } },
    { name: 'b', endpoint_type: 'llm/v1/chat', model: { provider: 'cue', name: 'y', config: { temperature: 0.5 } } },
  ],
  ...extra,
});
const ask = { messages: [{ role: 'user', content: 'q' }] };

let gw: TestGateway | undefined;
afterEach(async () => { await gw?.close(); gw = undefined; });

describe('contract v2: HTTP edges', () => {
  it('a plugin reads request headers and sets response headers on JSON, SSE and error answers; x-request-id everywhere', async () => {
    const seen: string[] = [];
    const headerPlugin = definePlugin({
      name: 'headers',
      register(ctx) {
        ctx.use('admit', async (inv, next) => {
          seen.push(String(inv.headers['x-user']));
          inv.setHeader('x-seen-user', String(inv.headers['x-user']));
          if (inv.headers['x-fail']) throw new GatewayError('GW_ERR_REQUEST_BAD', 'told to fail');
          await next();
        });
      },
    });
    const cue = cueProvider();
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, headerPlugin], providers: [cue.def] });
    const json = await gw.request('POST', '/call/a', { json: ask, headers: { 'x-user': 'ann', 'x-request-id': 'abc-123' } });
    expect(json.status).toBe(200);
    expect(json.headers['x-seen-user']).toBe('ann');
    expect(json.headers['x-request-id']).toBe('abc-123');
    const sse = await gw.request('POST', '/call/a', { json: { ...ask, stream: true }, headers: { 'x-user': 'bob' } });
    expect(sse.headers['x-seen-user']).toBe('bob');
    expect(sse.events.map((e) => (typeof e === 'string' ? e : e.choices[0]?.delta.content))).toEqual(['a', 'b', undefined, '[END]']);
    const err = await gw.request('POST', '/call/a', { json: ask, headers: { 'x-user': 'eve', 'x-fail': '1' } });
    expect(err.status).toBe(400);
    expect(err.json).toEqual({ code: 'GW_ERR_REQUEST_BAD', message: 'told to fail' });
    expect(err.headers['x-seen-user']).toBe('eve');
    expect(String(err.headers['x-request-id'])).toMatch(/^[0-9a-f-]{36}$/);
    const notFound = await gw.request('GET', '/nowhere');
    expect(notFound.status).toBe(404);
    expect(notFound.headers['x-request-id']).toBeTruthy();
    expect(seen).toEqual(['ann', 'bob', 'eve']);
  });

  it('a plugin joining receive pre runs before the body is read: it refuses a huge body without reading it', async () => {
    let bodyAtPre: unknown;
    const early = definePlugin({
      name: 'early',
      register(ctx) {
        ctx.use('receive', async (inv, next) => {
          bodyAtPre = { ...inv.body };
          if (inv.headers['x-deny']) throw new GatewayError('GW_ERR_REQUEST_BAD', 'denied on headers');
          await next();
        });
      },
    });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, early], providers: [cueProvider().def] });
    const big = JSON.stringify({ ...ask, pad: 'x'.repeat(15 * 1024 * 1024) });
    const r = await gw.request('POST', '/call/a', { body: big, headers: { 'content-type': 'application/json', 'x-deny': '1' } });
    expect(r.status).toBe(400);
    expect(r.json.message).toBe('denied on headers');
    expect(bodyAtPre).toEqual({});
  });

  it('a declared Content-Length above the limit is a 413 before the body is read', async () => {
    gw = await startTestGateway({ config: config({ server: { max_body_bytes: 2048 } }), plugins: [surfacePlugin], providers: [cueProvider().def] });
    const r = await gw.request('POST', '/call/a', { body: JSON.stringify({ ...ask, pad: 'x'.repeat(4096) }), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.json.code).toBe('GW_ERR_REQUEST_TOO_LARGE');
  });
});

describe('contract v2: guard', () => {
  it('one guard runs before every handler, with the route access; it can admit a caller or refuse', async () => {
    const guarded: string[] = [];
    const auth = definePlugin({
      name: 'auth-test',
      errors: { GW_ERR_TEST_AUTH: { status: 401, expose: true, type: 'authentication_error' } },
      register(ctx) {
        ctx.guard((req, route) => {
          guarded.push(`${route.access} ${route.path}`);
          if (route.access === 'public') return;
          if (req.headers.authorization !== 'Bearer good') throw new GatewayError('GW_ERR_TEST_AUTH', 'no key');
          req.caller = { name: 'team-a', scopes: [] };
        });
        ctx.use('admit', async (inv, next) => { inv.setHeader('x-caller', inv.caller?.name ?? 'none'); await next(); });
      },
    });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, auth], providers: [cueProvider().def] });
    expect((await gw.request('GET', '/health')).status).toBe(200);
    const refused = await gw.request('POST', '/call/a', { json: ask });
    expect(refused.status).toBe(401);
    expect(refused.json.code).toBe('GW_ERR_TEST_AUTH');
    const ok = await gw.request('POST', '/call/a', { json: ask, headers: { authorization: 'Bearer good' } });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-caller']).toBe('team-a');
    expect(guarded).toEqual(['public /health', 'caller /call/:name', 'caller /call/:name']);
  });

  it('a second guard is refused at start-up', async () => {
    const g = (name: string) => definePlugin({ name, register(ctx) { ctx.guard(() => undefined); } });
    await expect(startTestGateway({ config: config(), plugins: [surfacePlugin, g('g-one'), g('g-two')], providers: [cueProvider().def] }))
      .rejects.toThrow(/a guard is already installed by 'g-one'/);
  });
});

describe('contract v2: pipeline order', () => {
  it('stages run in order with pre before and post after the kernel step; dependsOn orders plugins', async () => {
    const order: string[] = [];
    const mark = (tag: string): StageMiddleware => async (_inv, next) => { order.push(tag); await next(); };
    const first = definePlugin({ name: 'zz-first', register(ctx) { ctx.use('invoke', mark('zz-first:invoke:pre')); ctx.use('receive', mark('zz-first:receive:post'), { order: 'post' }); } });
    const second = definePlugin({ name: 'aa-second', dependsOn: ['zz-first'], register(ctx) { ctx.use('invoke', mark('aa-second:invoke:pre')); ctx.use('admit', mark('aa-second:admit:pre')); ctx.use('respond', mark('aa-second:respond:post'), { order: 'post' }); } });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, second, first], providers: [cueProvider().def] });
    expect((await gw.request('POST', '/call/a', { json: ask })).status).toBe(200);
    expect(order).toEqual(['zz-first:receive:post', 'aa-second:admit:pre', 'zz-first:invoke:pre', 'aa-second:invoke:pre', 'aa-second:respond:post']);
    expect(gw.pipeline().map((s) => `${s.stage}:${s.step}`)).toEqual([
      'receive:core', 'receive:zz-first', 'admit:aa-second', 'route:core', 'invoke:zz-first', 'invoke:aa-second', 'invoke:core', 'respond:aa-second',
    ]);
  });

  it('a second next() is refused, and the error is tagged with the plugin and stage in the log', async () => {
    const twice = definePlugin({ name: 'twice', register(ctx) { ctx.use('admit', async (_inv, next) => { await next(); await next(); }); } });
    const logs: string[] = [];
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, twice], providers: [cueProvider().def], logs });
    const r = await gw.request('POST', '/call/a', { json: ask });
    expect(r.status).toBe(500);
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
    expect(line.error).toContain("next() called multiple times by 'twice' in stage 'admit'");
    expect(line).toMatchObject({ plugin: 'twice', stage: 'admit' });
  });

  it('dependency cycles, missing and disabled dependencies are start-up errors', async () => {
    const a = definePlugin({ name: 'cy-a', dependsOn: ['cy-b'], register() {} });
    const b = definePlugin({ name: 'cy-b', dependsOn: ['cy-a'], register() {} });
    await expect(startTestGateway({ config: config(), plugins: [surfacePlugin, a, b], providers: [cueProvider().def] })).rejects.toThrow('plugin dependency cycle: cy-a -> cy-b -> cy-a');
    const needs = definePlugin({ name: 'needs', dependsOn: ['absent'], register() {} });
    await expect(startTestGateway({ config: config(), plugins: [surfacePlugin, needs], providers: [cueProvider().def] })).rejects.toThrow("plugin 'needs' depends on plugin 'absent', which is not installed");
    const dep = definePlugin({ name: 'dep', register() {} });
    const user = definePlugin({ name: 'user', dependsOn: ['dep'], register() {} });
    await expect(startTestGateway({ config: config({ dep: { enabled: false } }), plugins: [surfacePlugin, dep, user], providers: [cueProvider().def] }))
      .rejects.toThrow("plugin 'user' depends on plugin 'dep', which is disabled in the config");
  });

  it('a token provided twice is refused; a plugin error code defined by two plugins is refused', async () => {
    const token = createServiceToken<number>('test.thing');
    const p1 = definePlugin({ name: 'tok-one', register(ctx) { ctx.provide(token, 1); } });
    const p2 = definePlugin({ name: 'tok-two', register(ctx) { ctx.provide(token, 2); } });
    await expect(startTestGateway({ config: config(), plugins: [surfacePlugin, p1, p2], providers: [cueProvider().def] }))
      .rejects.toThrow("service 'test.thing' is already provided by 'tok-one'; 'tok-two' cannot provide it again");
    const e1 = definePlugin({ name: 'err-one', errors: { GW_ERR_SAME_CODE: { status: 400, expose: true, type: 'x' } }, register() {} });
    const e2 = definePlugin({ name: 'err-two', errors: { GW_ERR_SAME_CODE: { status: 401, expose: true, type: 'y' } }, register() {} });
    await expect(startTestGateway({ config: config(), plugins: [surfacePlugin, e1, e2], providers: [cueProvider().def] }))
      .rejects.toThrow("error code 'GW_ERR_SAME_CODE' is defined by both 'err-one' and 'err-two'");
  });
});

describe('contract v2: lifetimes', () => {
  it('onClose runs when a generation is retired; keep() values survive reloads; shared counters are atomic', async () => {
    const closed: number[] = [];
    let generation = 0;
    const made: number[] = [];
    const life = definePlugin({
      name: 'life',
      register(ctx) {
        const gen = ++generation;
        const store = ctx.keep('store', () => { made.push(gen); return { hits: 0 }; });
        ctx.use('admit', async (inv, next) => { store.hits++; inv.setHeader('x-hits', String(store.hits)); inv.setHeader('x-count', String(await ctx.shared.add('life:n', 1))); await next(); });
        ctx.onClose(() => { closed.push(gen); });
      },
    });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, life], providers: [cueProvider().def] });
    expect((await gw.request('POST', '/call/a', { json: ask })).headers['x-hits']).toBe('1');
    expect(await gw.reload(config({ timeout_seconds: 10 }))).toBe(true);
    const after = await gw.request('POST', '/call/a', { json: ask });
    expect(after.headers['x-hits']).toBe('2');
    expect(after.headers['x-count']).toBe('2');
    expect(made).toEqual([1]);
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toEqual([1]);
  });

  it('SharedState.addBounded is a token bucket primitive: exactly `ceiling` admitted at once', async () => {
    const gate = definePlugin({
      name: 'gate',
      register(ctx) {
        ctx.use('admit', async (_inv, next) => {
          const r = await ctx.shared.addBounded('gate:k', { delta: 1, floor: 0, ceiling: 5, ttlMs: 60_000 });
          if (!r.ok) throw new GatewayError('GW_ERR_RATE_LIMITED', 'full');
          await next();
        });
      },
    });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, gate], providers: [cueProvider().def] });
    const results = await Promise.all(Array.from({ length: 20 }, () => gw!.request('POST', '/call/a', { json: ask })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
  });
});

describe('contract v2: observers and attempts', () => {
  const recorder = () => {
    const outcomes: RequestOutcome[] = [];
    const chunks: string[] = [];
    const plugin = definePlugin({
      name: 'recorder',
      register(ctx) { ctx.observe({ chunk: (_inv, c) => { chunks.push((c as ChatChunk).choices[0]?.delta.content ?? '-'); }, finish: (o) => { outcomes.push(o); } }); },
    });
    const settle = async (n: number) => { for (let i = 0; i < 100 && outcomes.length < n; i++) await new Promise((r) => setTimeout(r, 5)); };
    return { plugin, outcomes, chunks, settle };
  };

  it('sees a stream finish with its usage summed from chunks, a JSON answer, an error and pre-pipeline failures', async () => {
    const rec = recorder();
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, rec.plugin], providers: [cueProvider().def] });
    await gw.request('POST', '/call/a', { json: { ...ask, stream: true } });
    await gw.request('POST', '/call/a', { json: ask });
    await gw.request('POST', '/call/nope', { json: ask });
    await gw.request('POST', '/call/a', { body: '{not json', headers: { 'content-type': 'application/json' } });
    await gw.request('GET', '/missing');
    await rec.settle(5);
    const [stream, json, unknown, badJson, missing] = rec.outcomes;
    expect(stream).toMatchObject({ status: 200, stream: true, chunks: 3, code: null, usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 }, route: '/call/:name', aborted: false });
    expect(stream!.invocation?.endpoint?.name).toBe('a');
    // The kernel's first_token event names the attempt that streamed (tracing places it by that).
    expect(stream!.invocation?.events).toEqual([expect.objectContaining({ name: 'first_token', attributes: { attempt: 1 } })]);
    expect(stream!.ttfbMs).toBeGreaterThanOrEqual(0);
    expect(rec.chunks).toEqual(['a', 'b', '-']);
    expect(json).toMatchObject({ status: 200, stream: false, usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
    expect(unknown).toMatchObject({ status: 404, code: 'GW_ERR_ENDPOINT_NOT_FOUND', invocation: null });
    expect(badJson).toMatchObject({ status: 422, code: 'GW_ERR_REQUEST_INVALID_JSON' });
    expect(missing).toMatchObject({ status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', route: null });
  });

  it('an error after the first chunk ends the stream with an error event, and the outcome carries its code', async () => {
    const rec = recorder();
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, rec.plugin], providers: [cueProvider({ midStreamError: true }).def] });
    const r = await gw.request('POST', '/call/a', { json: { ...ask, stream: true } });
    expect(r.status).toBe(200);
    expect(r.events.at(-1)).toMatchObject({ error: { code: 'GW_ERR_UPSTREAM_STATUS' } });
    await rec.settle(1);
    expect(rec.outcomes[0]).toMatchObject({ status: 200, code: 'GW_ERR_UPSTREAM_STATUS' });
  });

  it('sees a client that went away mid-stream as aborted', async () => {
    const rec = recorder();
    const slow = defineProvider({
      name: 'slow', displayName: 'Slow', requiresConfig: false,
      create: () => ({
        async *chatStream(_r, call) {
          yield chunk('first');
          await new Promise((_res, rej) => call.signal.addEventListener('abort', () => rej(call.signal.reason), { once: true }));
        },
      }),
    });
    gw = await startTestGateway({ config: { endpoints: [{ name: 's', endpoint_type: 'llm/v1/chat', model: { provider: 'slow' } }] }, plugins: [surfacePlugin, rec.plugin], providers: [slow], listen: true });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/call/s`, { method: 'POST', body: JSON.stringify({ ...ask, stream: true }), headers: { 'content-type': 'application/json' }, signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await rec.settle(1);
    expect(rec.outcomes[0]).toMatchObject({ aborted: true, stream: true });
  });

  it('attempts: a policy retries, then moves to the next candidate; upstream headers and attempt numbers reach the provider; defaults apply per endpoint', async () => {
    const cue = cueProvider({ failures: [new GatewayError('GW_ERR_UPSTREAM_STATUS', 'busy', { status: 503 }), new GatewayError('GW_ERR_UPSTREAM_STATUS', 'busy', { status: 503 })] });
    const attempts: string[] = [];
    const events: Array<[string, unknown]> = [];
    const router = definePlugin({
      name: 'test-router',
      register(ctx) {
        ctx.use('route', async (inv, next) => { inv.event('routed'); inv.candidates = [ctx.gateway.lookup('a')!.info as never, ctx.gateway.lookup('b')!.info as never]; await next(); });
        ctx.use('respond', async (inv, next) => { await next(); inv.event('responded'); });
        ctx.attempts({
          before: (inv, a) => { inv.event('before'); a.upstreamHeaders.traceparent = `00-${'1'.repeat(32)}-${String(a.n).padStart(16, '0')}-01`; },
          failed: (inv, a) => { inv.event('failed'); return a.n === 1 ? { action: 'retry', delayMs: 1 } : { action: 'next' }; },
          succeeded: (inv: Invocation, a) => { inv.event('served', { attempt: 42 }); inv.setHeader('x-served-by', `${a.endpoint.name}#${a.n}`); },
        });
        ctx.observe({ finish: (o) => { events.push(...(o.invocation?.events ?? []).map((e) => [e.name, e.attributes?.attempt ?? null] as [string, unknown])); } });
        ctx.observe({ attempt: (_inv, a) => { attempts.push(`${a.endpoint.name}:${a.error?.code ?? 'ok'}`); } });
      },
    });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, router], providers: [cue.def] });
    const r = await gw.request('POST', '/call/a', { json: ask });
    expect(r.status).toBe(200);
    expect(r.headers['x-served-by']).toBe('b#3');
    expect(attempts).toEqual(['a:GW_ERR_UPSTREAM_STATUS', 'a:GW_ERR_UPSTREAM_STATUS', 'b:ok']);
    expect(cue.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(cue.calls[2]!.headers!.traceparent).toMatch(/-0000000000000003-01$/);
    expect(cue.calls.map((c) => c.temperature)).toEqual([undefined, undefined, 0.5]);
    // An event recorded during an attempt names it (the kernel adds it); before and after the attempts, none; one given is kept.
    expect(events).toEqual([['routed', null], ['before', 1], ['failed', 1], ['before', 2], ['failed', 2], ['before', 3], ['served', 42], ['responded', null]]);
  });

  it('without a policy a failed attempt fails the call with its status', async () => {
    const cue = cueProvider({ failures: [new GatewayError('GW_ERR_UPSTREAM_STATUS', 'slow down', { status: 429, headers: { 'retry-after': '7' } })] });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin], providers: [cue.def] });
    const r = await gw.request('POST', '/call/a', { json: ask });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    expect(cue.calls).toHaveLength(1);
  });
});

describe('contract v2: config slices', () => {
  const limiter: PluginDefinition = definePlugin({
    name: 'limiter',
    config: {
      endpoint: { limit: { type: 'object', required: ['calls', 'renewal_period'], additionalProperties: false, properties: { calls: { type: 'integer' }, renewal_period: { type: 'string' }, burst: { type: 'integer' }, key: { type: ['string', 'null'] } } } },
      section: { type: 'object', additionalProperties: false, properties: { password: { type: 'string' } } },
      secrets: ['password'],
    },
    register(ctx) {
      ctx.route({ method: 'GET', path: '/limits/:name', handler: async (req, gw) => ({ json: { slices: (gw.lookup(req.params.name!)?.info as { slices: unknown }).slices, password: ctx.config.password } }) });
    },
  });
  const withLimit = config();
  (withLimit.endpoints[0] as Record<string, unknown>).limit = { calls: 5, renewal_period: 'minute', burst: 10 };

  it('limit.burst is accepted only when a plugin owns limit, and the plugin gets its validated slice; secret fields resolve from $ENV', async () => {
    await expect(startTestGateway({ config: withLimit, plugins: [surfacePlugin], providers: [cueProvider().def] }))
      .rejects.toThrow(/endpoints\[0\]\.limit: no installed plugin handles 'limit' in an endpoint; install @gatehouse\/plugin-rate-limit/);
    gw = await startTestGateway({ config: { ...withLimit, limiter: { password: '$LIMITER_PASSWORD' } }, plugins: [surfacePlugin, limiter], providers: [cueProvider().def], env: { LIMITER_PASSWORD: 'hunter2-secret' } });
    const r = await gw.request('GET', '/limits/a');
    expect(r.json).toEqual({ slices: { limit: { calls: 5, renewal_period: 'minute', burst: 10 } }, password: '[REDACTED]' });
  });

  it('a route with an unknown strategy is refused naming the plugins that own strategies; with none, naming the package', async () => {
    const routeCfg = (strategy: string) => config({ routes: [{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 100 }], routing_strategy: strategy }] });
    const router = definePlugin({ name: 'my-router', config: { strategies: ['TRAFFIC_SPLIT', 'FALLBACK'] }, register() {} });
    await expect(startTestGateway({ config: routeCfg('ROUND_ROBIN'), plugins: [surfacePlugin, router], providers: [cueProvider().def] }))
      .rejects.toThrow("routes[0].routing_strategy: unknown routing_strategy 'ROUND_ROBIN'; strategies served by installed plugins: TRAFFIC_SPLIT (my-router), FALLBACK (my-router)");
    await expect(startTestGateway({ config: routeCfg('TRAFFIC_SPLIT'), plugins: [surfacePlugin], providers: [cueProvider().def] }))
      .rejects.toThrow("no installed plugin serves the routing strategy 'TRAFFIC_SPLIT'; install @gatehouse/plugin-routing");
  });

  it('a plugin or provider schema that does not compile is a start-up error naming its owner and where the schema is wrong', async () => {
    const start = (plugins: PluginDefinition[], providers = [cueProvider().def], extra: Record<string, unknown> = {}) =>
      startTestGateway({ config: config(extra), plugins: [surfacePlugin, ...plugins], providers });
    const badSection = definePlugin({ name: 'bad-section', config: { section: { type: 'object', properties: { level: { type: 'integer', maximum: 'x' } } } }, register() {} });
    await expect(start([badSection], undefined, { 'bad-section': { level: 1 } }))
      .rejects.toThrow(/^plugin 'bad-section' \(package .+\) has an invalid config schema: schema\/properties\/level\/maximum must be number$/);
    const badSlice = definePlugin({ name: 'bad-slice', config: { endpoint: { quota: { type: 'object', required: 'calls' } } }, register() {} });
    await expect(start([badSlice])).rejects.toThrow("plugin 'bad-slice' (its endpoint keys) has an invalid config schema: schema/properties/quota/required must be array");
    const cue = cueProvider().def;
    const badProvider = { ...cue, configSchema: { type: 'object', properties: { region: { enum: 'eu' } } } };
    await expect(start([], [badProvider as typeof cue]))
      .rejects.toThrow(/^provider 'cue' \(package .+\) has an invalid config schema: schema\/properties\/region\/enum must be array$/);
  });

  it('endpoint defaults from model.config are validated like request parameters', async () => {
    const bad = config();
    (bad.endpoints[1]!.model as Record<string, unknown>).config = { temperature: 'hot' };
    await expect(startTestGateway({ config: bad, plugins: [surfacePlugin], providers: [cueProvider().def] })).rejects.toThrow(/endpoints\[1\]\.model\.config\.temperature: .*a default request parameter/);
  });
});

describe('contract v2: routes declare access; httpRoutes lists them with their operation', () => {
  it('lists method, path, access, owner and the OpenAPI operation', async () => {
    const op: RouteDefinition = { method: 'GET', path: '/x', access: 'admin', openapi: { summary: 'X' }, handler: async () => ({ json: {} }) };
    const p = definePlugin({ name: 'lister', register(ctx) { ctx.route(op); } });
    gw = await startTestGateway({ config: config(), plugins: [surfacePlugin, p], providers: [cueProvider().def] });
    expect(gw.gateway().httpRoutes().find((r) => r.path === '/x')).toEqual({ method: 'GET', path: '/x', surface: '', access: 'admin', openapi: { summary: 'X' }, owner: 'lister' });
  });
});
