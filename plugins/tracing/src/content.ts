/**
 * What a trace shows of a request's content: the inputs a caller sent and the outputs it got,
 * clipped to a character budget, plus a last line of defence against key-shaped strings in
 * error messages (the kernel scrubs the keys it knows from answers and logs; an upstream's error
 * text reaches a trace through `attempt.error` before any scrubbing).
 */
import type { EndpointType, Usage } from '@gatehouse/sdk';

export const TRUNCATED = '…[truncated]';

/**
 * Copy `value`, spending at most `budget` characters on string values (a number costs 4; keys
 * are free); a string longer than what is left is cut and marked, and once the budget is gone
 * arrays end with a marker and objects drop their remaining keys. Never throws, never recurses
 * past depth 12.
 */
export function clip(value: unknown, budget: number): unknown {
  let left = Math.max(0, budget);
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || v === undefined || typeof v === 'boolean') return v;
    if (typeof v === 'number') { left -= 4; return v; }
    if (typeof v === 'string') {
      if (v.length <= left) { left -= v.length; return v; }
      const cut = v.slice(0, Math.max(0, left));
      left = 0;
      return `${cut}${TRUNCATED}`;
    }
    if (depth > 12) return TRUNCATED;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const item of v) {
        if (left <= 0) { out.push(TRUNCATED); break; }
        out.push(walk(item, depth + 1));
      }
      return out;
    }
    if (typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        if (item === undefined) continue;
        if (left <= 0) { out._truncated = true; break; }
        out[k] = walk(item, depth + 1);
      }
      return out;
    }
    return String(v);
  };
  return walk(value, 0);
}

/** Request parameters worth showing beside the content (never headers, never anything else). */
const PARAMS = ['temperature', 'top_p', 'n', 'max_tokens', 'stop', 'stream', 'presence_penalty', 'frequency_penalty', 'seed', 'response_format', 'tools', 'tool_choice'] as const;

/** The span inputs for a request body: the content fields and the sampling parameters. */
export function inputsOf(type: EndpointType, body: Record<string, unknown>, budget: number): Record<string, unknown> | null {
  if (!body || typeof body !== 'object') return null;
  const out: Record<string, unknown> = {};
  if (type === 'llm/v1/chat' && body.messages !== undefined) out.messages = body.messages;
  else if (type === 'llm/v1/completions' && body.prompt !== undefined) out.prompt = body.prompt;
  else if (type === 'llm/v1/embeddings' && body.input !== undefined) out.input = body.input;
  for (const p of PARAMS) if (body[p] !== undefined && body[p] !== null) out[p] = body[p];
  if (!Object.keys(out).length) return null;
  return clip(out, budget) as Record<string, unknown>;
}

/** What the answer said, assembled from a response or from stream chunks. */
export interface OutputAccumulator {
  id: string | null;
  model: string | null;
  /** Per choice index: text so far (capped), role, finish reason, tool calls seen. */
  choices: Map<number, { text: string; role: string | null; finish: string | null; toolCalls: number; cut: boolean }>;
  usage: Usage | null;
  /** Characters dropped beyond the cap. */
  dropped: number;
}

export function newAccumulator(): OutputAccumulator {
  return { id: null, model: null, choices: new Map(), usage: null, dropped: 0 };
}

/** Add one stream chunk; keeps at most `cap` characters per choice, so a long stream costs bounded memory. */
export function accumulateChunk(acc: OutputAccumulator, chunk: unknown, cap: number, keepText: boolean): void {
  const c = chunk as { id?: string | null; model?: string; choices?: Array<Record<string, any>>; usage?: Usage };
  if (!c || typeof c !== 'object') return;
  if (c.id) acc.id = c.id;
  if (c.model) acc.model = c.model;
  if (c.usage) acc.usage = c.usage;
  for (const ch of c.choices ?? []) {
    const index = typeof ch.index === 'number' ? ch.index : 0;
    let slot = acc.choices.get(index);
    if (!slot) { slot = { text: '', role: null, finish: null, toolCalls: 0, cut: false }; acc.choices.set(index, slot); }
    const piece: unknown = ch.delta ? ch.delta.content : ch.text;
    if (ch.delta?.role) slot.role = ch.delta.role;
    if (Array.isArray(ch.delta?.tool_calls)) slot.toolCalls += ch.delta.tool_calls.filter((t: any) => t?.id).length;
    if (ch.finish_reason) slot.finish = ch.finish_reason;
    if (keepText && typeof piece === 'string' && piece) {
      const room = cap - slot.text.length;
      if (room >= piece.length) slot.text += piece;
      else { if (room > 0) slot.text += piece.slice(0, room); slot.cut = true; acc.dropped += piece.length - Math.max(0, room); }
    }
  }
}

