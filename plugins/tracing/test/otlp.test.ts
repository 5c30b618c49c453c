import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { hrTimeDuration as otelDuration, millisToHrTime as otelMillis } from '@opentelemetry/core';
import { GatewayError } from '@gatehouse/sdk';
import { hrTimeDuration, millisToHrTime, OTEL, OtlpExport } from '../src/otlp.js';
import { settingsOf } from '../src/config.js';
import { buildTrace, type RequestRecord } from '../src/model.js';
import { startCollector, type Collector } from './collector.js';
import { attempt, chatResponse, endpoint, invocation, outcome } from './fixtures.js';

let collector: Collector;
beforeEach(async () => { collector = await startCollector(); });
afterEach(async () => { await collector.close(); });

function sampleTrace() {
  const inv = invocation({ result: chatResponse('MLflow is...') as never, headers: {} });
  const ep = endpoint('chat', 'openai', 'gpt-4o-mini');
  const t0 = Date.now() - 40;
  inv.attempts.push(attempt(1, ep, t0 + 2, 8, new GatewayError('GW_ERR_UPSTREAM_STATUS', 'bad gateway', { status: 502 }), 502));
  inv.attempts.push(attempt(2, ep, t0 + 15, 20));
  inv.events.push({ name: 'retry', at: t0 + 12, attributes: { attempt: 2, delay_ms: 3 } });
  const rec: RequestRecord = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', rootSpanId: '2222222222222222',
    parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '1111111111111111', flags: 1, tracestate: null },
    headSampled: true,
    stages: [{ stage: 'receive', enter: inv.startedAt, settle: null, error: null }, { stage: 'invoke', enter: inv.startedAt + 1, settle: inv.startedAt + 38, error: null }],
    attemptSpans: new Map([[1, 'aaaaaaaaaaaaaaa1'], [2, 'aaaaaaaaaaaaaaa2']]), output: null, firstChunkAt: null,
  };
  return buildTrace(rec, outcome(inv, { startedAt: t0, durationMs: 40 }), 'sampled', { slowThresholdMs: 1000, captureContent: true, contentMaxChars: 100, stageMinMs: 0 });
}

describe('OTLP export', () => {
  it('sends the trace as OTLP/HTTP JSON spans with parent ids, GenAI attributes, events and headers', async () => {
    const s = settingsOf({ otlp: { endpoint: `${collector.url}/v1/traces`, headers: { authorization: 'Bearer collector-token' }, service_name: 'gw-test', batch: { scheduled_delay_ms: 10 } } }, {});
    const exp = new OtlpExport(s.otlp!);
    const trace = sampleTrace();
    exp.export(trace);
    await exp.forceFlush();
    await expect.poll(() => collector.spans.length, { timeout: 5000 }).toBe(trace.spans.length);
    expect(collector.requests[0]!.headers.authorization).toBe('Bearer collector-token');
    const byId = new Map(collector.spans.map((s) => [s.spanId, s]));
    const root = byId.get('2222222222222222')!;
    expect(root).toMatchObject({ traceId: trace.trace_id, parentSpanId: '1111111111111111', kind: SpanKind.SERVER + 1, scope: '@gatehouse/plugin-tracing' });
    expect(root.resource['service.name']).toBe('gw-test');
    expect(JSON.parse(root.attributes['mlflow.spanInputs'] as string)).toEqual(trace.spans[0]!.inputs);
    const invoke = collector.spans.find((s) => s.name === 'stage invoke')!;
    expect(invoke.parentSpanId).toBe('2222222222222222');
    const [a1, a2] = [byId.get('aaaaaaaaaaaaaaa1')!, byId.get('aaaaaaaaaaaaaaa2')!];
    expect(a1.parentSpanId).toBe(invoke.spanId);
    expect(a1.status).toMatchObject({ code: SpanStatusCode.ERROR });
    expect(a1.attributes['error.type']).toBe('GW_ERR_UPSTREAM_STATUS');
    expect(a2.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 3, 'gen_ai.usage.output_tokens': 5, 'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(JSON.parse(a2.attributes['gen_ai.input.messages'] as string)).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Explain MLflow' }] }]);
    expect(JSON.parse(a2.attributes['gen_ai.output.messages'] as string)).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'MLflow is...' }], finish_reason: 'stop' }]);
    expect(a2.events.map((e) => [e.name, e.attributes])).toEqual([['retry', { attempt: 2, delay_ms: 3 }]]);
    expect(Number(a2.end - a2.start) / 1e6).toBeCloseTo(20, 3);
    expect(Number(a2.events[0]!.time - root.start) / 1e6).toBeCloseTo(12, 3);
    await exp.shutdown();
  });

  it('honours OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS when the config names no endpoint', async () => {
    const saved = { ...process.env };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-collector-key=from-env';
    try {
      const s = settingsOf({ sampling_rate: 1 }, process.env);
      expect(s.otlp).not.toBeNull();
      const exp = new OtlpExport(s.otlp!);
      exp.export(sampleTrace());
      await exp.forceFlush();
      await expect.poll(() => collector.spans.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(collector.requests[0]!.path).toBe('/v1/traces');
      expect(collector.requests[0]!.headers['x-collector-key']).toBe('from-env');
      await exp.shutdown();
    } finally {
      for (const k of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS']) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  });

  it("builds spans without loading the SDK: its constants and time helpers are the SDK's own", () => {
    expect(OTEL).toEqual({
      SpanKind: { INTERNAL: SpanKind.INTERNAL, SERVER: SpanKind.SERVER, CLIENT: SpanKind.CLIENT },
      SpanStatusCode: { UNSET: SpanStatusCode.UNSET, ERROR: SpanStatusCode.ERROR },
      TraceFlags: { SAMPLED: TraceFlags.SAMPLED },
    });
    const times = [0, 1, 999.9999, 1000, 1_796_000_000_000, 1_796_000_000_123.4567, 1_796_000_000_999.9996, Date.now() + 0.25];
    for (const t of times) expect(millisToHrTime(t)).toEqual(otelMillis(t));
    for (const a of times) for (const b of times) expect(hrTimeDuration(millisToHrTime(a), millisToHrTime(b))).toEqual(otelDuration(otelMillis(a), otelMillis(b)));
  });

  it('holds traces exported before the SDK has loaded, and sends them once it has', async () => {
    const s = settingsOf({ otlp: { endpoint: `${collector.url}/v1/traces`, batch: { scheduled_delay_ms: 10 } } }, {});
    const exp = new OtlpExport(s.otlp!);
    const trace = sampleTrace();
    exp.export(trace);
    await exp.ready();
    await exp.forceFlush();
    await expect.poll(() => collector.spans.length, { timeout: 5000 }).toBe(trace.spans.length);
    expect(exp.stats()).toEqual({ exported_traces: 1 });
    await exp.shutdown();
  });
});
