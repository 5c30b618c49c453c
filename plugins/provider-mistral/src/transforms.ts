/**
 * Pure request/response transforms for Mistral (spec §11.4). No I/O here.
 *
 * Chat and chat streams are OpenAI-shaped and use the sdk's OpenAI transforms; this file holds
 * what differs: completions (sent to `chat/completions`) and embeddings.
 */
import {
  completionsResponse, embeddingsResponse, excludeNone,
  type CompletionsRequest, type CompletionsResponse, type EmbeddingsRequest, type EmbeddingsResponse,
} from '@gatehouse/sdk';

export const DEFAULT_MISTRAL_API_BASE = 'https://api.mistral.ai/v1';

type Json = any;

/**
 * Completions → Mistral chat body, as MLflow's `MistralAdapter.completions_to_model`:
 * the prompt becomes one user message, `stop` and `n` are dropped, temperature is halved
 * (Mistral's range is 0–1, the gateway's 0–2). Everything else is forwarded.
 */
export function completionsRequestBody(req: CompletionsRequest, model: string | null): Record<string, unknown> {
  const { prompt, stop: _stop, n: _n, model: _model, stream: _stream, stream_options: _so, ...rest } = req;
  const body: Record<string, unknown> = excludeNone(rest);
  if (typeof body.temperature === 'number') body.temperature = 0.5 * body.temperature;
  return { ...(model ? { model } : {}), messages: [{ role: 'user', content: prompt }], ...body };
}

/** Mistral chat answer → unified completions (MLflow: `id` null, `model` = configured name). */
export function completionsResponseFrom(js: Json, model: string): CompletionsResponse {
  return completionsResponse({
    id: null,
    model,
    choices: (js?.choices ?? []).map((c: Json, i: number) => ({
      index: i,
      text: c?.message?.content ?? '',
      finish_reason: c?.finish_reason ?? null,
    })),
    usage: js?.usage,
  });
}

/** Embeddings body: `{"model": <configured name>, ...payload}`. */
export function embeddingsRequestBody(req: EmbeddingsRequest, model: string | null): Record<string, unknown> {
  const { model: _model, ...rest } = req;
  return { ...(model ? { model } : {}), ...excludeNone(rest) };
}

/** Mistral embeddings answer → unified embeddings, ordered by the upstream `index`. */
export function embeddingsResponseFrom(js: Json, model: string): EmbeddingsResponse {
  const data = [...(js?.data ?? [])].sort((a: Json, b: Json) => (a?.index ?? 0) - (b?.index ?? 0));
  return embeddingsResponse({
    model,
    data: data.map((d: Json) => d.embedding),
    usage: { prompt_tokens: js?.usage?.prompt_tokens ?? null, total_tokens: js?.usage?.total_tokens ?? null },
  });
}
