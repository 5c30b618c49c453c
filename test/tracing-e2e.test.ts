/**
 * Tracing end to end, with the stock distribution's plugins (MLflow surface, openai provider,
 * routing, rate limits) and fake upstreams on 127.0.0.1: sampling with an injected random
 * source, the seed's file layout and indexes, W3C trace context in and out, OTLP/HTTP spans at a
 * loopback collector, the read API, reloads, and planted keys that must appear nowhere.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, startTestGateway, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import { startCollector, type Collector } from '../plugins/tracing/test/collector.js';
import { REPO_ROOT } from './helpers/gateway.js';

const PROVIDER_KEY = 'sk-proj-PLANTEDtracingKey0123456789abcdef';
const OTLP_SECRET = 'otlp-planted-secret-7d1f0c';
const CALLER = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
const TRACEPARENT = `00-${CALLER.traceId}-${CALLER.spanId}-01`;

const answer = (content: string) => ({
  id: 'chatcmpl-42', object: 'chat.completion', created: 1, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});
const chunk = (content: string | null, finish: string | null = null) => ({
  id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, delta: content === null ? {} : { role: 'assistant', content }, finish_reason: finish }],
});

let up: FakeUpstream;
let collector: Collector;
let gw: TestGateway;
let dir: string;
let draws: number[] = [];

const ep = (name: string, base: string, extra: Record<string, unknown> = {}) => ({
  name, endpoint_type: 'llm/v1/chat',
  model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: PROVIDER_KEY, openai_api_base: `${up.url}/${base}/v1` } },
  ...extra,
});

const config = (tracing: Record<string, unknown>) => ({
  endpoints: [
    ep('chat', 'ok'),
    ep('chat2', 'ok'),
    ep('flaky', 'flaky'),
    ep('slow', 'slow'),
    ep('limited', 'ok', { limit: { calls: 1, renewal_period: 'minute' } }),
  ],
  routes: [{
    name: 'chat-safe', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK',
    destinations: [{ name: 'flaky' }, { name: 'chat2' }],
    retries: { attempts: 1, backoff_ms: 1, max_backoff_ms: 1 },
  }],
  tracing: {
    dir,
    flush_interval_ms: 10,
    otlp: { endpoint: `${collector.url}/v1/traces`, headers: { authorization: `Bearer ${OTLP_SECRET}` }, service_name: 'gatehouse-e2e', batch: { scheduled_delay_ms: 20 } },
    ...tracing,
  },
});

const call = (target: string, content = 'Explain MLflow', headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  gw.request('POST', `/endpoints/${target}/invocations`, { json: { messages: [{ role: 'user', content }], ...extra }, headers });
const list = async (q = '') => (await gw.request('GET', `/api/gatehouse/traces${q}`)).json;
const today = () => new Date().toISOString().slice(0, 10);

/** Every file under a directory, recursively. */
function files(root: string): string[] {
  return readdirSync(root).flatMap((f) => {
    const p = join(root, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-tracing-e2e-'));
  collector = await startCollector();
  up = await startFakeUpstream({
    'POST /ok/v1/chat/completions': (req) => (req.json?.stream
      ? { sse: [chunk('MLflow '), chunk('is '), chunk('great.'), chunk(null, 'stop'), '[DONE]'], chunkDelayMs: 5 }
      : { json: answer(`You said: ${req.json?.messages?.[0]?.content ?? ''}`) }),
    // An upstream that echoes the key it was sent in its error, as some do.
    'POST /flaky/v1/chat/completions': (req) => ({ status: 500, json: { error: { message: `Internal error for key ${String(req.headers.authorization).replace('Bearer ', '')}`, type: 'server_error' } } }),
    'POST /slow/v1/chat/completions': { delayMs: 1700, json: answer('slow but sure') },
  });
  gw = await startTestGateway({
    hostDir: REPO_ROOT,
    config: config({ sampling_rate: 0, slow_threshold_ms: 1500 }),
    random: { next: () => (draws.length ? draws.shift()! : 0.5) },
  });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await collector?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tracing end to end', () => {
  const ids: Record<string, string> = {};

  it('at sampling_rate 0 keeps only the slow and the failed requests, in the seed layout', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call('chat', `fast ${i}`);
      expect(r.status).toBe(200);
      expect(r.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      ids[`fast${i}`] = r.headers['x-request-id'] as string;
    }
    const slow = await call('slow');
    expect(slow.status).toBe(200);
    const failed = await call('flaky');
    expect(failed.status).toBe(500);
    const ok = await call('limited');
    const limited = await call('limited');
    expect([ok.status, limited.status]).toEqual([200, 429]);
    Object.assign(ids, { slow: slow.headers['x-request-id'], failed: failed.headers['x-request-id'], limited: limited.headers['x-request-id'], limitedOk: ok.headers['x-request-id'] });
    const traceOf = (r: { headers: Record<string, unknown> }) => String(r.headers.traceparent).split('-')[1]!;

    const body = await list();
    const kept = body.traces.map((t: any) => t.request_id).sort();
    expect(kept).toEqual([ids.slow, ids.failed, ids.limited].sort());
    expect(Object.fromEntries(body.traces.map((t: any) => [t.request_id, t.kept]))).toEqual({ [ids.slow!]: 'slow', [ids.failed!]: 'error', [ids.limited!]: 'error' });
    expect(body.stats.requests).toMatchObject({ seen: 7, kept: 3, skipped: 4 });

    const root = join(dir, 'traces');
    const day = today();
    expect(readdirSync(join(root, day)).sort()).toEqual([slow, failed, limited].map((r) => `${traceOf(r)}.json`).sort());
    expect(readdirSync(join(root, 'indexes')).sort()).toEqual(['by_duration', 'by_status']);
    const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines(join(root, 'indexes', 'by_status', 'OK', `${day}.jsonl`)).map((e) => e.trace_id)).toEqual([traceOf(slow)]);
    expect(lines(join(root, 'indexes', 'by_status', 'ERROR', `${day}.jsonl`)).map((e) => e.trace_id).sort()).toEqual([traceOf(failed), traceOf(limited)].sort());
    expect(lines(join(root, 'indexes', 'by_duration', '1000-2500ms', `${day}.jsonl`)).map((e) => e.trace_id)).toEqual([traceOf(slow)]);

    const limitedTrace = JSON.parse(readFileSync(join(root, day, `${traceOf(limited)}.json`), 'utf8'));
    expect(limitedTrace).toMatchObject({ status: 'ERROR', http_status: 429, error: { code: 'GW_ERR_RATE_LIMITED' } });
    // The limiter refuses the destination's attempt before any upstream call: the attempt span fails, with the event.
    const refused = limitedTrace.spans.find((s: any) => s.kind === 'CLIENT');
    expect(refused.status).toEqual({ code: 'ERROR', message: 'GW_ERR_RATE_LIMITED: Rate limit exceeded: 1 per 1 minute' });
    expect(refused.attributes['http.response.status_code']).toBeUndefined();
    expect(refused.events.map((e: any) => e.name)).toEqual(['rate_limited']);
    expect(limitedTrace.spans[0].status.code).toBe('ERROR');
  });

  it('answers the read API with filters, one trace by id, and clear errors', async () => {
    expect((await list('?status=ERROR')).traces.map((t: any) => t.request_id).sort()).toEqual([ids.failed, ids.limited].sort());
    expect((await list('?min_duration_ms=1500')).traces.map((t: any) => t.request_id)).toEqual([ids.slow]);
    expect((await list('?endpoint=flaky')).traces.map((t: any) => t.request_id)).toEqual([ids.failed]);
    expect((await list('?limit=1')).traces).toHaveLength(1);
    const first = (await list('?status=error&endpoint=limited')).traces[0];
    const one = await gw.request('GET', `/api/gatehouse/traces/${first.trace_id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ trace_id: first.trace_id, request_id: ids.limited, status: 'ERROR' });
    expect((await gw.request('GET', `/api/gatehouse/traces/${'e'.repeat(32)}`)).status).toBe(404);
    const bad = await gw.request('GET', '/api/gatehouse/traces?status=MAYBE');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("'status' must be OK or ERROR");
  });

  it("puts a fallback call inside the caller's trace: a span per attempt, each sent upstream as its traceparent", async () => {
    expect(await gw.reload(config({ sampling_rate: 1, slow_threshold_ms: 1500, content_max_chars: 40 }))).toBe(true);
    up.reset();
    const long = 'Please explain MLflow tracing in great detail, with examples. '.repeat(4);
    const r = await call('chat-safe', long, { traceparent: TRACEPARENT, tracestate: 'vendor=abc' });
    expect(r.status).toBe(200);
    expect(r.headers.traceparent).toMatch(new RegExp(`^00-${CALLER.traceId}-[0-9a-f]{16}-01$`));
    const rootSpanId = String(r.headers.traceparent).split('-')[2];

    const sent = up.requests.map((q) => ({ path: q.pathname, tp: String(q.headers.traceparent), ts: q.headers.tracestate }));
    expect(sent.map((s) => s.path)).toEqual(['/flaky/v1/chat/completions', '/flaky/v1/chat/completions', '/ok/v1/chat/completions']);
    const upstreamSpans = sent.map((s) => {
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(s.tp)!;
      expect(m[1]).toBe(CALLER.traceId);
      expect(s.ts).toBe('vendor=abc');
      return m[2]!;
    });
    expect(new Set(upstreamSpans).size).toBe(3);

    const trace = (await gw.request('GET', `/api/gatehouse/traces/${CALLER.traceId}`)).json;
    ids.fallbackTrace = trace.trace_id;
    const root = trace.spans.find((s: any) => s.span_id === rootSpanId);
    expect(root).toMatchObject({ parent_id: CALLER.spanId, kind: 'SERVER', status: { code: 'OK' } });
    // content_max_chars: 40 characters of text in all ('user' takes 4), then the marker.
    expect(root.inputs.messages[0]).toEqual({ role: 'user', content: `${long.slice(0, 36)}…[truncated]` });
    expect(root.outputs.content.length).toBeLessThanOrEqual(40 + '…[truncated]'.length);
    const invoke = trace.spans.find((s: any) => s.name === 'stage invoke');
    expect(invoke.parent_id).toBe(rootSpanId);
    const attempts = trace.spans.filter((s: any) => s.kind === 'CLIENT');
    expect(attempts.map((s: any) => s.span_id)).toEqual(upstreamSpans);
    expect(attempts.every((s: any) => s.parent_id === invoke.span_id)).toBe(true);
    expect(attempts.map((s: any) => [s.attributes['gatehouse.endpoint'], s.status.code, s.attributes['http.response.status_code']]))
      .toEqual([['flaky', 'ERROR', 500], ['flaky', 'ERROR', 500], ['chat2', 'OK', 200]]);
    expect(attempts[2].attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    const events = trace.spans.flatMap((s: any) => s.events.map((e: any) => e.name));
    expect(events).toEqual(expect.arrayContaining(['retry', 'fallback_triggered']));
    // Each routing event sits on the span of the attempt it names (not on whichever span's time holds it).
    expect(attempts.map((s: any) => s.events.map((e: any) => e.name))).toEqual([['retry'], ['fallback_triggered'], []]);
    for (const s of trace.spans) {
      expect(s.start_offset_ms).toBeGreaterThanOrEqual(0);
      expect(s.start_offset_ms + s.duration_ms).toBeLessThanOrEqual(trace.duration_ms + 2);
    }
  });

  it('exports the same spans over OTLP/HTTP: parent ids, GenAI attributes, events', async () => {
    await expect.poll(() => collector.spans.filter((s) => s.traceId === CALLER.traceId && s.kind === 3).length, { timeout: 10_000 }).toBe(3);
    const spans = collector.spans.filter((s) => s.traceId === CALLER.traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(root.parentSpanId).toBe(CALLER.spanId);
    expect(root.resource['service.name']).toBe('gatehouse-e2e');
    expect(root.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200, 'gatehouse.traffic_route': 'chat-safe' });
    const invoke = spans.find((s) => s.name === 'stage invoke')!;
    expect(invoke.parentSpanId).toBe(root.spanId);
    const calls = spans.filter((s) => s.kind === 3);
    expect(calls.every((s) => s.parentSpanId === invoke.spanId)).toBe(true);
    const served = calls.find((s) => s.attributes['gatehouse.endpoint'] === 'chat2')!;
    expect(served.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': 7, 'gen_ai.response.finish_reasons': ['stop'] });
    expect(JSON.parse(served.attributes['gen_ai.input.messages'] as string)[0].role).toBe('user');
    expect(calls.filter((s) => s.status.code === 2)).toHaveLength(2);
    const names = spans.flatMap((s) => s.events.map((e) => e.name));
    expect(names).toEqual(expect.arrayContaining(['retry', 'fallback_triggered']));
    const fb = spans.flatMap((s) => s.events).find((e) => e.name === 'fallback_triggered')!;
    expect(fb.attributes).toMatchObject({ from: 'flaky', to: 'chat2' });
    expect(fb.time >= root.start && fb.time <= root.end).toBe(true);
    expect(collector.requests.every((q) => q.headers.authorization === `Bearer ${OTLP_SECRET}`)).toBe(true);
  });

  it('records a stream: its output, first_token, and usage', async () => {
    const r = await call('chat', 'stream please', {}, { stream: true });
    expect(r.status).toBe(200);
    const id = String(r.headers.traceparent).split('-')[1]!;
    const trace = (await gw.request('GET', `/api/gatehouse/traces/${id}`)).json;
    expect(trace.stream).toBe(true);
    expect(trace.spans[0].outputs).toEqual({ role: 'assistant', content: 'MLflow is great.', finish_reason: 'stop' });
    const call1 = trace.spans.find((s: any) => s.kind === 'CLIENT');
    expect(call1.events.map((e: any) => e.name)).toContain('first_token');
  });

  it('keeps the share the injected random source picks, and leaves content out when told', async () => {
    expect(await gw.reload(config({ sampling_rate: 0.5, slow_threshold_ms: 1500, capture_content: false }))).toBe(true);
    const before = (await list('?limit=500')).traces.length;
    draws = [0.1, 0.9, 0.49, 0.5];
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await call('chat', `secret prompt ${i}`));
    const kept = (await list('?limit=500')).traces.map((t: any) => t.request_id);
    expect(kept.length - before).toBe(2);
    expect(kept).toEqual(expect.arrayContaining([rs[0]!.headers['x-request-id'], rs[2]!.headers['x-request-id']]));
    expect(kept).not.toContain(rs[1]!.headers['x-request-id']);
    expect(kept).not.toContain(rs[3]!.headers['x-request-id']);
    expect(rs.map((r) => String(r.headers.traceparent).slice(-2))).toEqual(['01', '00', '01', '00']);
    const t = (await gw.request('GET', `/api/gatehouse/traces/${String(rs[0]!.headers.traceparent).split('-')[1]}`)).json;
    expect(t.spans[0].inputs).toBeUndefined();
    expect(JSON.stringify(t)).not.toContain('secret prompt');
    // The writer survived both reloads: one store, its counters carried on.
    const stats = (await list()).stats;
    expect(stats.files.written).toBeGreaterThanOrEqual(before + 2);
    expect(stats.files.dropped).toBe(0);
  });

  it('writes what is still queued, files and OTLP, when the gateway stops', async () => {
    expect(await gw.reload(config({ sampling_rate: 1, flush_interval_ms: 60_000, otlp: { endpoint: `${collector.url}/v1/traces`, headers: { authorization: `Bearer ${OTLP_SECRET}` }, batch: { scheduled_delay_ms: 60_000 } } }))).toBe(true);
    const r = await call('chat', 'last words');
    const id = String(r.headers.traceparent).split('-')[1]!;
    const file = join(dir, 'traces', today(), `${id}.json`);
    expect(() => statSync(file)).toThrow();
    await gw.close();
    gw = undefined as never;
    expect(JSON.parse(readFileSync(file, 'utf8')).trace_id).toBe(id);
    await expect.poll(() => collector.spans.some((sp) => sp.traceId === id), { timeout: 5000 }).toBe(true);
  });

  it('never writes or exports a key', async () => {
    await expect.poll(() => collector.requests.length > 0).toBe(true);
    const written = files(dir).map((f) => readFileSync(f, 'utf8'));
    expect(written.length).toBeGreaterThan(5);
    const payloads = collector.requests.map((q) => q.raw);
    for (const text of [...written, ...payloads]) {
      expect(text).not.toContain(PROVIDER_KEY);
      expect(text).not.toContain(OTLP_SECRET);
      expect(text.toLowerCase()).not.toContain('authorization');
    }
    // The flaky upstream did echo the key: the trace shows that it failed, not the key.
    const failed = written.find((t) => t.includes('Internal error for key'));
    expect(failed).toContain('[REDACTED]');
  });
});
