/**
 * Routes end to end: FALLBACK, retries, cool-downs, circuit breakers and stream fallback through the
 * whole kernel, against fake OpenAI upstreams that fail on cue, with an injected clock and random source.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, type Invocation, type RequestOutcome } from '@gatehouse/sdk';
import { startFakeUpstream, startTestGateway, type FakeHandler, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import mlflow from '@gatehouse/plugin-mlflow';
import openaiCompat from '@gatehouse/plugin-openai-compat';
import routing from '@gatehouse/plugin-routing';
import openai from '@gatehouse/provider-openai';
import { answer, CHAT, chunk, streamOf } from './helpers/upstream-answers.js';

const fail503: FakeHandler = { status: 503, json: { error: { message: 'overloaded' } } };
const MSG = { messages: [{ role: 'user', content: 'hi' }] };

/** A port with nothing listening: connections are refused. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const endpoint = (name: string, base: string, extra: Record<string, unknown> = {}) => ({
  name, endpoint_type: 'llm/v1/chat',
  model: { provider: 'openai', name: `gpt-${name}`, config: { openai_api_key: 'sk-routing-test-key', openai_api_base: `${base}/v1` } },
  ...extra,
});

interface Harness {
  gw: TestGateway;
  clock: { t: number; now(): number };
  outcomes: RequestOutcome[];
  /** The events of the last finished call. */
  events(): Array<{ name: string; attributes?: Record<string, unknown> }>;
  chat(route?: string, body?: Record<string, unknown>): ReturnType<TestGateway['request']>;
}

let open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => { await Promise.all(open.map((o) => o.close())); open = []; });

async function upstream(routes: Record<string, FakeHandler | FakeHandler[]>): Promise<FakeUpstream> {
  const up = await startFakeUpstream(routes);
  open.push(up);
  return up;
}

async function harness(config: Record<string, unknown>, opts: { random?: () => number; listen?: boolean } = {}): Promise<Harness> {
  const clock = { t: 1_700_000_000_000, now() { return this.t; } };
  const outcomes: RequestOutcome[] = [];
  const recorder = definePlugin({ name: 'outcome-recorder', register(ctx) { ctx.observe({ finish(o) { outcomes.push(o); } }); } });
  const gw = await startTestGateway({
    config, plugins: [mlflow, openaiCompat, routing, recorder], providers: [openai],
    clock, random: { next: opts.random ?? (() => 0) }, listen: opts.listen,
  });
  open.push(gw);
  return {
    gw, clock, outcomes,
    events: () => ((outcomes.at(-1)?.invocation as Invocation | null)?.events ?? []).map((e) => ({ name: e.name, attributes: e.attributes })),
    chat: (route = 'r', body = {}) => gw.request('POST', `/endpoints/${route}/invocations`, { json: { ...MSG, ...body } }),
  };
}

const routeEvents = (h: Harness) => h.events().filter((e) => ['retry', 'fallback_triggered', 'cooldown', 'breaker_open'].includes(e.name));

