/**
 * What one request-log line says. Pure: an outcome in, a plain object out (pino adds `level`,
 * `time` and `msg`). Never headers, never keys; prompt and completion content only when asked.
 */
import type { Invocation, RequestOutcome, UnifiedChunk, UnifiedResponse } from '@gatehouse/sdk';

export interface LineOptions {
  /** Add the request body and the answer's content (truncated to `maxContentChars`). */
  includeContent: boolean;
  maxContentChars: number;
}

/** Where the tracing plugin leaves the trace id: `inv.state.get('tracing')?.traceId`. */
export const TRACING_STATE_KEY = 'tracing';
/** Where the metrics plugin leaves its overhead measure: `inv.state.get('metrics')?.overheadMs`. */
export const METRICS_STATE_KEY = 'metrics';
/** Where this plugin collects streamed text when content is logged. */
export const STATE_KEY = 'request-log';

export interface RequestLine {
  request_id: string;
  method: string;
  path: string;
  http_route: string | null;
  surface: string | null;
  target: string | null;
  endpoint: string | null;
  route: string | null;
  destination: string | null;
  provider: string | null;
  model: string | null;
  status: number;
  code: string | null;
  /** The error's message (the kernel has already replaced configured keys in it). */
  message?: string;
  duration_ms: number;
  overhead_ms: number;
  upstream_ms: number;
  ttfb_ms: number | null;
  stream: boolean;
  chunks: number;
  bytes: number;
  aborted: boolean;
  attempts: number;
  tokens: { input: number | null; output: number | null; total: number | null } | null;
  client_ip: string;
  caller: string | null;
  trace_id: string | null;
  events?: string[];
  request?: string;
  response?: string;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** The path without its query string (a query may carry a credential). */
export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

export function traceIdOf(inv: Invocation | null): string | null {
  const t = inv?.state.get(TRACING_STATE_KEY) as { traceId?: unknown } | undefined;
  return typeof t?.traceId === 'string' && t.traceId ? t.traceId : null;
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…[${s.length - max} more]`;
}

/** The text of an answer: message contents or completion texts; embeddings say how many vectors. */
export function responseText(result: unknown): string | null {
  if (!result || typeof result !== 'object') return null;
  const r = result as UnifiedResponse & Record<string, unknown>;
  if (r.object === 'list' && Array.isArray(r.data)) return `[${r.data.length} embedding(s)]`;
  if (!Array.isArray(r.choices)) return null;
  return (r.choices as Array<{ message?: { content?: unknown }; text?: unknown }>)
    .map((c) => (typeof c.message?.content === 'string' ? c.message.content : typeof c.text === 'string' ? c.text : ''))
    .join('\n');
}

/** The text one stream chunk adds. */
export function chunkText(chunk: UnifiedChunk): string {
  const choices = (chunk as { choices?: Array<{ delta?: { content?: unknown }; text?: unknown }> }).choices;
  if (!Array.isArray(choices)) return '';
  let s = '';
  for (const c of choices) {
    if (typeof c.delta?.content === 'string') s += c.delta.content;
    else if (typeof c.text === 'string') s += c.text;
  }
  return s;
}

/** The caller's content: the body without the stream flag and other parameters. */
export function requestText(body: Record<string, unknown> | undefined): string | null {
  if (!body) return null;
  const content = body.messages ?? body.prompt ?? body.input;
  return content === undefined ? null : JSON.stringify(content);
}

export function buildLine(o: RequestOutcome, opts: LineOptions): RequestLine {
  const inv = o.invocation;
  const last = inv && inv.attempts.length ? inv.attempts[inv.attempts.length - 1] : undefined;
  const ep = inv?.endpoint ?? last?.endpoint ?? null;
  const line: RequestLine = {
    request_id: o.id,
    method: o.method,
    path: pathOnly(o.path),
    http_route: o.route,
    surface: o.surface,
    target: inv?.target ?? null,
    endpoint: ep?.name ?? null,
    route: inv?.route?.name ?? null,
    destination: inv?.route && ep ? ep.name : null,
    provider: ep?.model.provider ?? null,
    model: ep?.model.name ?? null,
    status: o.status,
    code: o.code,
    duration_ms: round(o.durationMs),
    overhead_ms: round(overheadOf(o)),
    upstream_ms: round(o.upstreamMs),
    ttfb_ms: o.ttfbMs === null ? null : round(o.ttfbMs),
    stream: o.stream,
    chunks: o.chunks,
    bytes: o.bytes,
    aborted: o.aborted,
    attempts: inv?.attempts.length ?? 0,
    tokens: o.usage ? { input: o.usage.prompt_tokens ?? null, output: o.usage.completion_tokens ?? null, total: o.usage.total_tokens ?? null } : null,
    client_ip: o.client.ip,
    caller: o.caller?.name ?? null,
    trace_id: traceIdOf(inv),
  };
  if (o.code !== null && o.message) line.message = o.message;
  if (inv && inv.events.length) line.events = inv.events.map((e) => e.name);
  if (opts.includeContent && inv) {
    const req = requestText(inv.body);
    if (req !== null) line.request = truncate(req, opts.maxContentChars);
    const streamed = inv.state.get(STATE_KEY) as { text: string } | undefined;
    const res = streamed ? streamed.text : responseText(inv.result);
    if (res !== null) line.response = truncate(res, opts.maxContentChars);
  }
  return line;
}

/**
 * The gateway's own time: the metrics plugin's measure when it ran (for streams it stops at
 * the first chunk, like the `x-gatehouse-overhead-ms` header), else total minus upstream time.
 */
export function overheadOf(o: RequestOutcome): number {
  const m = o.invocation?.state.get(METRICS_STATE_KEY) as { overheadMs?: unknown } | undefined;
  if (typeof m?.overheadMs === 'number' && Number.isFinite(m.overheadMs)) return Math.max(0, m.overheadMs);
  return Math.max(0, o.durationMs - o.upstreamMs);
}

/** Pino level of a line: info for answers, warn for 4xx, error for 5xx. */
export function levelOf(status: number): 'info' | 'warn' | 'error' {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}
