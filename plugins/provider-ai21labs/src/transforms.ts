/**
 * Pure request/response transforms for AI21 Labs Jurassic-2 completions (spec §11.8). No I/O here.
 */
import { completionsResponse, excludeNone, paramError, type CompletionsRequest, type CompletionsResponse } from '@gatehouse/sdk';

export const DEFAULT_AI21LABS_API_BASE = 'https://api.ai21.com/studio/v1';

export const AI21_MODELS = ['j2-ultra', 'j2-mid', 'j2-light'] as const;

/** MLflow's config error for any other model name. */
export const unsupportedModel = (name: string | null): string =>
  `An Unsupported AI21Labs model has been specified: '${name ?? 'None'}'. Please see documentation for supported models.`;

/** Gateway names → AI21 names. */
const RENAMES: Record<string, string> = { stop: 'stopSequences', n: 'numResults', max_tokens: 'maxTokens' };

type Json = any;

/**
 * The `/<model>/complete` body: the payload with `stop`/`n`/`max_tokens` renamed. Temperature is not
 * scaled. A native AI21 name in the request, or `stream: true`, is a 422 (MLflow's messages).
 */
export function completeRequestBody(req: CompletionsRequest): Record<string, unknown> {
  const p: Record<string, unknown> = excludeNone(req);
  for (const [ours, theirs] of Object.entries(RENAMES)) {
    if (theirs in p) throw paramError(`Invalid parameter ${theirs}. Use ${ours} instead.`, theirs);
  }
  if (p.stream) throw paramError("Setting the 'stream' parameter to 'true' is not supported with the MLflow Gateway.", 'stream');
  const { model: _model, stream: _stream, stream_options: _so, ...rest } = p;
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) body[RENAMES[k] ?? k] = v;
  return body;
}

/** `/complete` answer → unified completions: `completions[].data.text`, `finishReason.reason`; no id, no usage. */
export function completeResponseFrom(js: Json, model: string): CompletionsResponse {
  return completionsResponse({
    id: null,
    model,
    choices: (js?.completions ?? []).map((c: Json, i: number) => ({
      index: i,
      text: c?.data?.text ?? '',
      finish_reason: c?.finishReason?.reason ?? null,
    })),
    usage: null,
  });
}
