/** The plugin's wiring, with a fake context: when it is on, what it joins, and the clocks it reconciles. */
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import plugin, { arrivalPerf, isActive, settingsOf } from '../src/index.js';
import { GatewayError } from '@gatehouse/sdk';
import { chatResponse, fakeContext, invocation, outcome, routeRequest, attempt, endpoint, sleep } from './fixtures.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'gatehouse-tracing-plugin-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('settings', () => {
  it('is on with any key of its own, or with the OTLP variables; off for an empty section', () => {
    expect(isActive({}, {})).toBe(false);
    expect(isActive({ enabled: true }, {})).toBe(false);
    expect(isActive({ sampling_rate: 0.2 }, {})).toBe(true);
    expect(isActive({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  });

  it("fills defaults: the seed's two keys, files in <dir>/traces, OTLP only when asked", () => {
    const s = settingsOf({ sampling_rate: 0.2, slow_threshold_ms: 1000 }, {}, '/srv/gw');
    expect(s).toMatchObject({ samplingRate: 0.2, slowThresholdMs: 1000, dir: '/srv/gw', files: true, retentionDays: 7, captureContent: true, otlp: null, viewAccess: 'public' });
    expect(settingsOf({ dir: 'data' }, { GATEHOUSE_DATA_DIR: '/var/lib/gatehouse' }, '/srv').dir).toBe('/var/lib/gatehouse/data');
    const o = settingsOf({ otlp: { endpoint: 'http://c:4318/v1/traces', headers: { authorization: '$OTLP_TOKEN' }, batch: { max_queue_size: 10 } } }, { OTLP_TOKEN: 'Bearer t0k3n' });
    expect(o.otlp).toMatchObject({ url: 'http://c:4318/v1/traces', headers: { authorization: 'Bearer t0k3n' }, batch: { maxQueueSize: 10 }, serviceName: 'gatehouse' });
    expect(settingsOf({ otlp: { enabled: false } }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }).otlp).toBeNull();
  });

  it("maps the outcome's wall-clock start onto the monotonic clock, held to what must be true", () => {
    const inv = invocation({ startedAt: 1000 });
    // Arrived at monotonic 995 (wall ...000), invocation began at 1000, answer ended at 1055; this
    // observer runs at 1060 (another observer took 5 ms), when the wall clock reads ...065.
    expect(arrivalPerf(outcome(inv, { startedAt: 1_796_000_000_000, durationMs: 60 }), 1060, 1_796_000_000_065)).toBe(995);
    // A fake clock far away: clamped into [inv start - duration, min(inv start, finish - duration)].
    expect(arrivalPerf(outcome(inv, { startedAt: 5, durationMs: 50 }), 1060, 1_796_000_000_000)).toBe(950);
    expect(arrivalPerf(outcome(inv, { startedAt: 1_796_000_000_000_000, durationMs: 50 }), 1060, 1_796_000_000_000)).toBe(1000);
  });
});

describe('register', () => {
  it('joins every stage first, sets traceparent on the answer and upstream, and records through observers', async () => {
    const f = fakeContext({ sampling_rate: 1, dir, flush_interval_ms: 1 });
    await plugin.register(f.ctx);
    expect(f.uses.map((u) => [u.stage, u.order])).toEqual([['receive', 'pre'], ['admit', 'pre'], ['route', 'pre'], ['invoke', 'pre'], ['respond', 'pre']]);
    expect(f.routes.map((r) => `${r.method} ${r.path} ${r.access}`)).toEqual([
      'GET /api/gatehouse/traces admin', 'GET /api/gatehouse/traces/:id admin', 'GET /docs/traces public', 'GET /docs/traces/assets/:file public',
    ]);
    const inv = invocation({ headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=b' } });
    const t0 = Date.now();
    await f.run(inv, {
      invoke: async (i) => {
        const a = attempt(1, endpoint(), Date.now(), 3);
        i.attempts.push(a);
        for (const p of f.policies) await p.before?.(i, a);
        expect(a.upstreamHeaders.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
        expect(a.upstreamHeaders.tracestate).toBe('a=b');
        i.result = chatResponse() as never;
      },
    });
    expect(inv.responseHeaders.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(inv.state.get('tracing')).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c' });
    f.finish(outcome(inv, { startedAt: t0, durationMs: 5 }));
    const list = await f.route('GET', '/api/gatehouse/traces').handler(routeRequest() as never, {} as never);
    const traces = (list as { json: any }).json.traces;
    expect(traces).toHaveLength(1);
    expect(traces[0].trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
    const one = (await f.route('GET', '/api/gatehouse/traces/:id').handler(routeRequest({}, { id: traces[0].trace_id }) as never, {} as never)) as { json: any };
    const stages = one.json.spans.filter((s: any) => s.kind === 'INTERNAL').map((s: any) => s.name);
    expect(stages).toContain('stage invoke');
    expect(one.json.spans.find((s: any) => s.kind === 'CLIENT').span_id).toBe(inv.attempts[0]!.upstreamHeaders.traceparent!.split('-')[2]);
    await f.close();
  });

  it('times each stage until the next began or its own next() settled, blames the innermost failed stage, and leaves other plugins the trace context', async () => {
    const f = fakeContext({ sampling_rate: 1, dir, flush_interval_ms: 1, stage_min_ms: 0 });
    await plugin.register(f.ctx);
    const inv = invocation();
    const t0 = Date.now();
    const err = new GatewayError('GW_ERR_UPSTREAM_STATUS', 'bad gateway', { status: 502 });
    await expect(f.run(inv, {
      admit: async () => { await sleep(15); },
      invoke: async () => { await sleep(25); throw err; },
    })).rejects.toBe(err);
    expect(inv.state.get('tracing')).toEqual({ traceId: expect.stringMatching(/^[0-9a-f]{32}$/), spanId: expect.stringMatching(/^[0-9a-f]{16}$/), sampled: true });
    f.finish(outcome(inv, { startedAt: t0, durationMs: Date.now() - t0, status: 502, code: 'GW_ERR_UPSTREAM_STATUS', message: 'bad gateway' }));
    // Other observers after this one still find the trace id.
    expect((inv.state.get('tracing') as { traceId: string }).traceId).toMatch(/^[0-9a-f]{32}$/);
    const id = (inv.state.get('tracing') as { traceId: string }).traceId;
    const one = (await f.route('GET', '/api/gatehouse/traces/:id').handler(routeRequest({}, { id }) as never, {} as never)) as { json: any };
    const stages = Object.fromEntries(one.json.spans.filter((s: any) => s.kind === 'INTERNAL').map((s: any) => [s.name, s]));
    expect(Object.keys(stages)).toEqual(['stage receive', 'stage admit', 'stage route', 'stage invoke']);
    expect(stages['stage admit'].duration_ms).toBeGreaterThanOrEqual(14);
    expect(stages['stage receive'].duration_ms).toBeLessThan(10);
    // Each stage ends where the next began...
    for (const [a, b] of [['receive', 'admit'], ['admit', 'route'], ['route', 'invoke']]) {
      const sa = stages[`stage ${a}`], sb = stages[`stage ${b}`];
      expect(sa.start_offset_ms + sa.duration_ms).toBeCloseTo(sb.start_offset_ms, 2);
    }
    // ...and the last one when its next() settled.
    expect(stages['stage invoke'].duration_ms).toBeGreaterThanOrEqual(24);
    expect(stages['stage invoke'].status).toEqual({ code: 'ERROR', message: 'GW_ERR_UPSTREAM_STATUS: bad gateway' });
    expect(['stage receive', 'stage admit', 'stage route'].map((n) => stages[n].status.code)).toEqual(['OK', 'OK', 'OK']);
    expect(one.json.status).toBe('ERROR');
    await f.close();
  });

  it("with scope 'all' also keeps failed requests that never reached the pipeline, but not its own pages", async () => {
    const f = fakeContext({ sampling_rate: 0, scope: 'all', dir, flush_interval_ms: 1 });
    await plugin.register(f.ctx);
    f.finish(outcome(null, { path: '/nope', route: null, status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', message: 'Not Found', usage: null }));
    f.finish(outcome(null, { path: '/health', route: '/health', status: 200, usage: null }));
    f.finish(outcome(null, { path: '/api/gatehouse/traces/xyz', route: '/api/gatehouse/traces/:id', status: 404, code: 'GW_ERR_TRACE_NOT_FOUND', message: 'No trace', usage: null }));
    const list = (await f.route('GET', '/api/gatehouse/traces').handler(routeRequest() as never, {} as never)) as { json: any };
    expect(list.json.traces.map((t: any) => [t.path, t.http_status, t.code])).toEqual([['/nope', 404, 'GW_ERR_ROUTE_NOT_FOUND']]);
    expect(list.json.stats.requests).toMatchObject({ seen: 2, kept: 1, skipped: 1 });
    await f.close();
  });

  it('with no section of its own records nothing and writes nothing, yet serves the page', async () => {
    const f = fakeContext({});
    const saved = { a: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, b: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT };
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT; delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    try {
      await plugin.register(f.ctx);
    } finally {
      if (saved.a !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved.a;
      if (saved.b !== undefined) process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved.b;
    }
    expect(f.uses).toEqual([]);
    expect(f.observers).toEqual([]);
    const page = (await f.route('GET', '/docs/traces').handler(routeRequest() as never, {} as never)) as { text: string };
    expect(page.text).toContain('traces/assets/traces.js');
    const list = (await f.route('GET', '/api/gatehouse/traces').handler(routeRequest() as never, {} as never)) as { json: any };
    expect(list.json).toMatchObject({ traces: [], stats: { enabled: false } });
    expect(readdirSync(dir)).toEqual([]);
    await f.close();
  });
});
