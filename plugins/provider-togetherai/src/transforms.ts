/**
 * Pure request/response transforms for TogetherAI (spec §11.5). No I/O here.
 *
 * TogetherAI speaks an OpenAI-like wire format, but MLflow maps its answers in its own way
 * (configured model name, `finish_reason: null` on whole answers, `role` forced to assistant),
 * so the mappings are spelled out here.
 */
import {
  chatResponse, completionsResponse, embeddingsResponse, excludeNone, openAIChatChunk, openAICompletionsChunk, paramError,
  type ChatChunk, type ChatResponse, type CompletionsChunk, type CompletionsResponse, type EmbeddingsResponse,
} from '@gatehouse/sdk';

export const DEFAULT_TOGETHERAI_API_BASE = 'https://api.together.xyz/v1';

type Json = any;

export const MAX_TOKENS_REQUIRED =
  'max_tokens is not present in payload.It is a required parameter for TogetherAI completions.';
export const LOGPROBS_TYPE = 'Wrong type for logprobs. It should be an 32bit integer.';
export const TOP_LOGPROBS_TYPE = 'Wrong type for top_logprobs. It should a 32bit integer.';

/** An integer (a JSON boolean is not one, unlike Python's `isinstance(True, int)`). */
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);

/**
 * The chat/completions body: `{"model": <configured>, ...payload}`, where a client `model` wins
 * (TogetherAI does not reject it). `logprobs` and `top_logprobs` must be integers; `top_logprobs`
 * (OpenAI's name) is renamed to TogetherAI's `logprobs`. Throws 422 GatewayErrors like MLflow.
 */
export function requestBody(payload: Record<string, unknown>, configModel: string | null, stream: boolean): Record<string, unknown> {
  const p: Record<string, unknown> = excludeNone(payload);
  if ('logprobs' in p && !isInt(p.logprobs)) throw paramError(LOGPROBS_TYPE, 'logprobs');
  if ('top_logprobs' in p && !isInt(p.top_logprobs)) throw paramError(TOP_LOGPROBS_TYPE, 'top_logprobs');
  const renamed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) renamed[k === 'top_logprobs' ? 'logprobs' : k] = v;
  if (stream) renamed.stream = true; else delete renamed.stream;
  return { ...(configModel ? { model: configModel } : {}), ...renamed };
}

/** Completions (and completions streams) need a truthy `max_tokens`. */
export function completionsRequestBody(payload: Record<string, unknown>, configModel: string | null, stream: boolean): Record<string, unknown> {
  if (!payload.max_tokens) throw paramError(MAX_TOKENS_REQUIRED, 'max_tokens');
  return requestBody(payload, configModel, stream);
}

/**
 * Embeddings: `{"model": <configured>, ...payload}` (a client `model` wins). MLflow forwards the
 * payload unchanged, so without a client `model` TogetherAI (which requires one) rejects the call.
 */
export function embeddingsRequestBody(payload: Record<string, unknown>, configModel: string | null): Record<string, unknown> {
  return { ...(configModel ? { model: configModel } : {}), ...excludeNone(payload) };
}

/**
 * The model name reported back: the configured name, as MLflow does (even when a client `model`
 * overrode it upstream); without one, the client's `model`, else the upstream's.
 */
export const reportedModel = (clientModel: unknown, configModel: string | null, upstream: unknown): string =>
  configModel || (typeof clientModel === 'string' && clientModel) || (typeof upstream === 'string' ? upstream : '');

export function completionsResponseFrom(js: Json, model: string): CompletionsResponse {
  return completionsResponse({
    id: js?.id ?? null,
    created: js?.created,
    model,
    choices: (js?.choices ?? []).map((c: Json, i: number) => ({ index: i, text: c?.text ?? '', finish_reason: null })),
    usage: js?.usage,
  });
}

export function chatResponseFrom(js: Json, model: string): ChatResponse {
  return chatResponse({
    id: js?.id ?? null,
    created: js?.created,
    model,
    choices: (js?.choices ?? []).map((c: Json, i: number) => ({
      index: i,
      message: { role: 'assistant', content: c?.message?.content ?? null, tool_calls: c?.message?.tool_calls ?? null },
      finish_reason: null,
    })),
    usage: js?.usage,
  });
}

export function embeddingsResponseFrom(js: Json, model: string): EmbeddingsResponse {
  const data = [...(js?.data ?? [])].sort((a: Json, b: Json) => (a?.index ?? 0) - (b?.index ?? 0));
  return embeddingsResponse({ model, data: data.map((d: Json) => d.embedding), usage: null });
}

/** One completions stream event (the sdk's OpenAI mapping), under the configured model name. */
export function completionsChunkFrom(js: Json, model: string): CompletionsChunk {
  return { ...openAICompletionsChunk(js), model };
}

/**
 * One chat stream event, under the configured model name. MLflow takes the content from
 * `choice.text` (a bug: chat chunks carry it in `delta.content`); the sdk's mapping uses
 * `delta.content`, falling back to `text`, and keeps `delta.role` and `delta.tool_calls`.
 */
export function chatChunkFrom(js: Json, model: string): ChatChunk {
  return { ...openAIChatChunk(js), model };
}
