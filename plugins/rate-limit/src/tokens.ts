/**
 * Prompt-token estimates for token limits: js-tiktoken's BPE (`o200k_base` for OpenAI's
 * gpt-4o / gpt-4.1 / gpt-5 / o-series families, `cl100k_base` for everything else), counted
 * on the event loop for short prompts and in a piscina worker pool above a measured size
 * (README: "Token limits").
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EndpointType } from '@gatehouse/sdk';
import type { Tiktoken } from 'js-tiktoken/lite';
import { createRequire } from 'node:module';
import type { Piscina } from 'piscina';

// piscina is required only when a `tokens:` limit offloads a large prompt.
const require = createRequire(import.meta.url);

export type EncodingName = 'cl100k_base' | 'o200k_base';

const O200K = /^(?:.*\/)?(?:gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|chatgpt-4o|o1|o3|o4)(?:\b|[-_.:])/i;

/** The encoding a model family uses (a deployment path such as `openai/gpt-4o` counts too). */
export function encodingFor(model: string | null | undefined): EncodingName {
  return model && O200K.test(model) ? 'o200k_base' : 'cl100k_base';
}

const textOfContent = (c: unknown): string => {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('\n');
  return '';
};

/**
 * What of a request body counts as prompt: message texts, names and tool calls, tool
 * definitions; the prompt; the embedding input. `extra` are tokens the text does not show
 * (OpenAI's per-message framing: 3 a message, 3 to prime the reply), or pre-tokenised input.
 */
export function promptOf(type: EndpointType, body: Record<string, unknown>): { text: string; extra: number } {
  if (type === 'llm/v1/chat') {
    const msgs = Array.isArray(body.messages) ? body.messages as Array<Record<string, unknown>> : [];
    const parts: string[] = [];
    for (const m of msgs) {
      if (!m || typeof m !== 'object') continue;
      parts.push(String(m.role ?? ''), textOfContent(m.content));
      if (typeof m.name === 'string') parts.push(m.name);
      if (Array.isArray(m.tool_calls)) parts.push(JSON.stringify(m.tool_calls));
    }
    if (Array.isArray(body.tools) && body.tools.length) parts.push(JSON.stringify(body.tools));
    return { text: parts.join('\n'), extra: 3 * msgs.length + 3 };
  }
  if (type === 'llm/v1/completions') {
    const p = body.prompt;
    return { text: Array.isArray(p) ? p.map(String).join('\n') : typeof p === 'string' ? p : '', extra: 0 };
  }
  const input = body.input;
  if (typeof input === 'string') return { text: input, extra: 0 };
  if (Array.isArray(input)) {
    let extra = 0;
    const texts: string[] = [];
    for (const x of input) {
      if (typeof x === 'string') texts.push(x);
      else if (typeof x === 'number') extra += 1;
      else if (Array.isArray(x)) extra += x.length;
    }
    return { text: texts.join('\n'), extra };
  }
  return { text: '', extra: 0 };
}

/** The answer's text, when it came without `usage` (JSON answers; streams collect their deltas). */
export function completionTextOf(result: unknown): string {
  if (!result || typeof result !== 'object') return '';
  const choices = (result as { choices?: unknown }).choices;
  if (!Array.isArray(choices)) return '';
  return choices.map((c) => {
    const ch = c as { message?: { content?: unknown; tool_calls?: unknown }; text?: unknown };
    if (typeof ch.text === 'string') return ch.text;
    const parts = [textOfContent(ch.message?.content)];
    if (ch.message?.tool_calls) parts.push(JSON.stringify(ch.message.tool_calls));
    return parts.join('');
  }).join('\n');
}

/** A stream chunk's text (choices' delta content, tool-call arguments, completion text). */
export function chunkTextOf(chunk: unknown): string {
  const choices = (chunk as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return '';
  let s = '';
  for (const c of choices) {
    const ch = c as { delta?: { content?: unknown; tool_calls?: Array<{ function?: { arguments?: unknown } }> }; text?: unknown };
    if (typeof ch.text === 'string') s += ch.text;
    if (typeof ch.delta?.content === 'string') s += ch.delta.content;
    if (Array.isArray(ch.delta?.tool_calls)) for (const t of ch.delta.tool_calls) if (typeof t?.function?.arguments === 'string') s += t.function.arguments;
  }
  return s;
}

const encoders = new Map<EncodingName, Promise<Tiktoken>>();

/** The encoder of this thread, loaded once (the ranks ship with js-tiktoken: no network). */
export function encoder(name: EncodingName): Promise<Tiktoken> {
  let e = encoders.get(name);
  if (!e) {
    e = (async () => {
      const { Tiktoken } = await import('js-tiktoken/lite');
      const ranks = name === 'o200k_base'
        ? (await import('js-tiktoken/ranks/o200k_base')).default
        : (await import('js-tiktoken/ranks/cl100k_base')).default;
      return new Tiktoken(ranks);
    })();
    encoders.set(name, e);
  }
  return e;
}

export const WORKER_FILE = fileURLToPath(new URL('../worker/count-tokens.mjs', import.meta.url));

/** Makes the pool on first use; a process keeps one (`ctx.keep`). */
export function createPool(): Piscina<{ text: string; encoding: EncodingName }, number> {
  const { Piscina: Pool } = require('piscina') as typeof import('piscina');
  return new Pool({
    filename: WORKER_FILE,
    minThreads: 0,
    maxThreads: Math.max(1, Math.min(4, availableParallelism() - 1)),
    idleTimeout: 30_000,
  });
}

export interface TokenCounter {
  count(text: string, encoding: EncodingName): Promise<number>;
}

/**
 * Count on the event loop up to `offloadAboveChars` characters, in the pool above it.
 * `pool` is only created when a prompt is that large.
 */
export function tokenCounter(offloadAboveChars: number, pool: () => Piscina<{ text: string; encoding: EncodingName }, number>): TokenCounter {
  return {
    async count(text, encoding) {
      if (!text) return 0;
      if (text.length > offloadAboveChars) return pool().run({ text, encoding });
      return (await encoder(encoding)).encode(text, [], []).length;
    },
  };
}
