/**
 * Pure Cohere v1 transforms (spec §11.3): unified requests -> `chat` / `generate` / `embed`
 * bodies, and their answers and NDJSON stream events -> unified responses. No I/O here.
 */
import {
  chatChunk, chatResponse, completionsChunk, completionsResponse, embeddingsResponse, GatewayError, paramError,
  type ChatChunk, type ChatMessage, type ChatRequest, type ChatResponse, type CompletionsChunk, type CompletionsRequest,
  type CompletionsResponse, type EmbeddingsRequest, type EmbeddingsResponse,
} from '@gatehouse/sdk';

type Json = any;

const present = (v: unknown) => v !== undefined && v !== null;

/** Fields that never go upstream as-is: the gateway sets `stream` itself, `stream_options` is OpenAI-only. */
const DROPPED = ['model', 'stream', 'stream_options'] as const;

function withoutDropped(req: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (present(v) && !(DROPPED as readonly string[]).includes(k)) out[k] = v;
  return out;
}

/** Cohere's temperature range is 0-5, ours 0-2: scale by 2.5 (when non-zero, as MLflow does). */
function scaleTemperature(payload: Record<string, unknown>): void {
  if (payload.temperature) payload.temperature = 2.5 * Number(payload.temperature);
}

/**
 * Cohere v1 finish reasons -> unified values: `COMPLETE` and `STOP_SEQUENCE` -> `stop`,
 * `MAX_TOKENS` and `ERROR_LIMIT` (context window reached) -> `length`, `ERROR_TOXIC` ->
 * `content_filter`, `TOOL_CALL` -> `tool_calls`, anything else lowercased (`ERROR` -> `error`,
 * `USER_CANCEL` -> `user_cancel`). MLflow passes the raw value (`"COMPLETE"`).
 */
export function normalizeFinishReason(reason: unknown): string | null {
  if (typeof reason !== 'string' || reason === '') return null;
  switch (reason.toUpperCase()) {
    case 'COMPLETE': case 'STOP_SEQUENCE': return 'stop';
    case 'MAX_TOKENS': case 'ERROR_LIMIT': return 'length';
    case 'ERROR_TOXIC': return 'content_filter';
    case 'TOOL_CALL': return 'tool_calls';
    default: return reason.toLowerCase();
  }
}

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (!m.content) return '';
  return m.content.map((p) => {
    if (p.type !== 'text') throw paramError(`Only text content is supported for Cohere chat, got a '${p.type}' part.`, 'messages');
    return p.text;
  }).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Requests

/**
 * Unified chat request -> `/v1/chat` body: the last (user) message becomes `message`, system
 * messages are joined into `preamble`, the other user/assistant turns become `chat_history`.
 */
export function chatToCohere(req: ChatRequest, model: string | null, stream: boolean): Json {
  if (present(req.n) && req.n !== 1) throw paramError(`Parameter n must be 1 for Cohere chat, got ${req.n}.`, 'n');
  if (present(req.stop)) throw paramError('Parameter stop is not supported for Cohere chat.', 'stop');
  if (req.tools?.length) throw paramError('Tool calling is not supported by the Cohere provider.', 'tools');
  const { messages, n: _n, tools: _t, ...rest } = req;
  const payload = withoutDropped(rest);
  scaleTemperature(payload);

  const history = [...messages];
  const last = history.pop()!;
  if (last.role !== 'user') throw paramError(`Last message must be from user, got ${last.role}.`, 'messages');
  const body: Json = model ? { model, ...payload } : { ...payload };
  body.message = textOf(last);
  const system = history.filter((m) => m.role === 'system');
  if (system.length) body.preamble = system.map(textOf).join('\n');
  const turns = history.filter((m) => m.role === 'user' || m.role === 'assistant');
  if (turns.length) body.chat_history = turns.map((m) => ({ role: m.role === 'user' ? 'USER' : 'CHATBOT', message: textOf(m) }));
  if (stream) body.stream = true;
  return body;
}

const COMPLETIONS_KEYS: Readonly<Record<string, string>> = { stop: 'stop_sequences', n: 'num_generations' };

/** Unified completions request -> `/v1/generate` body. A Cohere-native key is a 400, as in MLflow. */
export function completionsToCohere(req: CompletionsRequest, model: string | null, stream: boolean): Json {
  for (const [ours, theirs] of Object.entries(COMPLETIONS_KEYS)) {
    if (present(req[theirs])) {
      throw new GatewayError('GW_ERR_REQUEST_BAD', `Invalid parameter ${theirs}. Use ${ours} instead.`, { param: theirs });
    }
  }
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(withoutDropped(req))) payload[COMPLETIONS_KEYS[k] ?? k] = v;
  scaleTemperature(payload);
  const body: Json = model ? { model, ...payload } : payload;
  if (stream) body.stream = true;
  return body;
}

