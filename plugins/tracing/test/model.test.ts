import { describe, expect, it } from 'vitest';
import { GatewayError } from '@gatehouse/sdk';
import { buildTrace, isFailed, keepReason, mergeTraces, type RequestRecord } from '../src/model.js';
import { clip, inputsOf, outputsOf, accumulateChunk, newAccumulator, redact, TRUNCATED } from '../src/content.js';
import { parseTraceparent, formatTraceparent, newSpanId, newTraceId } from '../src/ids.js';
import { attempt, chatResponse, endpoint, invocation, outcome } from './fixtures.js';

const opts = { slowThresholdMs: 1000, captureContent: true, contentMaxChars: 4096, stageMinMs: 0 };

function record(inv: ReturnType<typeof invocation>, over: Partial<RequestRecord> = {}): RequestRecord {
  const p = inv.startedAt;
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    rootSpanId: '00f067aa0ba902b7',
    parent: null,
    headSampled: true,
    stages: [
      { stage: 'receive', enter: p + 0.1, settle: null, error: null },
      { stage: 'admit', enter: p + 0.4, settle: null, error: null },
      { stage: 'route', enter: p + 0.6, settle: null, error: null },
      { stage: 'invoke', enter: p + 0.8, settle: p + 45, error: null },
    ],
    attemptSpans: new Map([[1, 'aaaaaaaaaaaaaaa1'], [2, 'aaaaaaaaaaaaaaa2']]),
    output: null,
    firstChunkAt: null,
    ...over,
  };
}

describe('keepReason', () => {
  it('keeps failed and slow requests whatever the sampling, sampled ones otherwise', () => {
    expect(keepReason(false, 10, true, 1000)).toBe('error');
    expect(keepReason(false, 1000, false, 1000)).toBe('slow');
    expect(keepReason(false, 999, false, 1000)).toBeNull();
    expect(keepReason(true, 5, false, 1000)).toBe('sampled');
    expect(keepReason(true, 5000, true, 1000)).toBe('error');
  });
});

