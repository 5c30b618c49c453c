/**
 * Pure PaLM (generativelanguage v1beta3) transforms, spec §11.10: unified requests ->
 * `generateMessage` / `generateText` / `batchEmbedText` bodies and back. No I/O here.
 */
import {
  chatResponse, completionsResponse, embeddingsResponse, paramError,
  type ChatMessage, type ChatRequest, type ChatResponse, type CompletionsRequest, type CompletionsResponse,
  type EmbeddingsRequest, type EmbeddingsResponse,
} from '@gatehouse/sdk';

type Json = any;

const present = (v: unknown) => v !== undefined && v !== null;

/** Never forwarded: `model` is the endpoint's, `stream`/`stream_options` are gateway-side (PaLM rejects unknown fields). */
const DROPPED = new Set(['model', 'stream', 'stream_options']);

function rename(req: Record<string, unknown>, mapping: Readonly<Record<string, string>>): Record<string, unknown> {
  for (const [ours, theirs] of Object.entries(mapping)) {
    if (present(req[theirs])) throw paramError(`Invalid parameter ${theirs}. Use ${ours} instead.`, theirs);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (present(v) && !DROPPED.has(k)) out[mapping[k] ?? k] = v;
  // PaLM's temperature range is 0-1, ours 0-2: halve it.
  if (present(out.temperature)) out.temperature = 0.5 * Number(out.temperature);
  return out;
}

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (!m.content) return '';
  return m.content.map((p) => {
    if (p.type !== 'text') throw paramError(`Only text content is supported for PaLM, got a '${p.type}' part.`, 'messages');
    return p.text;
  }).join('\n');
}

const CHAT_KEYS = { stop: 'stopSequences', n: 'candidateCount' } as const;
const COMPLETIONS_KEYS = { stop: 'stopSequences', n: 'candidateCount', max_tokens: 'maxOutputTokens' } as const;

/** Unified chat request -> `generateMessage` body (`role` -> `author`; `examples`/`context` go into `prompt`). */
export function chatToPalm(req: ChatRequest): Json {
  if (present(req.max_tokens) || present(req.maxOutputTokens)) throw paramError('Max tokens is not supported for PaLM chat.', 'max_tokens');
  if (req.tools?.length) throw paramError('Tool calling is not supported by the PaLM provider.', 'tools');
  const { messages, examples, context, tools: _tools, ...rest } = req;
  const body: Json = rename(rest, CHAT_KEYS);
  const prompt: Json = { messages: messages.map((m) => ({ content: textOf(m), author: m.role })) };
  if (present(examples)) prompt.examples = examples;
  if (present(context)) prompt.context = context;
  body.prompt = prompt;
  return body;
}

/** Unified completions request -> `generateText` body. */
export function completionsToPalm(req: CompletionsRequest): Json {
  const { prompt, ...rest } = req;
  return { prompt: { text: prompt }, ...rename(rest, COMPLETIONS_KEYS) };
}

/** Unified embeddings request -> `batchEmbedText` body (`input` -> `texts`, always a list). */
export function embeddingsToPalm(req: EmbeddingsRequest): Json {
  if (present(req.texts)) throw paramError('Invalid parameter texts. Use input instead.', 'texts');
  const { input, ...rest } = req;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
    throw paramError('PaLM embeddings accept text input only (a string or a list of strings), not token ids.', 'input');
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (present(v) && !DROPPED.has(k)) extra[k] = v;
  return { texts, ...extra };
}

const candidatesOf = (resp: Json): Json[] => (Array.isArray(resp?.candidates) ? resp.candidates : []);

/** `generateMessage` answer -> unified chat response; the role is the candidate's `author` (e.g. `"1"`), as in MLflow. */
export function palmToChat(resp: Json, model: string, now: number): ChatResponse {
  return chatResponse({
    id: null, created: now, model,
    choices: candidatesOf(resp).map((c, i) => ({ index: i, message: { role: String(c?.author ?? 'assistant'), content: c?.content ?? '' }, finish_reason: null })),
  });
}

/** `generateText` answer -> unified completions response. */
export function palmToCompletions(resp: Json, model: string, now: number): CompletionsResponse {
  return completionsResponse({
    id: null, created: now, model,
    choices: candidatesOf(resp).map((c, i) => ({ index: i, text: c?.output ?? '', finish_reason: null })),
  });
}

/** `batchEmbedText` answer (`embeddings[].value`) -> unified embeddings response. */
export function palmToEmbeddings(resp: Json, model: string): EmbeddingsResponse {
  const items: Json[] = Array.isArray(resp?.embeddings) ? resp.embeddings : [];
  return embeddingsResponse({ model, data: items.map((e) => (Array.isArray(e) ? e : Array.isArray(e?.value) ? e.value : [])) });
}
