/**
 * Pure request/response transforms for Hugging Face Text Generation Inference (spec §11.7).
 * No I/O here.
 *
 * - Completions: TGI's native `POST /generate` (MLflow's mapping) and `POST /generate_stream` (SSE).
 * - Chat: TGI's Messages API, `POST /v1/chat/completions`, which is OpenAI-shaped.
 */
import {
  GatewayError, chatChunk, chatResponse, completionsChunk, completionsResponse, excludeNone, paramError,
  type ChatChunk, type ChatRequest, type ChatResponse, type ChunkToolCallInput, type CompletionsChunk,
  type CompletionsRequest, type CompletionsResponse, type ToolCall,
} from '@gatehouse/sdk';

type Json = any;

/** MLflow's message (sic: no space after the first full stop). */
export const nMustBeOne = (n: unknown): string =>
  `'n' must be '1' for the Text Generation Inference provider.Received value: '${String(n)}'.`;

/** The request fields that steer the gateway itself and are never sent upstream as parameters. */
const NOT_PARAMETERS = new Set(['prompt', 'n', 'model', 'stream', 'stream_options']);

function checkN(n: unknown): void {
  if (n !== undefined && n !== null && n !== 1) throw paramError(nMustBeOne(n), 'n');
}

/**
 * `/generate` and `/generate_stream` bodies (MLflow's mapping): `{"inputs": prompt, "parameters":
 * {max_new_tokens ← max_tokens, temperature: max(50 × t, 0.001), details: true, ...rest}}`.
 * TGI's temperature range is 0–100 (and 0 is invalid), the gateway's 0–2. A native
 * `max_new_tokens` or an `n` other than 1 is a 422. `decoder_input_details` (prompt tokens, used
 * for usage) is only asked for on `/generate`: TGI refuses it on streams.
 */
export function generateRequestBody(req: CompletionsRequest, stream = false): { inputs: string; parameters: Record<string, unknown> } {
  if ('max_new_tokens' in req && req.max_new_tokens !== undefined) {
    throw paramError('Invalid parameter max_new_tokens. Use max_tokens instead.', 'max_new_tokens');
  }
  checkN(req.n);
  const parameters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(excludeNone(req))) {
    if (NOT_PARAMETERS.has(k)) continue;
    parameters[k === 'max_tokens' ? 'max_new_tokens' : k] = v;
  }
  if (typeof parameters.temperature === 'number') parameters.temperature = Math.max(50 * parameters.temperature, 1e-3);
  parameters.details = true;
  if (!stream) parameters.decoder_input_details = true;
  return { inputs: req.prompt, parameters };
}

/** `/generate` answer → unified completions; usage from `details.prefill` and `details.generated_tokens`. */
export function generateResponseFrom(js: Json, model: string): CompletionsResponse {
  const details = js?.details ?? {};
  const prompt = Array.isArray(details.prefill) ? details.prefill.length : null;
  const completion = typeof details.generated_tokens === 'number' ? details.generated_tokens : null;
  return completionsResponse({
    id: null,
    model,
    choices: [{ index: 0, text: js?.generated_text ?? '', finish_reason: details.finish_reason ?? null }],
    usage: { prompt_tokens: prompt, completion_tokens: completion },
  });
}

/** HTTP statuses TGI itself answers for each `error_type` (router `server.rs`). */
const ERROR_STATUS: Record<string, number> = {
  validation: 422,
  generation: 424,
  overloaded: 429,
  incomplete_generation: 500,
  template_error: 422,
  tool_error: 422,
};

/** TGI's error body / stream event `{"error": "...", "error_type": "..."}` → GatewayError. */
export function tgiStreamError(js: Json): GatewayError {
  const message = typeof js?.error === 'string' ? js.error : js?.error?.message ?? 'The upstream stream reported an error.';
  const status = ERROR_STATUS[js?.error_type as string] ?? 502;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status });
}

/**
 * One `/generate_stream` event (`{"index", "token": {"text", "special", ...}, "generated_text":
 * null | str, "details": null | {...}}`) → a completions chunk. Special tokens (e.g. `</s>`)
 * contribute no text, as in TGI's own `generated_text`. The last event carries `finish_reason`
 * and, when TGI reports them, token counts.
 */