describe('traceparent', () => {
  it('reads a valid header and refuses invalid ones', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'congo=t61rcWkgMzE')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1, tracestate: 'congo=t61rcWkgMzE',
    });
    expect(parseTraceparent('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00')?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeNull();
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBeNull();
    expect(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeNull();
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra')).toBeNull();
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra')?.spanId).toBe('00f067aa0ba902b7');
    expect(parseTraceparent('garbage')).toBeNull();
    expect(parseTraceparent(undefined)).toBeNull();
  });

  it('formats, and makes ids of the right shape', () => {
    expect(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true)).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const ids = new Set(Array.from({ length: 2000 }, () => newTraceId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('content', () => {
  it('clips strings to the budget and marks the cut', () => {
    const out = clip({ messages: [{ role: 'user', content: 'x'.repeat(100) }, { role: 'user', content: 'y' }] }, 20) as any;
    expect(out.messages[0].content.startsWith('x'.repeat(10))).toBe(true);
    expect(out.messages[0].content.endsWith(TRUNCATED)).toBe(true);
    expect(JSON.stringify(out).length).toBeLessThan(150);
    expect(clip('short', 100)).toBe('short');
    expect(clip([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 12)).toEqual([1, 2, 3, TRUNCATED]);
  });

  it('takes inputs per endpoint type and never anything but content and parameters', () => {
    expect(inputsOf('llm/v1/chat', { messages: [{ role: 'user', content: 'hi' }], temperature: 0.5, unknown_field: 1 }, 100))
      .toEqual({ messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 });
    expect(inputsOf('llm/v1/completions', { prompt: 'Explain MLflow', max_tokens: 5 }, 100)).toEqual({ prompt: 'Explain MLflow', max_tokens: 5 });
    expect(inputsOf('llm/v1/embeddings', { input: ['a', 'b'] }, 100)).toEqual({ input: ['a', 'b'] });
  });

  it("shapes outputs like the seed's span ({content}) and sums streams", () => {
    expect(outputsOf('llm/v1/chat', chatResponse('MLflow is...'), 100)).toEqual({ role: 'assistant', content: 'MLflow is...', finish_reason: 'stop' });
    expect(outputsOf('llm/v1/embeddings', { data: [{ embedding: [1, 2, 3] }, { embedding: [4, 5, 6] }] }, 100)).toEqual({ embeddings: 2, dimensions: 3 });
    const acc = newAccumulator();
    for (const piece of ['Hel', 'lo ', 'world']) accumulateChunk(acc, { id: 'c1', model: 'm', choices: [{ index: 0, finish_reason: null, delta: { role: 'assistant', content: piece, tool_calls: null } }] }, 8, true);
    accumulateChunk(acc, { id: 'c1', model: 'm', choices: [{ index: 0, finish_reason: 'stop', delta: { role: null, content: null, tool_calls: null } }], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } }, 8, true);
    expect(acc.choices.get(0)!.text).toBe('Hello wo');
    expect(acc.dropped).toBe(3);
    expect(acc.usage?.completion_tokens).toBe(3);
    expect(outputsOf('llm/v1/chat', acc, 100)).toEqual({ role: 'assistant', content: `Hello wo${TRUNCATED}`, finish_reason: 'stop' });
  });

  it('masks key-shaped strings', () => {
    const t = redact('Incorrect API key provided: sk-proj-abcdefghijklmnop1234. Authorization: Bearer abc.def.ghijkl, api_key=supersecret123');
    expect(t).not.toContain('sk-proj-abcdefghijklmnop1234');
    expect(t).not.toContain('abc.def.ghijkl');
    expect(t).not.toContain('supersecret123');
    expect(redact('planted KEY-123456 here', ['KEY-123456'])).toBe('planted [REDACTED] here');
  });
});

describe('buildTrace', () => {
  it('makes a root span, stage spans and one span per attempt, with GenAI attributes and events where they happened', () => {
    const ep = endpoint('chat', 'openai', 'gpt-4o-mini');
    const fallback = endpoint('chat-backup', 'anthropic', 'claude-3-5-haiku');
    const inv = invocation({ endpoint: fallback, result: chatResponse() as never });
    const t0 = Date.now() - 50;
    inv.attempts.push(attempt(1, ep, t0 + 2, 10, new GatewayError('GW_ERR_UPSTREAM_STATUS', 'upstream said 500', { status: 500 }), 500));
    inv.attempts.push(attempt(2, fallback, t0 + 14, 30));
    inv.events.push({ name: 'fallback_triggered', at: t0 + 13, attributes: { from: 'chat', to: 'chat-backup' } });
    inv.events.push({ name: 'retry', at: t0 + 20, attributes: { attempt: 2 } });
    const rec = record(inv);
    const trace = buildTrace(rec, outcome(inv, { startedAt: t0, durationMs: 50 }), 'sampled', opts);

    expect(trace).toMatchObject({ trace_id: rec.traceId, status: 'OK', duration_ms: 50, endpoint: 'chat-backup', target: 'chat', kept: 'sampled' });
    const [root, ...rest] = trace.spans;
    expect(root).toMatchObject({ span_id: rec.rootSpanId, parent_id: null, kind: 'SERVER', name: 'POST /endpoints/:name/invocations' });
    expect(root!.inputs).toEqual({ messages: [{ role: 'user', content: 'Explain MLflow' }], temperature: 0.2 });
    expect(root!.outputs).toEqual({ role: 'assistant', content: 'MLflow is an open source platform.', finish_reason: 'stop' });
    expect(root!.attributes['gen_ai.usage.input_tokens']).toBe(3);
    const stages = rest.filter((s) => s.kind === 'INTERNAL');
    expect(stages.map((s) => s.name)).toEqual(['stage receive', 'stage admit', 'stage route', 'stage invoke']);
    expect(stages.every((s) => s.parent_id === rec.rootSpanId)).toBe(true);
    expect(stages[0]!.duration_ms).toBeCloseTo(0.3, 3); // until admit began
    const invoke = stages[3]!;
    const calls = rest.filter((s) => s.kind === 'CLIENT');
    expect(calls.map((s) => s.span_id)).toEqual(['aaaaaaaaaaaaaaa1', 'aaaaaaaaaaaaaaa2']);
    expect(calls.every((s) => s.parent_id === invoke.span_id)).toBe(true);
    expect(calls[0]).toMatchObject({ name: 'chat gpt-4o-mini', status: { code: 'ERROR' } });
    expect(calls[0]!.status.message).toContain('GW_ERR_UPSTREAM_STATUS');
    expect(calls[0]!.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'error.type': 'GW_ERR_UPSTREAM_STATUS', 'http.response.status_code': 500 });
    expect(calls[1]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-3-5-haiku',
      'gen_ai.response.model': 'gpt-4o-mini-2024', 'gen_ai.response.id': 'chatcmpl-1', 'gen_ai.usage.input_tokens': 3,
      'gen_ai.usage.output_tokens': 5, 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.request.temperature': 0.2,
    });
    // fallback_triggered happened between the attempts: in the invoke stage; retry names attempt 2.
    expect(invoke.events.map((e) => e.name)).toEqual(['fallback_triggered']);
    expect(calls[1]!.events.map((e) => e.name)).toEqual(['retry']);
    expect(calls[1]!.events[0]!.offset_ms).toBe(20);
  });

  it("hangs the root under the caller's span and marks the innermost failed stage", () => {
    const inv = invocation();
    const rec = record(inv, {
      parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '1111111111111111', flags: 1, tracestate: null },
      stages: [
        { stage: 'receive', enter: inv.startedAt, settle: inv.startedAt + 3, error: new GatewayError('GW_ERR_RATE_LIMITED', 'Rate limit exceeded') },
        { stage: 'admit', enter: inv.startedAt + 1, settle: inv.startedAt + 2.5, error: new GatewayError('GW_ERR_RATE_LIMITED', 'Rate limit exceeded') },
      ],
    });
    inv.events.push({ name: 'rate_limited', at: Date.now(), attributes: { limit: 2 } });
    const o = outcome(inv, { status: 429, code: 'GW_ERR_RATE_LIMITED', message: 'Rate limit exceeded', startedAt: Date.now() - 3, durationMs: 3, usage: null });
    const trace = buildTrace(rec, o, 'error', opts);
    expect(trace.status).toBe('ERROR');
    expect(trace.error).toEqual({ code: 'GW_ERR_RATE_LIMITED', message: 'Rate limit exceeded' });
    expect(trace.spans[0]!.parent_id).toBe('1111111111111111');
    const [receive, admit] = trace.spans.slice(1);
    expect(receive!.status.code).toBe('OK');
    expect(admit!.status).toEqual({ code: 'ERROR', message: 'GW_ERR_RATE_LIMITED: Rate limit exceeded' });
    expect(trace.spans.flatMap((s) => s.events.map((e) => e.name))).toContain('rate_limited');
  });

  it("blames the stage the kernel tagged the error with, and a client that left", () => {
    const inv = invocation();
    const err = Object.defineProperty(new GatewayError('GW_ERR_NOT_IMPLEMENTED', 'no destination'), Symbol.for('gatehouse.errorOrigin'), { value: { plugin: 'routing', stage: 'route' } });
    // routing's `pre` step ran before ours in `route`, so our route mark never began.
    const rec = record(inv, { stages: [
      { stage: 'receive', enter: inv.startedAt, settle: inv.startedAt + 2, error: err },
      { stage: 'admit', enter: inv.startedAt + 1, settle: inv.startedAt + 2, error: err },
    ] });
    const t = buildTrace(rec, outcome(inv, { status: 501, code: 'GW_ERR_NOT_IMPLEMENTED', message: 'no destination', usage: null }), 'error', opts);
    const admit = t.spans.find((s) => s.name === 'stage admit')!;
    expect(admit.status).toEqual({ code: 'ERROR', message: 'GW_ERR_NOT_IMPLEMENTED: no destination' });
    expect(admit.attributes).toMatchObject({ 'gatehouse.error.plugin': 'routing', 'gatehouse.error.stage': 'route' });
    expect(t.spans.find((s) => s.name === 'stage receive')!.status.code).toBe('OK');

    const gone = buildTrace(record(inv), outcome(inv, { aborted: true, stream: true }), 'error', opts);
    expect(gone).toMatchObject({ status: 'ERROR', http_status: 200, error: { code: 'GW_ERR_CLIENT_CLOSED' } });
    expect(keepReason(false, 5, isFailed(outcome(inv, { aborted: true })), 1000)).toBe('error');
  });

  it('leaves content out when capture is off, and drops stages that did no work', () => {
    const inv = invocation({ result: chatResponse() as never });
    const rec = record(inv, { stages: [
      { stage: 'receive', enter: inv.startedAt, settle: null, error: null },
      { stage: 'admit', enter: inv.startedAt + 0.2, settle: null, error: null },
      { stage: 'route', enter: inv.startedAt + 0.21, settle: null, error: null },
      { stage: 'invoke', enter: inv.startedAt + 0.22, settle: inv.startedAt + 9, error: null },
    ] });
    const trace = buildTrace(rec, outcome(inv), 'sampled', { ...opts, captureContent: false, stageMinMs: 0.05 });
    expect(trace.spans[0]!.inputs).toBeUndefined();
    expect(JSON.stringify(trace)).not.toContain('Explain MLflow');
    expect(trace.spans.filter((s) => s.kind === 'INTERNAL').map((s) => s.name)).toEqual(['stage receive', 'stage invoke']);
  });

  it('adds a first_token event for streams and merges traces that share an id', () => {
    const inv = invocation({ stream: true });
    const acc = newAccumulator();
    accumulateChunk(acc, { id: 'c', model: 'm', choices: [{ index: 0, finish_reason: 'stop', delta: { role: 'assistant', content: 'Hi', tool_calls: null } }] }, 100, true);
    const t0 = Date.now();
    const a = buildTrace(record(inv, { output: acc, firstChunkAt: inv.startedAt + 5 }), outcome(inv, { startedAt: t0, stream: true, durationMs: 20 }), 'sampled', opts);
    expect(a.spans[0]!.outputs).toEqual({ role: 'assistant', content: 'Hi', finish_reason: 'stop' });
    expect(a.spans.flatMap((s) => s.events).find((e) => e.name === 'first_token')?.offset_ms).toBeCloseTo(5, 3);
    const b = { ...a, start_time: new Date(t0 + 100).toISOString(), status: 'ERROR' as const, spans: a.spans.map((s) => ({ ...s, span_id: s.span_id + 'b' })) };
    const m = mergeTraces(a, b);
    expect(m.request_count).toBe(2);
    expect(m.status).toBe('ERROR');
    expect(m.duration_ms).toBe(120);
    expect(m.spans).toHaveLength(a.spans.length * 2);
    expect(m.spans.find((s) => s.span_id === a.spans[0]!.span_id + 'b')!.start_offset_ms).toBe(100);
  });
});
