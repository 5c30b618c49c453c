/**
 * Pure MosaicML transforms, spec §11.12: unified requests -> `<model>/v1/predict` bodies and
 * back, the Llama-2 chat prompt, and the remap of MosaicML's token-limit 500s to 422s.
 */
import {
  chatResponse, completionsResponse, embeddingsResponse, GatewayError, isGatewayError, paramError,
  type ChatMessage, type ChatRequest, type ChatResponse, type CompletionsRequest, type CompletionsResponse,
  type EmbeddingsRequest, type EmbeddingsResponse,
} from '@gatehouse/sdk';

type Json = any;

const present = (v: unknown) => v !== undefined && v !== null;

/** Never forwarded in `parameters`: `model` is the endpoint's; streaming is not offered. */
const DROPPED = new Set(['model', 'stream', 'stream_options']);

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (!m.content) return '';
  return m.content.map((p) => {
    if (p.type !== 'text') throw paramError(`Only text content is supported for MosaicML, got a '${p.type}' part.`, 'messages');
    return p.text;
  }).join('\n');
}

/**
 * Build one Llama-2 prompt (https://huggingface.co/blog/llama2#how-to-prompt-llama-2):
 * `<s>[INST] <<SYS>> system <</SYS>> user [/INST] answer </s><s>[INST] user [/INST]`.
 * Consecutive system/user messages share one `[INST]` block.
 */
export function llama2Prompt(messages: ChatMessage[]): string {
  let prompt = '<s>';
  for (const m of messages) {
    if (m.role === 'system' || m.role === 'user') {
      let inst = textOf(m);
      if (m.role === 'system') inst = `<<SYS>> ${inst} <</SYS>>`;
      inst += ' [/INST]';
      if (prompt.endsWith('[/INST]')) prompt = prompt.slice(0, -7);
      else inst = `[INST] ${inst}`;
      prompt += inst;
    } else if (m.role === 'assistant') {
      prompt += ` ${textOf(m)} </s><s>`;
    } else {
      throw paramError(
        `An invalid request structure was submitted. Invalid role ${m.role} inputted. Must be one of 'system', 'user', or 'assistant'.`,
        'messages',
      );
    }
  }
  if (prompt.endsWith('</s><s>')) prompt = prompt.slice(0, -7);
  return prompt;
}

/** `parameters`: the remaining request fields, `max_tokens` renamed to `max_new_tokens`. */
function parameters(rest: Record<string, unknown>): Record<string, unknown> {
  if (present(rest.max_new_tokens)) throw paramError('Invalid parameter max_new_tokens. Use max_tokens instead.', 'max_new_tokens');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (present(v) && !DROPPED.has(k)) out[k === 'max_tokens' ? 'max_new_tokens' : k] = v;
  return out;
}

/** Unified chat request -> `{"inputs": [llama2 prompt], "parameters": {...}}`. */
export function chatToMosaic(req: ChatRequest): Json {
  if (req.tools?.length) throw paramError('Tool calling is not supported by the MosaicML provider.', 'tools');
  const { messages, tools: _t, ...rest } = req;
  const params = parameters(rest);
  return { inputs: [llama2Prompt(messages)], parameters: params };
}

/** Unified completions request -> `{"inputs": [prompt], "parameters": {...}}`. */
export function completionsToMosaic(req: CompletionsRequest): Json {
  const { prompt, ...rest } = req;
  return { inputs: [prompt], parameters: parameters(rest) };
}

/** Unified embeddings request -> `{"inputs": [texts...], ...extras}`. */
export function embeddingsToMosaic(req: EmbeddingsRequest): Json {
  if (present(req.inputs)) throw paramError('Invalid parameter inputs. Use input instead.', 'inputs');
  const { input, ...rest } = req;
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (present(v) && !DROPPED.has(k)) extra[k] = v;
  return { inputs: typeof input === 'string' ? [input] : input, ...extra };
}

const outputsOf = (resp: Json): Json[] => (Array.isArray(resp?.outputs) ? resp.outputs : []);

export function mosaicToChat(resp: Json, model: string, now: number): ChatResponse {
  return chatResponse({
    id: null, created: now, model,
    choices: outputsOf(resp).map((c, i) => ({ index: i, message: { role: 'assistant', content: String(c) }, finish_reason: null })),
  });
}

export function mosaicToCompletions(resp: Json, model: string, now: number): CompletionsResponse {
  return completionsResponse({
    id: null, created: now, model,
    choices: outputsOf(resp).map((c, i) => ({ index: i, text: String(c), finish_reason: null })),
  });
}

export function mosaicToEmbeddings(resp: Json, model: string): EmbeddingsResponse {
  return embeddingsResponse({ model, data: outputsOf(resp) as number[][] });
}

const TOKEN_LIMIT_PREFIXES = ['Error: max output tokens is limited to', 'Error: prompt token count'];

/**
 * MosaicML answers some request errors (too many tokens) with a 500; MLflow turns those into a
 * 422 whose detail is the upstream JSON. Anything else passes through unchanged.
 */
export function remapTokenLimitError(e: unknown): unknown {
  if (!isGatewayError(e) || e.status !== 500) return e;
  const detail = e.detail as { message?: unknown } | null;
  const message = detail && typeof detail === 'object' && typeof detail.message === 'string' ? detail.message : null;
  if (message === null || !TOKEN_LIMIT_PREFIXES.some((p) => message.startsWith(p))) return e;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: 422, detail, cause: e });
}
