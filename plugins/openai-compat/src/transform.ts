/**
 * Pure transforms from the unified answers to what OpenAI clients expect. The unified shapes are
 * already OpenAI's; what differs is usage on streams and base64 embeddings.
 */
import type { EmbeddingsResponse, UnifiedChunk, Usage } from '@gatehouse/sdk';

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
