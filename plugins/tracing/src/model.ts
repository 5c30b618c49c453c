/**
 * The trace model of seed 003 — a trace per request (`trace_id`, `start_time`, `duration_ms`,
 * `status`) made of spans (`span_id`, `parent_id`, `name`, `inputs`, `outputs`, `duration_ms`,
 * status, `events`) — and the pure function that builds one from what the pipeline let us see.
 */
import type { Attempt, EndpointType, Invocation, InvocationEvent, RequestOutcome, Stage, Usage } from '@gatehouse/sdk';
import { inputsOf, outputsOf, finishReasons, redact, usageOf, type OutputAccumulator } from './content.js';
import type { ParentContext } from './ids.js';
import { newSpanId } from './ids.js';

export type SpanKindName = 'SERVER' | 'INTERNAL' | 'CLIENT';
export type AttributeValue = string | number | boolean | string[] | number[];

export interface TraceEvent {
  name: string;
  /** ISO 8601, millisecond precision. */
  timestamp: string;
  /** Milliseconds from the trace's start (sub-millisecond precision). */
  offset_ms: number;
  attributes?: Record<string, unknown>;
}

export interface Span {
  span_id: string;
  /** The parent span; for the root span, the caller's span from `traceparent`, or null. */
  parent_id: string | null;
  name: string;
  kind: SpanKindName;
  start_time: string;
  start_offset_ms: number;
  duration_ms: number;
  status: { code: 'OK' | 'ERROR'; message?: string };
  inputs?: Record<string, unknown> | null;
  outputs?: Record<string, unknown> | null;
  attributes: Record<string, AttributeValue>;
  events: TraceEvent[];
}

export type KeepReason = 'error' | 'slow' | 'sampled';

export interface Trace {
  trace_id: string;
  request_id: string;
  start_time: string;
  duration_ms: number;
  status: 'OK' | 'ERROR';
  http_status: number;
  error: { code: string | null; message: string | null } | null;
  method: string;
  path: string;
  route: string | null;
  surface: string | null;
  /** The endpoint or traffic route the caller named. */
  target: string | null;
  /** The endpoint that served (or was tried last). */
  endpoint: string | null;
  stream: boolean;
  usage: Usage | null;
  /** Why this trace was kept: it failed, it was slow, or it was in the sampled share. */
  kept: KeepReason;
  /** How many gateway requests this file holds (more than one when callers share a trace id). */
  request_count: number;
  spans: Span[];
}

/** A stage as the tracing middleware saw it: `performance.now()` at entry and when its `next()` settled. */
export interface StageMark { stage: Stage; enter: number; settle: number | null; error: unknown }

/** What the tracing plugin recorded for one request while it ran. */
export interface RequestRecord {
  traceId: string;
  rootSpanId: string;
  parent: ParentContext | null;
  headSampled: boolean;
  stages: StageMark[];
  /** Attempt number → span id (the id sent upstream in that attempt's `traceparent`). */
  attemptSpans: Map<number, string>;
  output: OutputAccumulator | null;
  /** `performance.now()` of the first stream chunk. */
  firstChunkAt: number | null;
}

export interface BuildOptions {
  slowThresholdMs: number;
  captureContent: boolean;
  contentMaxChars: number;
  stageMinMs: number;
}

/** Keep a request's trace? Failed and slow requests always; otherwise the head sampling decision. */
export function keepReason(headSampled: boolean, durationMs: number, failed: boolean, slowThresholdMs: number): KeepReason | null {
  if (failed) return 'error';
  if (durationMs >= slowThresholdMs) return 'slow';
  return headSampled ? 'sampled' : null;
}

/** Failed: an error status or code (a stream that ended in an error event has one), or a client that left before the end. */
export const isFailed = (o: Pick<RequestOutcome, 'status' | 'code' | 'aborted'>): boolean => o.status >= 400 || o.code !== null || o.aborted;

/** The kernel tags an error with the plugin and stage it came from. */
const ORIGIN = Symbol.for('gatehouse.errorOrigin');
const originOf = (e: unknown): { plugin?: string; stage?: string } | undefined =>
  e && typeof e === 'object' ? (e as Record<symbol, { plugin?: string; stage?: string }>)[ORIGIN] : undefined;

const OPERATION: Record<EndpointType, string> = {
  'llm/v1/chat': 'chat',
  'llm/v1/completions': 'text_completion',
  'llm/v1/embeddings': 'embeddings',
};

/** Gatehouse provider names → `gen_ai.provider.name` well-known values (others pass through). */
const PROVIDER: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  bedrock: 'aws.bedrock',
  'amazon-bedrock': 'aws.bedrock',
  cohere: 'cohere',
  gemini: 'gcp.gemini',
  mistral: 'mistral_ai',
  palm: 'gcp.gen_ai',
};

