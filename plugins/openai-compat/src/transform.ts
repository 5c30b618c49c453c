/**
 * Pure transforms from the unified answers to what OpenAI clients expect. The unified shapes are
 * already OpenAI's; what differs is usage on streams and base64 embeddings.
 */
import { GatewayError, type CompletionsChunk, type CompletionsResponse, type EmbeddingsResponse, type UnifiedChunk, type Usage } from '@gatehouse/sdk';

/**
 * Stream chunks as OpenAI sends them.
 *
 * With `stream_options.include_usage`, every chunk carries `usage: null` and one last chunk with
 * `choices: []` carries the usage of the whole call, as OpenAI documents. Providers report usage
 * either on a usage-only chunk or on a content chunk; both end up in that one last chunk.
 * Without it, usage fields and usage-only chunks are dropped.
 */
export async function* openAIChunks(chunks: AsyncIterable<UnifiedChunk>, includeUsage: boolean): AsyncGenerator<unknown> {
  let last: UnifiedChunk | undefined;
  let usage: Usage | undefined;
  for await (const c of chunks) {
    last = c;
    if (c.usage) usage = c.usage;
    if (c.choices.length === 0) continue;
    const { usage: _u, ...rest } = c;
    yield includeUsage ? { ...rest, usage: null } : rest;
  }
  if (includeUsage && last) {
    yield {
      id: last.id, object: last.object, created: last.created, model: last.model, choices: [],
      usage: usage ?? { prompt_tokens: null, completion_tokens: null, total_tokens: null },
    };
  }
}

export type EncodingFormat = 'float' | 'base64';

/** A vector as OpenAI's base64 encoding: float32, little-endian. */
export function floatsToBase64(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

/** The inverse of `floatsToBase64`, for a provider that already answered in base64. */
export function base64ToFloats(s: string): number[] {
  const buf = Buffer.from(s, 'base64');
  const out: number[] = new Array(Math.floor(buf.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** Put every embedding in the encoding the caller asked for. */
export function encodeEmbeddings(res: EmbeddingsResponse, format: EncodingFormat): EmbeddingsResponse {
  const data = res.data.map((d) => {
    if (format === 'base64' && typeof d.embedding !== 'string') return { ...d, embedding: floatsToBase64(d.embedding) };
    if (format === 'float' && typeof d.embedding === 'string') return { ...d, embedding: base64ToFloats(d.embedding) };
    return d;
  });
  return { ...res, data };
}

/** Add usages field by field; a field no part reported stays null. */
export function sumUsage(parts: ReadonlyArray<Usage | null | undefined>): Usage {
  const add = (k: keyof Usage): number | null => {
    let total: number | null = null;
    for (const u of parts) if (u && typeof u[k] === 'number') total = (total ?? 0) + (u[k] as number);
    return total;
  };
  return { prompt_tokens: add('prompt_tokens'), completion_tokens: add('completion_tokens'), total_tokens: add('total_tokens') };
}

/**
 * The `prompt` of a completions request as a list: a string is one prompt, a list of strings is
 * one prompt each (LangChain's `OpenAI` class always sends a list). Token-id prompts are refused.
 */
export function promptList(prompt: unknown): string[] | null {
  if (typeof prompt === 'string') return null;
  if (!Array.isArray(prompt)) return null; // the kernel's schema check reports it
  if (prompt.length === 0) throw new GatewayError('GW_ERR_REQUEST_BAD', "'prompt' must not be an empty list.", { param: 'prompt' });
  if (!prompt.every((p) => typeof p === 'string')) {
    throw new GatewayError('GW_ERR_REQUEST_BAD', "'prompt' must be a string or a list of strings; token-id prompts are not supported by this gateway.", { param: 'prompt' });
  }
  return prompt as string[];
}

/**
 * One completions answer for several prompts, as OpenAI gives it: the choices of prompt `p` come
 * at `index = p * n + i`, usage is summed, id/created/model are the first answer's.
 */
export function mergeCompletions(answers: readonly CompletionsResponse[], n: number): CompletionsResponse {
  const first = answers[0]!;
  return {
    ...first,
    choices: answers.flatMap((a, p) => a.choices.map((c) => ({ ...c, index: p * n + c.index }))),
    usage: sumUsage(answers.map((a) => a.usage)),
  };
}

/**
 * Several completions streams, one per prompt, one after the other, with the choice indices of
 * `mergeCompletions`. `open(p)` starts the stream of prompt `p` (the first is already open).
 * Usage is reported once, summed, on the last chunk (see `openAIChunks`).
 */
export async function* concatCompletionStreams(count: number, n: number, open: (p: number) => Promise<AsyncIterable<UnifiedChunk>>): AsyncGenerator<UnifiedChunk> {
  const usages: Usage[] = [];
  let last: UnifiedChunk | undefined;
  for (let p = 0; p < count; p++) {
    for await (const c of await open(p)) {
      if (c.usage) usages.push(c.usage);
      last = c;
      if (c.choices.length === 0) continue;
      const { usage: _u, ...rest } = c as CompletionsChunk;
      yield { ...rest, choices: (c as CompletionsChunk).choices.map((ch) => ({ ...ch, index: p * n + ch.index })) } as UnifiedChunk;
    }
  }
  if (last && usages.length) yield { ...(last as CompletionsChunk), choices: [], usage: sumUsage(usages) };
}
