/**
 * Answers as MLflow 3.11 writes them on `/endpoints/*` and `/gateway/*`:
 *
 * - chat responses and chat chunks end with a top-level `provider` (the provider that served,
 *   as the endpoint JSON names it), after `usage`: MLflow's gateway provider base class sets it
 *   on every `ResponsePayload` and `StreamResponsePayload` it returns;
 * - chat chunks always carry `usage` (MLflow's `ChatCompletionChunk.usage`, `null` until the
 *   provider reports it), and the provider's last usage-only chunk (`choices: []`) is forwarded;
 * - completions chunks keep MLflow's field set (`id, object, created, model, choices`); the
 *   usage-only chunk is forwarded too, with its `usage`, so token counts reach the caller.
 *
 * Field order is rebuilt explicitly: a provider's extra keys never leak onto the wire.
 */
import type { ChatChunk, ChatResponse, CompletionsChunk, UnifiedChunk, UnifiedResponse, Usage } from '@gatehouse/sdk';

const isChatChunk = (c: UnifiedChunk): c is ChatChunk => c.object === 'chat.completion.chunk';

/** A chat chunk in MLflow 3.11's field order. */
export function mlflowChatChunk(c: ChatChunk, provider: string | null) {
  return { id: c.id, object: c.object, created: c.created, model: c.model, choices: c.choices, usage: c.usage ?? null, provider };
}

/** A completions chunk in MLflow's field order; `usage` only when the chunk carries it. */
export function mlflowCompletionsChunk(c: CompletionsChunk): Record<string, unknown> {
  const out: Record<string, unknown> = { id: c.id, object: c.object, created: c.created, model: c.model, choices: c.choices };
  if (c.usage) out.usage = c.usage satisfies Usage;
  return out;
}

/** The stream as MLflow 3.11 shows it (see the module comment). */
export async function* mlflowChunks(chunks: AsyncIterable<UnifiedChunk>, provider: () => string | null): AsyncGenerator<unknown> {
  for await (const c of chunks) {
    if (isChatChunk(c)) yield mlflowChatChunk(c, provider());
    else yield mlflowCompletionsChunk(c);
  }
}

/** A JSON answer: chat responses get `provider` last; other types are MLflow's as built. */
export function mlflowResponse(value: UnifiedResponse, provider: string | null): unknown {
  if (value.object !== 'chat.completion') return value;
  const r = value as ChatResponse;
  return { id: r.id, object: r.object, created: r.created, model: r.model, choices: r.choices, usage: r.usage, provider };
}