export function generateStreamChunkFrom(js: Json, model: string, created: number): CompletionsChunk {
  const token = js?.token ?? {};
  const last = typeof js?.generated_text === 'string';
  const details = js?.details ?? null;
  const completion = typeof details?.generated_tokens === 'number' ? details.generated_tokens : null;
  const prompt = typeof details?.input_length === 'number' ? details.input_length
    : typeof details?.prompt_tokens === 'number' ? details.prompt_tokens : null;
  return completionsChunk({
    id: null,
    created,
    model,
    choices: [{
      index: 0,
      finish_reason: last ? details?.finish_reason ?? 'stop' : null,
      text: token.special ? '' : token.text ?? '',
    }],
    usage: last && completion !== null ? { prompt_tokens: prompt, completion_tokens: completion } : undefined,
  });
}

/** The last `/generate_stream` event: the only one with `generated_text` set. */
export const isFinalGenerateEvent = (js: Json): boolean => typeof js?.generated_text === 'string';

/** The TGI Messages API body: OpenAI's, with a `model` (unused by TGI, but required by older versions). */
export function chatRequestBody(req: ChatRequest, model: string | null, stream: boolean): Record<string, unknown> {
  checkN(req.n);
  const { model: _model, stream: _stream, ...rest } = req;
  const body: Record<string, unknown> = { model: model || 'tgi', ...excludeNone(rest) };
  if (stream) {
    body.stream = true;
    body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
  }
  return body;
}

/** TGI 2.x sends tool-call `arguments` as a JSON object; OpenAI (and TGI 3) as a string. */
const argumentsString = (a: unknown): string | undefined =>
  a === undefined || a === null ? undefined : typeof a === 'string' ? a : JSON.stringify(a);

const toolCalls = (calls: unknown): ToolCall[] | null =>
  Array.isArray(calls) && calls.length
    ? calls.map((t: Json, i: number) => ({
        id: t?.id || `call_${i}`,
        type: t?.type ?? 'function',
        function: { name: t?.function?.name, arguments: argumentsString(t?.function?.arguments) },
      }))
    : null;

/** TGI chat answer → unified chat. TGI's `id` is `""`: reported as null. */
export function chatResponseFrom(js: Json, model: string): ChatResponse {
  return chatResponse({
    id: js?.id || null,
    created: js?.created,
    model: model || js?.model || '',
    choices: (js?.choices ?? []).map((c: Json, i: number) => ({
      index: c?.index ?? i,
      message: { role: c?.message?.role ?? 'assistant', content: c?.message?.content ?? null, tool_calls: toolCalls(c?.message?.tool_calls) },
      finish_reason: c?.finish_reason ?? null,
    })),
    usage: js?.usage,
  });
}

/** Older TGI sends `delta.tool_calls` as one object, newer as a list. */
const chunkToolCalls = (calls: unknown): ChunkToolCallInput[] | null => {
  const list = Array.isArray(calls) ? calls : calls && typeof calls === 'object' ? [calls] : [];
  return list.length
    ? list.map((t: Json, i: number) => ({
        index: t?.index ?? i,
        id: t?.id || null,
        type: t?.type ?? null,
        function: { name: t?.function?.name ?? null, arguments: argumentsString(t?.function?.arguments) ?? null },
      }))
    : null;
};

/** One TGI chat stream event → unified chat chunk. */
export function chatChunkFrom(js: Json, model: string): ChatChunk {
  return chatChunk({
    id: js?.id || null,
    created: js?.created,
    model: model || js?.model || '',
    choices: (js?.choices ?? []).map((c: Json, i: number) => ({
      index: c?.index ?? i,
      finish_reason: c?.finish_reason ?? null,
      delta: { role: c?.delta?.role ?? null, content: c?.delta?.content ?? null, tool_calls: chunkToolCalls(c?.delta?.tool_calls) },
    })),
    usage: js?.usage ?? undefined,
  });
}
