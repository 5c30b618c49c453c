/**
 * OTLP/HTTP export through the OpenTelemetry JS SDK: each kept trace becomes finished spans
 * (`ReadableSpan`s with the trace's own ids and times) handed to a `BatchSpanProcessor` that
 * feeds an `OTLPTraceExporter` (JSON over HTTP). Endpoint, headers, timeout and compression come
 * from the config, else from the standard `OTEL_EXPORTER_OTLP_*` variables, which the exporter
 * reads itself; batch settings from the config, else `OTEL_BSP_*`.
 *
 * The SDK is loaded (`./otlp-sdk.js`, a dynamic import) only when an exporter is made: a gateway
 * without `otlp:` never pays its start-up time or memory. This module itself imports no
 * OpenTelemetry code, only types; the few API constants and time helpers spans need are below.
 */
import type { Attributes, HrTime, SpanContext, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from './config.js';
import type { Span, Trace } from './model.js';
import type { SdkExport } from './otlp-sdk.js';

/** `SpanKind`, `SpanStatusCode` and `TraceFlags` values of `@opentelemetry/api` (fixed by the OTLP protocol). */
export const OTEL = {
  SpanKind: { INTERNAL: 0 as SpanKind.INTERNAL, SERVER: 1 as SpanKind.SERVER, CLIENT: 2 as SpanKind.CLIENT },
  SpanStatusCode: { UNSET: 0 as SpanStatusCode.UNSET, ERROR: 2 as SpanStatusCode.ERROR },
  TraceFlags: { SAMPLED: 1 as TraceFlags.SAMPLED },
} as const;

const KIND: Record<Span['kind'], SpanKind> = { SERVER: OTEL.SpanKind.SERVER, INTERNAL: OTEL.SpanKind.INTERNAL, CLIENT: OTEL.SpanKind.CLIENT };

/** `millisToHrTime` of `@opentelemetry/core`: epoch milliseconds to [seconds, nanoseconds]. */
export function millisToHrTime(epochMillis: number): HrTime {
  const seconds = Math.trunc(epochMillis / 1000);
  const nanos = Math.round((epochMillis % 1000) * 1e6);
  return [seconds, nanos];
}

/** `hrTimeDuration` of `@opentelemetry/core`. */
export function hrTimeDuration(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) { seconds -= 1; nanos += 1e9; }
  return [seconds, nanos];
}

export const SCOPE = { name: '@gatehouse/plugin-tracing', version: '0.2.0' };

type Part = Record<string, unknown>;

/** OpenTelemetry GenAI `gen_ai.input.messages` shape: `[{role, parts: [{type: 'text', content}]}]`. */
function partsOf(content: unknown): Part[] {
  if (typeof content === 'string') return [{ type: 'text', content }];
  if (Array.isArray(content)) {
    return content.map((p) => {
      const part = p as Record<string, unknown>;
      if (part?.type === 'text') return { type: 'text', content: part.text };
      return { type: typeof part?.type === 'string' ? part.type : 'unknown' };
    });
  }
  return [];
}

export function genAiInputMessages(inputs: Record<string, unknown> | null | undefined): string | undefined {
  if (!inputs) return undefined;
  if (Array.isArray(inputs.messages)) {
    return JSON.stringify(inputs.messages.map((m) => {
      const msg = m as Record<string, unknown>;
      const parts = partsOf(msg?.content);
      if (Array.isArray(msg?.tool_calls)) {
        for (const t of msg.tool_calls as Array<Record<string, any>>) parts.push({ type: 'tool_call', id: t?.id, name: t?.function?.name, arguments: t?.function?.arguments });
      }
      if (typeof msg?.tool_call_id === 'string') return { role: msg.role, parts: [{ type: 'tool_call_response', id: msg.tool_call_id, response: msg.content }] };
      return { role: msg?.role, parts };
    }));
  }
  if (typeof inputs.prompt === 'string') return JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: inputs.prompt }] }]);
  return undefined;
}

export function genAiOutputMessages(outputs: Record<string, unknown> | null | undefined): string | undefined {
  if (!outputs || 'embeddings' in outputs) return undefined;
  const choices = Array.isArray(outputs.choices) ? (outputs.choices as Array<Record<string, unknown>>) : [outputs];
  return JSON.stringify(choices.filter((c) => c && typeof c === 'object' && ('content' in c || 'text' in c)).map((c) => ({
    role: (c.role as string) ?? 'assistant',
    parts: partsOf(c.content ?? c.text),
    finish_reason: c.finish_reason ?? null,
  })));
}