/** Unified embeddings request -> `/v1/embed` body (`input` -> `texts`, always a list). */
export function embeddingsToCohere(req: EmbeddingsRequest, model: string | null): Json {
  if (present(req.texts)) throw paramError('Invalid parameter texts. Use input instead.', 'texts');
  const { input, ...rest } = req;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
    throw paramError('Cohere embeddings accept text input only (a string or a list of strings), not token ids.', 'input');
  }
  const extra = withoutDropped(rest);
  return model ? { model, texts, ...extra } : { texts, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Responses

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Usage from a chat answer: `token_count` (older API), else `meta.tokens`, else `meta.billed_units`. */
export function chatUsage(resp: Json) {
  const tc = resp?.token_count;
  if (tc && typeof tc === 'object') {
    return { prompt_tokens: num(tc.prompt_tokens), completion_tokens: num(tc.response_tokens), total_tokens: num(tc.total_tokens) };
  }
  const t = resp?.meta?.tokens ?? resp?.meta?.billed_units;
  if (t && typeof t === 'object') return { prompt_tokens: num(t.input_tokens), completion_tokens: num(t.output_tokens) };
  return null;
}

/** `/v1/chat` answer -> unified chat response. */
export function cohereToChat(resp: Json, model: string, now: number): ChatResponse {
  return chatResponse({
    id: resp?.response_id ?? resp?.generation_id ?? null,
    created: now,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: resp?.text ?? '' }, finish_reason: normalizeFinishReason(resp?.finish_reason) }],
    usage: chatUsage(resp),
  });
}

/** `/v1/generate` answer -> unified completions response (MLflow: no id, no usage). */
export function cohereToCompletions(resp: Json, model: string, now: number): CompletionsResponse {
  const generations: Json[] = Array.isArray(resp?.generations) ? resp.generations : [];
  return completionsResponse({
    id: null,
    created: now,
    model,
    choices: generations.map((g, i) => ({ index: i, text: g?.text ?? '', finish_reason: normalizeFinishReason(g?.finish_reason) })),
  });
}

/** `/v1/embed` answer -> unified embeddings response (`embeddings` as a list, or by type with `float`). */
export function cohereToEmbeddings(resp: Json, model: string): EmbeddingsResponse {
  let vectors: unknown = resp?.embeddings;
  if (vectors && !Array.isArray(vectors) && typeof vectors === 'object') {
    const byType = vectors as Record<string, unknown>;
    vectors = byType.float ?? Object.values(byType)[0];
  }
  const inputTokens = num(resp?.meta?.billed_units?.input_tokens);
  return embeddingsResponse({
    model,
    data: Array.isArray(vectors) ? (vectors as number[][]) : [],
    usage: inputTokens === null ? null : { prompt_tokens: inputTokens, total_tokens: inputTokens },
  });
}

/** A `stream-error` event, or a line that is not an object. */
function streamError(event: Json): GatewayError {
  const message = typeof event?.message === 'string' ? event.message
    : typeof event?.text === 'string' && event.text ? event.text
      : `Cohere ended the stream with an error${event?.finish_reason ? ` (${event.finish_reason})` : ''}.`;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: 502 });
}

/**
 * One `/v1/chat` NDJSON stream event -> a chunk, or null for events that carry nothing for the
 * unified schema (`stream-start`, search, citation and tool events).
 */
export function cohereToChatChunk(event: Json, model: string, now: number): ChatChunk | null {
  switch (event?.event_type) {
    case 'text-generation':
      return chatChunk({ id: null, created: now, model, choices: [{ index: 0, finish_reason: null, delta: { role: null, content: event.text ?? '' } }] });
    case 'stream-end': {
      const response = event.response;
      const usage = chatUsage(response);
      return chatChunk({
        id: response?.response_id ?? null, created: now, model,
        choices: [{ index: 0, finish_reason: normalizeFinishReason(event.finish_reason), delta: { role: null, content: null } }],
        usage: usage ?? undefined,
      });
    }
    case 'stream-error':
      throw streamError(event);
    default:
      return null;
  }
}

/** One `/v1/generate` NDJSON stream event -> a chunk, or null for events to skip. */
export function cohereToCompletionsChunk(event: Json, model: string, now: number): CompletionsChunk | null {
  switch (event?.event_type) {
    case 'text-generation':
      return completionsChunk({ id: null, created: now, model, choices: [{ index: event.index ?? 0, finish_reason: null, text: event.text ?? '' }] });
    case 'stream-end': {
      const response = event.response;
      const generations: Json[] = Array.isArray(response?.generations) ? response.generations : [];
      const choices = generations.length > 1
        ? generations.map((g, i) => ({ index: g?.index ?? i, finish_reason: normalizeFinishReason(g?.finish_reason ?? event.finish_reason), text: null }))
        : [{ index: event.index ?? 0, finish_reason: normalizeFinishReason(event.finish_reason), text: null }];
      return completionsChunk({ id: response?.id ?? null, created: now, model, choices });
    }
    case 'stream-error':
      throw streamError(event);
    default:
      return null;
  }
}