describe('FALLBACK', () => {
  it('answers 200 from the second destination when the first is down, naming it in x-gatehouse-endpoint', async () => {
    const b = await upstream({ [CHAT]: answer('b') });
    const port = await deadPort();
    const h = await harness({
      endpoints: [endpoint('a', `http://127.0.0.1:${port}`), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const res = await h.chat();
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe('from b');
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(res.headers['x-gatehouse-route']).toBe('r');
    expect(routeEvents(h)).toEqual([{ name: 'fallback_triggered', attributes: expect.objectContaining({ route: 'r', from: 'a', to: 'b', status: 502, code: 'GW_ERR_UPSTREAM_UNREACHABLE' }) }]);
    // every attempt is visible: a failed, b served
    const inv = h.outcomes.at(-1)!.invocation!;
    expect(inv.attempts.map((a) => [a.endpoint.name, a.error?.code ?? null])).toEqual([['a', 'GW_ERR_UPSTREAM_UNREACHABLE'], ['b', null]]);
    expect(inv.endpoint?.name).toBe('b');
    expect(res.text).not.toContain('sk-routing-test-key');
  });

  it.each([
    ['a connection reset', { reset: 'before-headers' } as FakeHandler, 'GW_ERR_UPSTREAM_UNREACHABLE'],
    ['a 503', fail503, 'GW_ERR_UPSTREAM_STATUS'],
    ['a 500', { status: 500, json: { error: { message: 'boom' } } } as FakeHandler, 'GW_ERR_UPSTREAM_STATUS'],
    ['a 429', { status: 429, json: { error: { message: 'slow down' } } } as FakeHandler, 'GW_ERR_UPSTREAM_STATUS'],
    ['invalid JSON', { raw: '{"id": "chatcmpl-a", "choi', contentType: 'application/json' } as FakeHandler, 'GW_ERR_UPSTREAM_BAD_RESPONSE'],
  ])('falls back on %s', async (_what, handler, code) => {
    const a = await upstream({ [CHAT]: handler });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const res = await h.chat();
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(1);
    expect(routeEvents(h).find((e) => e.name === 'fallback_triggered')?.attributes?.code).toBe(code);
  });

  it('falls back on a timeout', async () => {
    const a = await upstream({ [CHAT]: { hang: true } });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url, { timeout_seconds: 0.2 }), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const res = await h.chat();
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(routeEvents(h)[0]?.attributes).toMatchObject({ from: 'a', to: 'b', status: 504, code: 'GW_ERR_UPSTREAM_TIMEOUT' });
  });

  it('does not fall back on a 400: the caller gets the upstream error, naming the endpoint', async () => {
    const a = await upstream({ [CHAT]: { status: 400, json: { error: { message: 'bad request for a' } } } });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const res = await h.chat();
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ detail: 'bad request for a' });
    expect(res.headers['x-gatehouse-endpoint']).toBe('a');
    expect(b.requests).toHaveLength(0);
  });

  it('honours a configured fallback_on list', async () => {
    const a = await upstream({ [CHAT]: { status: 404, json: { error: { message: 'no such model' } } } });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', fallback_on: [404, 503], destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
  });

  it('with every destination down: a 503 naming the route, with Retry-After, after one try each', async () => {
    const [p1, p2] = [await deadPort(), await deadPort()];
    const h = await harness({
      endpoints: [endpoint('a', `http://127.0.0.1:${p1}`), endpoint('b', `http://127.0.0.1:${p2}`)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const res = await h.chat();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json.detail).toMatch(/^Every destination of route 'r' failed or is unavailable: 'a' failed \(502: Could not reach the upstream at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\.\); 'b' failed \(502: .*\)\. Retry after 1 s\.$/);
    expect(res.headers['x-gatehouse-endpoint']).toBeUndefined();
    expect(h.outcomes.at(-1)!.code).toBe('GW_ERR_ROUTE_UNAVAILABLE');
    // the OpenAI surface shows the same failure its own way
    const v1 = await h.gw.request('POST', '/v1/chat/completions', { json: { model: 'r', ...MSG } });
    expect(v1.status).toBe(503);
    expect(v1.json.error.message).toContain("Every destination of route 'r'");
  });
});

describe('retries', () => {
  it('retries a destination with jittered backoff, then serves from it', async () => {
    const a = await upstream({ [CHAT]: [fail503, { reset: 'before-headers' }, answer('a')] });
    const h = await harness({
      endpoints: [endpoint('a', a.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }], retries: { attempts: 2, backoff_ms: 40, max_backoff_ms: 1000 } }],
    }, { random: () => 0.5 });
    const res = await h.chat();
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('a');
    expect(a.requests).toHaveLength(3);
    expect(routeEvents(h).map((e) => [e.name, e.attributes?.retry, e.attributes?.delay_ms, e.attributes?.status])).toEqual([
      ['retry', 1, 20, 503], // 0.5 × 40
      ['retry', 2, 40, 502], // 0.5 × 80
    ]);
  });

  it('stops retrying at the attempt count, then falls back; each destination has its own retries', async () => {
    const a = await upstream({ [CHAT]: fail503 });
    const b = await upstream({ [CHAT]: [fail503, answer('b')] });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attempts: 1, backoff_ms: 1 } }],
    });
    const res = await h.chat();
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect([a.requests.length, b.requests.length]).toEqual([2, 2]);
    expect(routeEvents(h).map((e) => e.name)).toEqual(['retry', 'fallback_triggered', 'retry']);
  });

  it('starts no retry past max_total_ms (gateway clock), and answers 503 within that bound', async () => {
    let h!: Harness;
    // each upstream call takes 100 ms of gateway time
    const slow503: FakeHandler = () => { h.clock.t += 100; return fail503; };
    const a = await upstream({ [CHAT]: slow503 });
    const b = await upstream({ [CHAT]: slow503 });
    h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attempts: 5, backoff_ms: 10, max_backoff_ms: 10, max_total_ms: 250 } }],
    }, { random: () => 0.5 });
    const res = await h.chat();
    expect(res.status).toBe(503);
    expect(res.json.detail).toContain("'a' failed (503: overloaded); 'b' failed (503: overloaded)");
    // a: retries start after 100 and 200 ms of gateway time; a third would start past 250 ms. b: one try, no retry left in time.
    expect([a.requests.length, b.requests.length]).toEqual([3, 1]);
  });

  it('never retries the gateway’s own 429 from a destination limit, and never a 400', async () => {
    const a = await upstream({ [CHAT]: { status: 400, json: { error: { message: 'nope' } } } });
    const h = await harness({
      endpoints: [endpoint('a', a.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }], retries: { attempts: 3, backoff_ms: 1 } }],
    });
    expect((await h.chat()).status).toBe(400);
    expect(a.requests).toHaveLength(1);
  });

  it('does not retry for a client that has gone', async () => {
    const a = await upstream({ [CHAT]: { delayMs: 300, ...fail503 } });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attempts: 3, backoff_ms: 1 } }],
    }, { listen: true });
    const ctl = new AbortController();
    const pending = fetch(`${h.gw.url}/endpoints/r/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(MSG), signal: ctl.signal }).catch((e) => e);
    for (let i = 0; i < 100 && a.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    ctl.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 500));
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });
});

describe('cool-downs', () => {
  it('Retry-After on a 429 cools the destination down for every call until it expires', async () => {
    const a = await upstream({ [CHAT]: [{ status: 429, headers: { 'retry-after': '7' }, json: { error: { message: 'slow down' } } }, answer('a')] });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attempts: 2, backoff_ms: 1 } }],
    });
    const first = await h.chat();
    expect(first.headers['x-gatehouse-endpoint']).toBe('b');
    expect(routeEvents(h).map((e) => [e.name, e.attributes?.duration_ms ?? e.attributes?.to, e.attributes?.attempt])).toEqual([['cooldown', 7000, 1], ['fallback_triggered', 'b', 1]]);
    // cooling: a is not even asked (and it was not retried)
    h.clock.t += 6999;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(1);
    h.clock.t += 1;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('a');
    expect(a.requests).toHaveLength(2);
  });

  it('a 503 with Retry-After cools down too; all cooling → an immediate 503 with the soonest Retry-After, no upstream called', async () => {
    const a = await upstream({ [CHAT]: { status: 503, headers: { 'retry-after': '30' }, json: { error: { message: 'maintenance' } } } });
    const b = await upstream({ [CHAT]: { status: 429, headers: { 'retry-after': '12' }, json: { error: { message: 'slow down' } } } });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }],
    });
    const first = await h.chat();
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBe('12');
    h.clock.t += 2000;
    const second = await h.chat();
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('10');
    expect(second.json.detail).toBe("No destination of route 'r' is available: 'a' is cooling down for 28 s; 'b' is cooling down for 10 s. Retry after 10 s.");
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
  });

  it('a split without fallback passes the upstream 429 and its Retry-After on, and draws elsewhere while cooling', async () => {
    const a = await upstream({ [CHAT]: { status: 429, headers: { 'retry-after': '5' }, json: { error: { message: 'slow down' } } } });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 90 }, { name: 'b', traffic_percentage: 10 }] }],
    }, { random: () => 0.1 });
    const first = await h.chat();
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('5');
    expect(first.headers['x-gatehouse-endpoint']).toBe('a');
    const second = await h.chat(); // the same draw, but a is cooling: b takes it
    expect(second.status).toBe(200);
    expect(second.headers['x-gatehouse-endpoint']).toBe('b');
  });
});

describe('circuit breaker', () => {
  const config = (a: FakeUpstream, b: FakeUpstream) => ({
    endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
    routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], breaker: { consecutive_failures: 2, cooldown_ms: 10_000 } }],
  });

  it('opens after N failures in a row, skips the destination, half-opens one probe after its cool-down, closes on success', async () => {
    const a = await upstream({ [CHAT]: [fail503, fail503, answer('a')] });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness(config(a, b));
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(routeEvents(h).map((e) => e.name)).toEqual(['fallback_triggered']);
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(routeEvents(h).map((e) => e.name)).toEqual(['breaker_open', 'fallback_triggered']);
    expect(routeEvents(h)[0]!.attributes).toMatchObject({ endpoint: 'a', attempt: 1, reason: 'consecutive_failures', failures: 2, cooldown_ms: 10_000 });
    expect(routeEvents(h)[1]!.attributes).toMatchObject({ from: 'a', attempt: 1 });
    // open: a is skipped without a request
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    h.clock.t += 9_999;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(2);
    // half-open: one probe, which succeeds and closes it
    h.clock.t += 1;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('a');
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('a');
    expect(a.requests).toHaveLength(4);
  });

  it('a failed probe re-opens it for another cool-down', async () => {
    const a = await upstream({ [CHAT]: fail503 });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness(config(a, b));
    await h.chat();
    await h.chat();
    h.clock.t += 10_000;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(routeEvents(h)[0]).toEqual({ name: 'breaker_open', attributes: expect.objectContaining({ endpoint: 'a', reason: 'probe_failed' }) });
    expect(a.requests).toHaveLength(3);
    h.clock.t += 5_000;
    await h.chat();
    expect(a.requests).toHaveLength(3);
  });

  it('lets exactly one probe through while half-open', async () => {
    const a = await upstream({ [CHAT]: [fail503, fail503, { delayMs: 150, ...answer('a') }] });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness(config(a, b));
    await h.chat();
    await h.chat();
    h.clock.t += 10_000;
    const answers = await Promise.all([h.chat(), h.chat(), h.chat(), h.chat()]);
    expect(answers.map((r) => r.headers['x-gatehouse-endpoint']).sort()).toEqual(['a', 'b', 'b', 'b']);
    expect(a.requests).toHaveLength(3);
  });

  it('counts connection failures; a 4xx proves the upstream alive', async () => {
    const a = await upstream({ [CHAT]: [{ reset: 'before-headers' }, { status: 400, json: { error: { message: 'bad' } } }, { reset: 'before-headers' }, { reset: 'before-headers' }] });
    const b = await upstream({ [CHAT]: answer('b') });
    const h = await harness(config(a, b));
    await h.chat(); // reset: 1 failure
    expect((await h.chat()).status).toBe(400); // alive: the streak ends
    await h.chat(); // reset: 1
    expect(routeEvents(h).map((e) => e.name)).toEqual(['fallback_triggered']);
    await h.chat(); // reset: 2 → open
    expect(routeEvents(h).map((e) => e.name)).toEqual(['breaker_open', 'fallback_triggered']);
  });
});

describe('streams', () => {
  const route = { name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] };

  it('fall back before the first byte', async () => {
    const a = await upstream({ [CHAT]: fail503 });
    const b = await upstream({ [CHAT]: streamOf('b') });
    const h = await harness({ endpoints: [endpoint('a', a.url), endpoint('b', b.url)], routes: [route] });
    const res = await h.chat('r', { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(res.events.map((e) => e.choices?.[0]?.delta?.content ?? null).join('')).toBe('hello from b');
  });

  it('do not fall back after the first chunk: the client gets the error event', async () => {
    const first = `data: ${JSON.stringify(chunk('a', 'partial '))}\n\n`;
    const a = await upstream({ [CHAT]: { sse: [chunk('a', 'partial '), chunk('a', 'more'), chunk('a', null, 'stop')], reset: { afterBytes: Buffer.byteLength(first) } } });
    const b = await upstream({ [CHAT]: streamOf('b') });
    const h = await harness({ endpoints: [endpoint('a', a.url), endpoint('b', b.url)], routes: [route] });
    const res = await h.chat('r', { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('a');
    expect(res.events[0].choices[0].delta.content).toBe('partial ');
    expect(res.events.at(-1)).toHaveProperty('error');
    expect(b.requests).toHaveLength(0);
  });
});

describe('state and cooperation', () => {
  it('cool-downs and breakers survive a config reload', async () => {
    const a = await upstream({ [CHAT]: [fail503, fail503, answer('a')] });
    const b = await upstream({ [CHAT]: answer('b') });
    const config = (timeout: number) => ({
      endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], breaker: { consecutive_failures: 2, cooldown_ms: 10_000 } }],
      timeout_seconds: timeout,
    });
    const h = await harness(config(30));
    await h.chat();
    await h.chat();
    expect(await h.gw.reload(config(60))).toBe(true);
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(2);
    h.clock.t += 10_000;
    expect((await h.chat()).headers['x-gatehouse-endpoint']).toBe('a');
  });

  it('a destination refused by its own limit (GW_ERR_RATE_LIMITED, no upstream facts) hands over to the next, without a retry or a cool-down', async () => {
    const { GatewayError } = await import('@gatehouse/sdk');
    const limiter = definePlugin({
      name: 'fake-destination-limit',
      register(ctx) {
        ctx.attempts({ before(_inv, attempt) { if (attempt.endpoint.name === 'a') throw new GatewayError('GW_ERR_RATE_LIMITED', 'Rate limit exceeded: 1 per 1 minute', { headers: { 'retry-after': '60' } }); } });
      },
    });
    const a = await upstream({ [CHAT]: answer('a') });
    const b = await upstream({ [CHAT]: answer('b') });
    const clock = { t: 1_700_000_000_000, now() { return this.t; } };
    const gw = await startTestGateway({
      config: {
        endpoints: [endpoint('a', a.url), endpoint('b', b.url)],
        routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attempts: 3, backoff_ms: 1 } }],
      },
      plugins: [mlflow, limiter, routing], providers: [openai], clock, random: { next: () => 0 },
    });
    open.push(gw);
    const res = await gw.request('POST', '/endpoints/r/invocations', { json: MSG });
    expect(res.status).toBe(200);
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(1);
  });

  it('the routing: section gives every route its defaults', async () => {
    const a = await upstream({ [CHAT]: [fail503, answer('a')] });
    const h = await harness({
      endpoints: [endpoint('a', a.url)],
      routes: [{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }] }],
      routing: { retries: { attempts: 1, backoff_ms: 1 } },
    });
    const res = await h.chat();
    expect(res.status).toBe(200);
    expect(a.requests).toHaveLength(2);
    expect(routeEvents(h).map((e) => e.name)).toEqual(['retry']);
  });
});