/** The trace's spans as finished OpenTelemetry spans. */
export function toReadableSpans(trace: Trace, resource: Resource): ReadableSpan[] {
  const t0 = Date.parse(trace.start_time);
  const ctx = (spanId: string, remote = false): SpanContext => ({ traceId: trace.trace_id, spanId, traceFlags: OTEL.TraceFlags.SAMPLED, isRemote: remote });
  const ids = new Set(trace.spans.map((s) => s.span_id));
  const root = trace.spans[0];
  const serving = [...trace.spans].reverse().find((s) => s.kind === 'CLIENT' && s.status.code === 'OK');
  return trace.spans.map((s) => {
    const start = millisToHrTime(t0 + s.start_offset_ms);
    const end = millisToHrTime(t0 + s.start_offset_ms + s.duration_ms);
    const attributes: Attributes = { ...s.attributes };
    if (s === root && (s.inputs || s.outputs)) {
      // MLflow's OTLP-ingesting tracking server shows these as the span's inputs and outputs.
      if (s.inputs) attributes['mlflow.spanInputs'] = JSON.stringify(s.inputs);
      if (s.outputs) attributes['mlflow.spanOutputs'] = JSON.stringify(s.outputs);
    }
    if (s === serving && root) {
      const input = genAiInputMessages(root.inputs);
      const output = genAiOutputMessages(root.outputs);
      if (input) attributes['gen_ai.input.messages'] = input;
      if (output) attributes['gen_ai.output.messages'] = output;
    }
    const parent = s.parent_id
      ? ids.has(s.parent_id) ? ctx(s.parent_id) : ctx(s.parent_id, true)
      : undefined;
    const span: ReadableSpan = {
      name: s.name,
      kind: KIND[s.kind],
      spanContext: () => ctx(s.span_id),
      parentSpanContext: parent,
      startTime: start,
      endTime: end,
      duration: hrTimeDuration(start, end),
      status: s.status.code === 'ERROR' ? { code: OTEL.SpanStatusCode.ERROR, message: s.status.message } : { code: OTEL.SpanStatusCode.UNSET },
      attributes,
      links: [],
      events: s.events.map((e) => ({
        name: e.name,
        time: millisToHrTime(t0 + e.offset_ms),
        attributes: e.attributes ? flatAttributes(e.attributes) : undefined,
      })),
      ended: true,
      resource,
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    return span;
  });
}

function flatAttributes(attrs: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && (v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number'))) out[k] = v as string[];
    else if (v !== null && v !== undefined) out[k] = JSON.stringify(v);
  }
  return out;
}

/** The SDK half, loaded once per process on first use. */
let sdkModule: Promise<typeof import('./otlp-sdk.js')> | null = null;
const loadSdk = () => (sdkModule ??= import('./otlp-sdk.js'));

/**
 * An OTLP exporter. Made synchronously; the SDK loads in the background (`ready()` resolves when
 * it has, or rejects when it cannot be loaded or the exporter cannot be made). Traces exported
 * before then wait, at most the batch queue's size of them, and go out once it is loaded.
 */
export class OtlpExport {
  private sdk: SdkExport | null = null;
  private failed: unknown = null;
  private pending: Trace[] = [];
  private readonly loaded: Promise<SdkExport>;
  private exported = 0;

  constructor(private readonly settings: NonNullable<TracingSettings['otlp']>) {
    this.loaded = loadSdk().then((m) => {
      const sdk = m.createSdkExport(settings);
      this.sdk = sdk;
      for (const t of this.pending) this.send(sdk, t);
      this.pending = [];
      return sdk;
    }, (e: unknown) => { throw new Error(`cannot load the OpenTelemetry SDK: ${(e as Error).message}`, { cause: e }); });
    this.loaded.catch((e: unknown) => { this.failed = e; this.pending = []; });
  }

  /** Resolves once the SDK is loaded and the exporter made; rejects if either failed. */
  async ready(): Promise<void> { await this.loaded; }

  export(trace: Trace): void {
    if (this.sdk) this.send(this.sdk, trace);
    else if (!this.failed && this.pending.length < (this.settings.batch.maxQueueSize ?? 2048)) this.pending.push(trace);
  }

  private send(sdk: SdkExport, trace: Trace): void {
    for (const span of toReadableSpans(trace, sdk.resource)) sdk.processor.onEnd(span);
    this.exported++;
  }

  stats() { return { exported_traces: this.exported }; }

  async forceFlush(): Promise<void> { await (await this.loaded).processor.forceFlush(); }
  async shutdown(): Promise<void> {
    let sdk: SdkExport;
    try { sdk = await this.loaded; } catch { return; }
    await sdk.processor.shutdown();
  }
}
