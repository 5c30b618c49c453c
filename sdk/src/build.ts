/**
 * Builders that produce unified responses with MLflow's exact field order and with every
 * nullable field present. Providers should build their answers through these, never by hand.
 */
import type {
  ChatChunk, ChatResponse, ChunkToolCall, CompletionsChunk, CompletionsResponse, ContentPart,
  EmbeddingsResponse, ToolCall, Usage,
} from './types.js';

/** Seconds since the epoch, as MLflow's `int(time.time())`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Usage with all three fields present; `total_tokens` is derived when both parts are known. */
export function usage(u?: { prompt_tokens?: number | null; completion_tokens?: number | null; total_tokens?: number | null } | null): Usage {
  const prompt = u?.prompt_tokens ?? null;
  const completion = u?.completion_tokens ?? null;
  let total = u?.total_tokens ?? null;
  if (total === null && prompt !== null && completion !== null) total = prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
}

const toolCall = (t: ToolCall): ToolCall => ({
  id: t.id,
  type: t.type ?? 'function',
  function: { name: t.function?.name, arguments: t.function?.arguments } as ToolCall['function'],
});

export interface ChatChoiceInput {
  index?: number;
  message: { role?: string; content?: string | ContentPart[] | null; tool_calls?: ToolCall[] | null; refusal?: string | null };
  finish_reason?: string | null;
}

/**
 * Build a chat response.
 * @example
 * chatResponse({ id: 'x', model: 'gpt-4o', choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } })
 */
export function chatResponse(p: { id?: string | null; created?: number; model: string; choices: ChatChoiceInput[]; usage?: Parameters<typeof usage>[0] }): ChatResponse {
  return {
    id: p.id ?? null,
    object: 'chat.completion',
    created: p.created ?? nowSeconds(),
    model: p.model,
    choices: p.choices.map((c, i) => ({
      index: c.index ?? i,
      message: {
        role: c.message.role ?? 'assistant',
        content: c.message.content ?? null,
        tool_calls: c.message.tool_calls?.length ? c.message.tool_calls.map(toolCall) : null,
        refusal: c.message.refusal ?? null,
      },
      finish_reason: c.finish_reason ?? null,
    })),
    usage: usage(p.usage),
  };
}

/** Build a completions response. */
export function completionsResponse(p: { id?: string | null; created?: number; model: string; choices: Array<{ index?: number; text: string; finish_reason?: string | null }>; usage?: Parameters<typeof usage>[0] }): CompletionsResponse {
  return {
    id: p.id ?? null,
    object: 'text_completion',
    created: p.created ?? nowSeconds(),
    model: p.model,
    choices: p.choices.map((c, i) => ({ index: c.index ?? i, text: c.text, finish_reason: c.finish_reason ?? null })),
    usage: usage(p.usage),
  };
}

/** Build an embeddings response. */
export function embeddingsResponse(p: { model: string; data: Array<number[] | string>; usage?: { prompt_tokens?: number | null; total_tokens?: number | null } | null }): EmbeddingsResponse {
  return {
    object: 'list',
    data: p.data.map((embedding, index) => ({ object: 'embedding', embedding, index })),
    model: p.model,
    usage: { prompt_tokens: p.usage?.prompt_tokens ?? null, total_tokens: p.usage?.total_tokens ?? null },
  };
}

export interface ChunkToolCallInput { index?: number; id?: string | null; type?: string | null; function?: { name?: string | null; arguments?: string | null } }

const chunkToolCall = (t: ChunkToolCallInput, i: number): ChunkToolCall => ({
  index: t.index ?? i,
  id: t.id ?? null,
  type: t.type ?? null,
  function: { name: t.function?.name ?? null, arguments: t.function?.arguments ?? null },
});

/** Build a chat stream chunk. */
export function chatChunk(p: {
  id?: string | null; created?: number; model: string;
  choices: Array<{ index?: number; finish_reason?: string | null; delta: { role?: string | null; content?: string | null; tool_calls?: ChunkToolCallInput[] | null } }>;
  usage?: Parameters<typeof usage>[0];
}): ChatChunk {
  const chunk: ChatChunk = {
    id: p.id ?? null,
    object: 'chat.completion.chunk',
    created: p.created ?? nowSeconds(),
    model: p.model,
    choices: p.choices.map((c, i) => ({
      index: c.index ?? i,
      finish_reason: c.finish_reason ?? null,
      delta: {
        role: c.delta.role ?? null,
        content: c.delta.content ?? null,
        tool_calls: c.delta.tool_calls?.length ? c.delta.tool_calls.map(chunkToolCall) : null,
      },
    })),
  };
  if (p.usage) chunk.usage = usage(p.usage);
  return chunk;
}

/** Build a completions stream chunk. */
export function completionsChunk(p: {
  id?: string | null; created?: number; model: string; object?: CompletionsChunk['object'];
  choices: Array<{ index?: number; finish_reason?: string | null; text?: string | null }>;
  usage?: Parameters<typeof usage>[0];
}): CompletionsChunk {
  const chunk: CompletionsChunk = {
    id: p.id ?? null,
    object: p.object ?? 'text_completion_chunk',
    created: p.created ?? nowSeconds(),
    model: p.model,
    choices: p.choices.map((c, i) => ({ index: c.index ?? i, finish_reason: c.finish_reason ?? null, text: c.text ?? null })),
  };
  if (p.usage) chunk.usage = usage(p.usage);
  return chunk;
}