/** Finish reasons of a response or an accumulator, in choice order. */
export function finishReasons(source: unknown): string[] {
  if (isAccumulator(source)) return [...source.choices.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c.finish).filter((f): f is string => !!f);
  const r = source as { choices?: Array<{ finish_reason?: string | null }> };
  return (r?.choices ?? []).map((c) => c.finish_reason).filter((f): f is string => !!f);
}

const isAccumulator = (x: unknown): x is OutputAccumulator => !!x && typeof x === 'object' && (x as OutputAccumulator).choices instanceof Map;

/**
 * The span outputs: `{content, finish_reason}` for a single choice (the seed's shape), a
 * `choices` list for several, `{text}` for completions and a summary (count, dimensions) for
 * embeddings, whose vectors are not content worth keeping.
 */
export function outputsOf(type: EndpointType, source: unknown, budget: number): Record<string, unknown> | null {
  if (!source || typeof source !== 'object') return null;
  if (type === 'llm/v1/embeddings') {
    const data = (source as { data?: Array<{ embedding?: unknown }> }).data ?? [];
    const first = data[0]?.embedding;
    return { embeddings: data.length, dimensions: Array.isArray(first) ? first.length : null };
  }
  let choices: Array<Record<string, unknown>>;
  if (isAccumulator(source)) {
    choices = [...source.choices.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => ({
      ...(type === 'llm/v1/chat' ? { role: c.role ?? 'assistant', content: c.cut ? c.text + TRUNCATED : c.text } : { text: c.cut ? c.text + TRUNCATED : c.text }),
      ...(c.toolCalls ? { tool_calls: c.toolCalls } : {}),
      finish_reason: c.finish,
    }));
  } else {
    const r = source as { choices?: Array<Record<string, any>> };
    choices = (r.choices ?? []).map((c) => type === 'llm/v1/chat'
      ? { role: c.message?.role ?? 'assistant', content: c.message?.content ?? null, ...(c.message?.tool_calls ? { tool_calls: c.message.tool_calls } : {}), ...(c.message?.refusal ? { refusal: c.message.refusal } : {}), finish_reason: c.finish_reason ?? null }
      : { text: c.text ?? null, finish_reason: c.finish_reason ?? null });
  }
  const out = choices.length === 1 ? { ...choices[0] } : { choices };
  return clip(out, budget) as Record<string, unknown>;
}

/** Usage of a response or an accumulator. */
export function usageOf(source: unknown): Usage | null {
  if (isAccumulator(source)) return source.usage;
  const u = (source as { usage?: Usage })?.usage;
  return u && typeof u === 'object' ? u : null;
}

const KEY_SHAPES: RegExp[] = [
  /\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}/g, // OpenAI, Anthropic (sk-ant-...), Stripe-like
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bAIza[0-9A-Za-z_-]{30,}/g, // Google API keys
  /\bhf_[A-Za-z0-9]{20,}/g, // Hugging Face
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /((?:api[_-]?key|secret|token|password|authorization)["']?\s*[:=]\s*["']?)[^\s"',}]{6,}/gi,
];

/** No KEY_SHAPES match is shorter (`token:` and six more characters). */
const MIN_KEY_SHAPE = 12;
/** A string that no KEY_SHAPES pattern can match fails this test (it is case-insensitive, a superset of theirs). */
const MAYBE_KEY = /[spr]k-|akia|aiza|hf_|bearer|basic|api|secret|token|password|authorization/i;

/** Mask key-shaped substrings (a best effort beside the kernel's exact scrubbing of configured keys). */
export function redact(text: string, secrets: readonly string[] = []): string {
  // Most strings (methods, paths, names, ids) cannot hold a key shape: the shortest match is 12
  // characters and every shape has one of these words in it. One test instead of six replaces.
  if (!secrets.length && (text.length < MIN_KEY_SHAPE || !MAYBE_KEY.test(text))) return text;
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join('[REDACTED]');
  for (const re of KEY_SHAPES) out = out.replace(re, (m, p1) => (typeof p1 === 'string' && /[:=]/.test(p1) ? `${p1}[REDACTED]` : '[REDACTED]'));
  return out;
}