export const genAiProvider = (provider: string): string => PROVIDER[provider.toLowerCase().replace(/_/g, '-')] ?? provider;

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
/** Before year 10000, `toISOString` is `YYYY-MM-DDTHH:mm:ss.sssZ`. */
const ISO_PLAIN_BEFORE = 253_402_300_800_000;
let isoSecond = NaN;
let isoPrefix = '';
/**
 * `new Date(Math.round(epochMs)).toISOString()`, with the text up to the second kept from the
 * last call: a trace's times fall within a few seconds, so most calls only append milliseconds.
 */
const iso = (epochMs: number): string => {
  const ms = Math.round(epochMs);
  if (!(ms >= 0 && ms < ISO_PLAIN_BEFORE)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) { isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); isoSecond = second; }
  const frac = ms - second * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
};

/**
 * A timestamp → milliseconds from the request's start. Wall-clock times (attempts, events) are
 * measured against the outcome's wall-clock start; monotonic ones (`performance.now()`: stages,
 * chunks) against the monotonic start, so a wall clock that drifted since the process started
 * cannot skew one against the other.
 */
function offsetOf(t: number, epochStart: number, perfStart: number): number {
  return t > 1e11 ? t - epochStart : t - perfStart;
}

function errorText(e: unknown): string {
  if (e && typeof e === 'object') {
    const g = e as { code?: string; message?: string };
    return redact(g.code ? `${g.code}: ${g.message ?? ''}` : g.message ?? String(e));
  }
  return redact(String(e));
}

function cleanAttributes(attrs: Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const k in attrs) {
    if (!Object.hasOwn(attrs, k)) continue;
    const v = attrs[k];
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') out[k] = redact(v);
    else if (typeof v === 'number' || typeof v === 'boolean') { if (typeof v !== 'number' || Number.isFinite(v)) out[k] = v; }
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v.map((x) => redact(x));
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out[k] = v as number[];
    else out[k] = redact(JSON.stringify(v));
  }
  return out;
}

function requestParams(body: Record<string, unknown>): Record<string, unknown> {
  const stop = body.stop;
  return {
    'gen_ai.request.temperature': body.temperature,
    'gen_ai.request.top_p': body.top_p,
    'gen_ai.request.max_tokens': body.max_tokens,
    'gen_ai.request.choice.count': typeof body.n === 'number' && body.n !== 1 ? body.n : undefined,
    'gen_ai.request.stop_sequences': Array.isArray(stop) ? stop : typeof stop === 'string' ? [stop] : undefined,
    'gen_ai.request.presence_penalty': body.presence_penalty,
    'gen_ai.request.frequency_penalty': body.frequency_penalty,
    'gen_ai.request.seed': body.seed,
  };
}

/**
 * Build the trace of a finished request. Pure: every id comes from `rec` (or `newSpanId` for
 * stage spans) and every time from `outcome`, `rec` and the invocation. `perfStart` is the
 * `performance.now()` of the request's arrival (the observer passes its finishing time minus the
 * outcome's duration); it defaults to the invocation's start.
 */
