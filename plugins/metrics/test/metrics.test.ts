import { describe, expect, it } from 'vitest';
import { AggregatorRegistry, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../src/fast.js';
import {
  attemptKind, codeLabel, createMetrics, overheadMs, parseListen, serveMetrics, statusClass, targetLabels, STATE_KEY,
} from '../src/index.js';
import { fakeAttempt as attempt, fakeEndpoint as endpoint, fakeInvocation as invocation, fakeOutcome as outcome, fakeRoute as route } from '@gatehouse/sdk/testing';

const noDefaults = () => createMetrics({ defaultMetrics: false });

/** One metric's samples as `{labels, value}` rows. */
async function samples(m: ReturnType<typeof createMetrics>, name: string) {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

describe('label helpers', () => {
  it('maps statuses to classes and keeps codes to the catalogue', () => {
    expect([200, 201, 404, 429, 502, 99, 700].map(statusClass)).toEqual(['2xx', '2xx', '4xx', '4xx', '5xx', 'other', 'other']);
    expect(codeLabel('GW_ERR_RATE_LIMITED')).toBe('GW_ERR_RATE_LIMITED');
    expect(codeLabel('GW_ERR_SOMETHING_MADE_UP')).toBe('(other)');
    expect(codeLabel(null)).toBe('(none)');
  });

  it('takes endpoint and route labels only from configured objects', () => {
    expect(targetLabels(null)).toEqual({ endpoint: '(none)', route: '(none)', provider: '(none)', model: '(none)' });
    const ep = endpoint('chat', 'anthropic', null);
    expect(targetLabels(invocation({ endpoint: ep }))).toEqual({ endpoint: 'chat', route: '(none)', provider: 'anthropic', model: '(none)' });
    // A traffic route whose endpoint is known only through its last attempt.
    const b = endpoint('b');
    const inv = invocation({ route: route('split', ['a', 'b']), target: 'split', attempts: [attempt(1, endpoint('a'), { error: 'GW_ERR_UPSTREAM_STATUS' }), attempt(2, b)] });
    expect(targetLabels(inv)).toEqual({ endpoint: 'b', route: 'split', provider: 'openai', model: 'gpt-4o-mini' });
  });

  it('tells retries from fallbacks', () => {
    const a = endpoint('a'), b = endpoint('b');
    const inv = invocation({ attempts: [attempt(1, a), attempt(2, a), attempt(3, b)] });
    expect(inv.attempts.map((x) => attemptKind(inv, x))).toEqual(['first', 'retry', 'fallback']);
  });

  it('computes overhead as total minus upstream time, never negative', () => {
    const a = endpoint('a');
    expect(overheadMs(150, invocation({ startedAt: 10, attempts: [attempt(1, a, { upstreamMs: 60 }), attempt(2, a, { upstreamMs: 70 })] }))).toBe(10);
    expect(overheadMs(100, invocation({ startedAt: 10, attempts: [attempt(1, a, { upstreamMs: 200 })] }))).toBe(0);
    // A primed stream: the successful attempt counts whole up to its first chunk (its upstreamMs is still just the header wait).
    const streaming = attempt(2, a, { upstreamMs: 20 });
    streaming.durationMs = 90;
    const inv = invocation({ startedAt: 0, stream: true, attempts: [attempt(1, a, { upstreamMs: 30, error: 'GW_ERR_UPSTREAM_STATUS' }), streaming] });
    inv.result = (async function* () { yield 1; })() as never;
    expect(overheadMs(125, inv)).toBe(5);
    inv.result = null;
    expect(overheadMs(125, inv)).toBe(75);
  });

  it('parses listen addresses', () => {
    expect(parseListen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => parseListen('localhost')).toThrow(/host:port/);
    expect(() => parseListen('h:70000')).toThrow(/65535/);
  });
});

describe('createMetrics', () => {
  it("counts seed 003's three metrics with bounded labels", async () => {
    const m = noDefaults();
    const chat = endpoint('chat');
    m.finish(outcome({ invocation: invocation({ endpoint: chat }), durationMs: 250 }));
    m.finish(outcome({ invocation: invocation({ endpoint: chat }), status: 502, code: 'GW_ERR_UPSTREAM_STATUS', durationMs: 30 }));
    const text = await m.registry.metrics();
    expect(text).toContain('gateway_requests_total{surface="mlflow",handler="/endpoints/:name/invocations",endpoint="chat",route="(none)",provider="openai",model="gpt-4o-mini",status_class="2xx"} 1');
    expect(text).toContain('status_class="5xx"} 1');
    expect(text).toContain('gateway_errors_total{surface="mlflow",handler="/endpoints/:name/invocations",endpoint="chat",route="(none)",provider="openai",model="gpt-4o-mini",code="GW_ERR_UPSTREAM_STATUS"} 1');
    expect(text).toMatch(/gateway_latency_seconds_bucket\{[^}]*status_class="2xx",le="0\.25"\} 1/);
    expect(text).toMatch(/gateway_latency_seconds_bucket\{[^}]*status_class="2xx",le="0\.1"\} 0/);
    expect(text).toMatch(/gateway_latency_seconds_bucket\{[^}]*status_class="2xx",le="\+Inf"\} 1/);
    expect(text).toMatch(/gateway_latency_seconds_count\{[^}]*status_class="5xx"\} 1/);
    expect(text).toMatch(/gateway_latency_seconds_sum\{[^}]*status_class="2xx"\} 0\.25/);
  });

  it('does not grow label sets for unknown names and random paths', async () => {
    const m = noDefaults();
    for (let i = 0; i < 100; i++) {
      const junk = Math.random().toString(36).slice(2);
      // An unknown endpoint name: the kernel answers 404 before the pipeline, so there is no invocation.
      m.finish(outcome({ path: `/endpoints/${junk}/invocations`, status: 404, code: 'GW_ERR_ENDPOINT_NOT_FOUND' }));
      m.finish(outcome({ path: `/${junk}`, route: null, surface: null, method: 'GET', status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND' }));
    }
    const reqs = await samples(m, 'gateway_requests_total');
    expect(reqs).toHaveLength(2);
    expect(reqs.reduce((s, v) => s + v.value, 0)).toBe(200);
    expect((await samples(m, 'gateway_errors_total')).map((v) => v.labels.code).sort()).toEqual(['GW_ERR_ENDPOINT_NOT_FOUND', 'GW_ERR_ROUTE_NOT_FOUND']);
    expect(reqs.find((v) => v.labels.handler === '(unmatched)')?.labels).toMatchObject({ surface: '(none)', endpoint: '(none)' });
  });

  it('records upstream time, overhead, ttft, tokens, refusals, fallbacks and events', async () => {
    const m = noDefaults();
    const a = endpoint('a', 'openai', 'gpt-4o'), b = endpoint('b', 'anthropic', 'claude');
    const first = attempt(1, a, { upstreamMs: 40, error: 'GW_ERR_UPSTREAM_STATUS' });
    const second = attempt(2, b, { upstreamMs: 500 });
    const inv = invocation({ route: route('split', ['a', 'b']), target: 'split', endpoint: b, stream: true, attempts: [first, second],
      events: [{ name: 'fallback_triggered', at: 1 }, { name: 'first_token', at: 2 }, { name: 'not_a_counted_event', at: 3 }] });
    m.attempt(inv, first);
    m.attempt(inv, second);
    inv.result = (async function* () { yield 1; })() as never;
    m.answerReady(inv, 3);
    expect((await samples(m, 'gateway_active_streams')).map((v) => v.value)).toEqual([1]);
    m.finish(outcome({ invocation: inv, stream: true, chunks: 5, ttfbMs: 600, durationMs: 900, upstreamMs: 800,
      usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } }));
    m.finish(outcome({ invocation: invocation({ endpoint: a }), status: 429, code: 'GW_ERR_RATE_LIMITED' }));

    expect((await samples(m, 'gateway_active_streams')).map((v) => v.value)).toEqual([0]);
    const attempts = await samples(m, 'gateway_upstream_attempts_total');
    expect(attempts.map((v) => [v.labels.endpoint, v.labels.outcome, v.value])).toEqual([['a', 'GW_ERR_UPSTREAM_STATUS', 1], ['b', 'ok', 1]]);
    const up = await samples(m, 'gateway_upstream_latency_seconds');
    expect(up.find((v) => v.metricName === 'gateway_upstream_latency_seconds_sum' && v.labels.endpoint === 'b')?.value).toBe(0.5);
    const overhead = await samples(m, 'gateway_overhead_seconds');
    // The overhead measured at the first chunk (3 ms) wins over duration - upstream.
    expect(overhead.find((v) => v.metricName === 'gateway_overhead_seconds_sum' && v.labels.route === 'split')?.value).toBe(0.003);
    const ttft = await samples(m, 'gateway_time_to_first_token_seconds');
    expect(ttft.find((v) => v.metricName === 'gateway_time_to_first_token_seconds_sum')).toMatchObject({ value: 0.6, labels: { endpoint: 'b', route: 'split', provider: 'anthropic', model: 'claude' } });
    const tokens = await samples(m, 'gateway_tokens_total');
    expect(tokens.map((v) => [v.labels.type, v.value])).toEqual([['input', 12], ['output', 30]]);
    expect((await samples(m, 'gateway_rate_limited_total')).map((v) => [v.labels.endpoint, v.value])).toEqual([['a', 1]]);
    expect((await samples(m, 'gateway_fallback_attempts_total')).map((v) => [v.labels.route, v.labels.endpoint, v.labels.kind, v.value])).toEqual([['split', 'b', 'fallback', 1]]);
    expect((await samples(m, 'gateway_pipeline_events_total')).map((v) => [v.labels.event, v.value])).toEqual([['fallback_triggered', 1], ['first_token', 1]]);
  });

  it('follows breaker_open events for configured endpoints only', async () => {
    const m = noDefaults();
    const a = endpoint('a');
    const inv = invocation({ route: route('split', ['a', 'b']), events: [{ name: 'breaker_open', at: 1, attributes: { endpoint: 'a' } }, { name: 'breaker_open', at: 1, attributes: { endpoint: 'zzz' } }] });
    m.finish(outcome({ invocation: inv, status: 503, code: 'GW_ERR_UPSTREAM_UNREACHABLE' }));
    expect((await samples(m, 'gateway_breaker_open')).map((v) => [v.labels.endpoint, v.value])).toEqual([['a', 1]]);
    m.attempt(invocation({ endpoint: a }), attempt(1, a));
    expect((await samples(m, 'gateway_breaker_open')).map((v) => [v.labels.endpoint, v.value])).toEqual([['a', 0]]);
  });

  it('counts reloads after the first generation and marks the last load', async () => {
    const m = noDefaults();
    m.generationStarted(1_700_000_000_000);
    expect((await samples(m, 'gateway_config_reloads_total'))[0]?.value ?? 0).toBe(0);
    m.generationStarted(1_700_000_060_000);
    m.generationStarted(1_700_000_120_000);
    expect((await samples(m, 'gateway_config_reloads_total'))[0]?.value).toBe(2);
    expect((await samples(m, 'gateway_config_last_reload_success_timestamp_seconds'))[0]?.value).toBe(1_700_000_120);
  });

  it('keeps the overhead mark on the invocation state', () => {
    const m = noDefaults();
    const inv = invocation();
    m.answerReady(inv, 1.5);
    expect(inv.state.get(STATE_KEY)).toEqual({ overheadMs: 1.5 });
  });

  it('includes Node default metrics unless turned off', async () => {
    expect(await createMetrics().registry.metrics()).toContain('process_cpu_user_seconds_total');
    expect(await noDefaults().registry.metrics()).not.toContain('process_cpu_user_seconds_total');
  });

  it("sums workers' registries as prom-client's aggregator does in the primary", async () => {
    const w1 = noDefaults(), w2 = noDefaults();
    for (const [w, n] of [[w1, 3], [w2, 4]] as const) {
      w.generationStarted(0);
      w.generationStarted(1000);
      for (let i = 0; i < n; i++) w.finish(outcome({ invocation: invocation({ endpoint: endpoint('chat') }) }));
    }
    const agg = AggregatorRegistry.aggregate([await w1.registry.getMetricsAsJSON(), await w2.registry.getMetricsAsJSON()]);
    const text = await agg.metrics();
    expect(text).toMatch(/gateway_requests_total\{[^}]*endpoint="chat"[^}]*\} 7/);
    expect(text).toMatch(/gateway_latency_seconds_count\{[^}]*\} 7/);
    // Every worker reloaded once: the aggregate says one reload, not two.
    expect(text).toContain('gateway_config_reloads_total 1');
  });
});