export function buildTrace(rec: RequestRecord, outcome: RequestOutcome, kept: KeepReason, opts: BuildOptions, perfStart = outcome.invocation?.startedAt ?? 0): Trace {
  const inv: Invocation | null = outcome.invocation;
  const epochStart = outcome.startedAt;
  const total = Math.max(0, outcome.durationMs);
  const at = (offset: number) => iso(epochStart + offset);
  const failed = isFailed(outcome);
  const code = outcome.code ?? (outcome.aborted ? 'GW_ERR_CLIENT_CLOSED' : null);
  const message = outcome.message ?? (outcome.aborted && !outcome.code ? 'The client left before the answer was complete.' : null);
  const type = inv?.type ?? null;
  const op = type ? OPERATION[type] : null;
  const served = inv?.endpoint ?? null;
  const result: unknown = rec.output ?? (inv?.result && !(Symbol.asyncIterator in (inv.result as object)) ? inv.result : null);
  const usage = outcome.usage ?? usageOf(result);

  const root: Span = {
    span_id: rec.rootSpanId,
    parent_id: rec.parent?.spanId ?? null,
    name: `${outcome.method} ${outcome.route ?? outcome.path}`,
    kind: 'SERVER',
    start_time: at(0),
    start_offset_ms: 0,
    duration_ms: round(total),
    status: failed ? { code: 'ERROR', message: errorText({ code: code ?? `HTTP ${outcome.status}`, message: message ?? '' }) } : { code: 'OK' },
    attributes: cleanAttributes({
      'http.request.method': outcome.method,
      'http.route': outcome.route ?? undefined,
      'url.path': outcome.path,
      'http.response.status_code': outcome.status,
      'error.type': failed ? code ?? String(outcome.status) : undefined,
      'gen_ai.operation.name': op ?? undefined,
      'gen_ai.provider.name': served ? genAiProvider(served.model.provider) : undefined,
      'gen_ai.request.model': served?.model.name ?? undefined,
      'gen_ai.usage.input_tokens': usage?.prompt_tokens ?? undefined,
      'gen_ai.usage.output_tokens': usage?.completion_tokens ?? undefined,
      'gatehouse.request_id': outcome.id,
      'gatehouse.surface': outcome.surface ?? undefined,
      'gatehouse.target': inv?.target,
      'gatehouse.endpoint': served?.name,
      'gatehouse.traffic_route': inv?.route?.name,
      'gatehouse.caller': outcome.caller?.name,
      'gatehouse.stream': outcome.stream,
      'gatehouse.upstream_ms': round(outcome.upstreamMs),
      'gatehouse.overhead_ms': round(Math.max(0, total - outcome.upstreamMs)),
      'gatehouse.ttfb_ms': outcome.ttfbMs === null ? undefined : round(outcome.ttfbMs),
      'gatehouse.attempts': inv?.attempts.length,
      'gatehouse.aborted': outcome.aborted || undefined,
      'gatehouse.kept': kept,
    }),
    events: [],
  };
  if (opts.captureContent && inv && type) {
    root.inputs = inputsOf(type, inv.body, opts.contentMaxChars);
    root.outputs = result ? outputsOf(type, result, opts.contentMaxChars) : null;
  }
  const spans: Span[] = [root];

  // Stage spans: a stage runs from its entry to the next stage's entry or to its own settling,
  // whichever comes first (the kernel composes stages in one chain, so a `pre` middleware's
  // `next()` spans every later stage too). Only the innermost stage of a failure fails.
  const stageSpans = new Map<Stage, Span>();
  const marks = rec.stages;
  // The failing stage: the one the kernel says the error came from when this plugin timed it,
  // else the innermost stage entered (another plugin's `pre` step may have thrown before ours ran).
  const thrown = marks.find((m) => m.error !== null && m.error !== undefined)?.error;
  const origin = originOf(thrown);
  const originIndex = origin?.stage ? marks.findIndex((m) => m.stage === origin.stage) : -1;
  const failedIndex = thrown === undefined ? -1 : originIndex >= 0 ? originIndex : marks.length - 1;
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i]!;
    const nextEnter = marks[i + 1]?.enter ?? Infinity;
    const end = Math.min(m.settle ?? Infinity, nextEnter);
    const start = m.enter - perfStart;
    const duration = Number.isFinite(end) ? end - m.enter : total - start;
    const errored = i === failedIndex;
    const hasAttempts = m.stage === 'invoke' && (inv?.attempts.length ?? 0) > 0;
    if (!errored && !hasAttempts && duration < opts.stageMinMs) continue;
    const span: Span = {
      span_id: newSpanId(),
      parent_id: rec.rootSpanId,
      name: `stage ${m.stage}`,
      kind: 'INTERNAL',
      start_time: at(start),
      start_offset_ms: round(start),
      duration_ms: round(Math.max(0, duration)),
      status: errored ? { code: 'ERROR', message: errorText(thrown) } : { code: 'OK' },
      attributes: cleanAttributes({
        'gatehouse.stage': m.stage,
        'gatehouse.error.plugin': errored ? origin?.plugin : undefined,
        'gatehouse.error.stage': errored && origin?.stage !== m.stage ? origin?.stage : undefined,
      }),
      events: [],
    };
    stageSpans.set(m.stage, span);
    spans.push(span);
  }

  // One span per upstream attempt, inside the invoke stage; the id is the one its upstream saw.
  const attemptSpans: Array<{ span: Span; attempt: Attempt; start: number; end: number }> = [];
  const attemptParent = stageSpans.get('invoke')?.span_id ?? rec.rootSpanId;
  const attempts = inv?.attempts ?? [];
  const invokeStart = stageSpans.get('invoke')?.start_offset_ms ?? 0;
  for (const a of attempts) {
    // Attempt starts are wall-clock milliseconds: never before the stage that made them.
    const start = Math.max(offsetOf(a.startedAt, epochStart, perfStart), invokeStart);
    const isServing = !a.error && served?.name === a.endpoint.name && a === attempts[attempts.length - 1];
    const model = a.endpoint.model;
    const attrs: Record<string, unknown> = {
      'gen_ai.operation.name': op ?? undefined,
      'gen_ai.provider.name': genAiProvider(model.provider),
      'gen_ai.system': genAiProvider(model.provider),
      'gen_ai.request.model': model.name ?? undefined,
      'gatehouse.endpoint': a.endpoint.name,
      'gatehouse.attempt': a.n,
      'gatehouse.upstream_ms': round(a.upstreamMs),
      'http.response.status_code': a.upstreamStatus ?? undefined,
      'error.type': a.error ? String(a.error.code) : undefined,
      'gen_ai.request.stream': inv?.stream || undefined,
      ...(inv ? requestParams(inv.body) : {}),
    };
    if (isServing && result) {
      const r = result as { id?: string | null; model?: string | null };
      Object.assign(attrs, {
        'gen_ai.response.id': r.id ?? undefined,
        'gen_ai.response.model': r.model ?? undefined,
        'gen_ai.usage.input_tokens': usage?.prompt_tokens ?? undefined,
        'gen_ai.usage.output_tokens': usage?.completion_tokens ?? undefined,
        'gen_ai.response.finish_reasons': finishReasons(result).length ? finishReasons(result) : undefined,
      });
    }
    const span: Span = {
      span_id: rec.attemptSpans.get(a.n) ?? newSpanId(),
      parent_id: attemptParent,
      name: `${op ?? 'call'} ${model.name ?? a.endpoint.name}`,
      kind: 'CLIENT',
      start_time: at(start),
      start_offset_ms: round(start),
      duration_ms: round(Math.max(0, a.durationMs)),
      status: a.error ? { code: 'ERROR', message: errorText(a.error) } : { code: 'OK' },
      attributes: cleanAttributes(attrs),
      events: [],
    };
    attemptSpans.push({ span, attempt: a, start, end: start + Math.max(0, a.durationMs) });
    spans.push(span);
  }

  // Events go to the span they happened in: the attempt they name or whose time holds them,
  // else the stage whose time holds them, else the root.
  const events: InvocationEvent[] = [...(inv?.events ?? [])];
  if (rec.firstChunkAt !== null && !events.some((e) => e.name === 'first_token')) {
    events.push({ name: 'first_token', at: rec.firstChunkAt, attributes: { synthetic: true } });
  }
  const stageList = [...stageSpans.values()];
  for (const e of events) {
    const off = offsetOf(e.at, epochStart, perfStart);
    const named = typeof e.attributes?.attempt === 'number' ? attemptSpans.find((x) => x.attempt.n === e.attributes!.attempt) : undefined;
    const holder = named?.span
      ?? [...attemptSpans].reverse().find((x) => off >= x.start - 0.5 && off <= x.end + 0.5)?.span
      ?? [...stageList].reverse().find((s) => off >= s.start_offset_ms - 0.5 && off <= s.start_offset_ms + s.duration_ms + 0.5)
      ?? root;
    const attributes = e.attributes ? (cleanAttributes(e.attributes) as Record<string, unknown>) : undefined;
    holder.events.push({ name: e.name, timestamp: at(off), offset_ms: round(off), ...(attributes && Object.keys(attributes).length ? { attributes } : {}) });
  }
  for (const s of spans) s.events.sort((a, b) => a.offset_ms - b.offset_ms);

  return {
    trace_id: rec.traceId,
    request_id: outcome.id,
    start_time: at(0),
    duration_ms: round(total),
    status: failed ? 'ERROR' : 'OK',
    http_status: outcome.status,
    error: failed ? { code, message: message === null ? null : redact(message) } : null,
    method: outcome.method,
    path: outcome.path,
    route: outcome.route,
    surface: outcome.surface,
    target: inv?.target ?? null,
    endpoint: served?.name ?? null,
    stream: outcome.stream,
    usage,
    kept,
    request_count: 1,
    spans,
  };
}

/**
 * Merge a trace into one already stored under the same id (callers that send one `traceparent`
 * for several gateway calls): spans add up, times and status cover both.
 */
export function mergeTraces(stored: Trace, next: Trace): Trace {
  const s0 = Date.parse(stored.start_time);
  const n0 = Date.parse(next.start_time);
  const start = Math.min(s0, n0);
  const end = Math.max(s0 + stored.duration_ms, n0 + next.duration_ms);
  const shift = (spans: Span[], from: number) => spans.map((sp) => ({
    ...sp,
    start_offset_ms: round(sp.start_offset_ms + from - start),
    events: sp.events.map((e) => ({ ...e, offset_ms: round(e.offset_ms + from - start) })),
  }));
  const first = s0 <= n0 ? stored : next;
  return {
    ...first,
    start_time: iso(start),
    duration_ms: round(end - start),
    status: stored.status === 'ERROR' || next.status === 'ERROR' ? 'ERROR' : 'OK',
    request_count: (stored.request_count ?? 1) + (next.request_count ?? 1),
    spans: [...shift(stored.spans, s0), ...shift(next.spans, n0)].sort((a, b) => a.start_offset_ms - b.start_offset_ms),
  };
}