describe('FastCounter and FastHistogram', () => {
  it('render like prom-client metrics: cumulative buckets with le, +Inf, _sum and _count', async () => {
    const registry = new Registry();
    const c = new FastCounter('t_total', 'help', ['a', 'b'], registry);
    const h = new FastHistogram('t_seconds', 'help', ['a'], [0.1, 1], registry);
    c.inc(['x', 'y']); c.inc(['x', 'y'], 2); c.inc(['x', 'z'], 0); c.inc(['x', 'z'], Number.NaN); c.inc(['x', 'z'], -1);
    for (const v of [0.05, 0.1, 0.5, 5, Number.NaN]) h.observe(['q'], v);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE t_total counter\nt_total{a="x",b="y"} 3');
    expect(text).not.toContain('b="z"');
    expect(text).toContain([
      '# TYPE t_seconds histogram',
      't_seconds_bucket{a="q",le="0.1"} 2', 't_seconds_bucket{a="q",le="1"} 3', 't_seconds_bucket{a="q",le="+Inf"} 4',
      't_seconds_sum{a="q"} 5.65', 't_seconds_count{a="q"} 4',
    ].join('\n'));
    expect(() => new FastCounter('t_total', 'again', [], registry)).toThrow(/already been registered/);
  });

  it('keeps one series per label tuple, listed in the order first used', async () => {
    const registry = new Registry();
    const c = new FastCounter('u_total', 'help', ['a', 'b', 'c'], registry);
    const tuples = [['x', 'y', 'z'], ['x', 'y', 'q'], ['x', 'w', 'z'], ['w', 'y', 'z'], ['x\u0001y', 'z', ''], ['x', 'y\u0001z', '']];
    for (const [i, t] of tuples.entries()) for (let n = 0; n <= i; n++) c.inc(t);
    c.inc(['x', 'y', 'z'], 10);
    const none = new FastCounter('v_total', 'help', [], registry);
    none.inc([]); none.inc([], 2);
    const values = (await c.get()).values;
    expect(values.map((v) => [v.labels.a, v.labels.b, v.labels.c, v.value])).toEqual(tuples.map((t, i) => [...t, i === 0 ? 11 : i + 1]));
    expect((await none.get()).values).toEqual([{ labels: {}, value: 3 }]);
  });
});

describe('serveMetrics', () => {
  it('answers GET /metrics on its own address and nothing else', async () => {
    const m = noDefaults();
    m.finish(outcome());
    const srv = await serveMetrics({ host: '127.0.0.1', port: 0 }, async () => ({ text: await m.registry.metrics(), contentType: m.registry.contentType }), () => {});
    try {
      const res = await fetch(srv.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toContain('gateway_requests_total');
      expect((await fetch(srv.url.replace('/metrics', '/other'))).status).toBe(404);
      expect((await fetch(srv.url, { method: 'POST' })).status).toBe(405);
    } finally { await srv.close(); }
  });

  it('refuses an address in use', async () => {
    const srv = await serveMetrics({ host: '127.0.0.1', port: 0 }, async () => ({ text: '', contentType: 'text/plain' }), () => {});
    try {
      const port = Number(new URL(srv.url).port);
      await expect(serveMetrics({ host: '127.0.0.1', port }, async () => ({ text: '', contentType: 'text/plain' }), () => {})).rejects.toThrow(/EADDRINUSE/);
    } finally { await srv.close(); }
  });
});
