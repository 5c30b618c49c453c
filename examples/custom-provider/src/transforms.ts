/**
 * Pure transforms between Gatehouse's unified schema and the House model service's wire format.
 * No I/O here: the provider (object or class style) does the HTTP call through `ctx.http`.
 *
 * The House service (an in-house model server):
 * - `POST /v1/generate` `{ model, input: { messages | prompt }, params: { temperature, max_new_tokens, stop }, stream }`
 *   answers `{ request_id, model, outputs: [{ text, finish }], usage: { input_tokens, output_tokens } }`,
 *   or with `stream: true` server-sent events `token` (`{ text }`), then `done` (`{ finish, usage }`),
 *   or `error` (`{ code, message }`) when it fails mid-stream.
 * - `POST /v1/embed` `{ model, texts }` answers `{ model, vectors, usage: { input_tokens } }`.
 * - Errors are `{ code, message }` with an HTTP status; the key goes in `Authorization: House <key>`.
 */
import {
  chatChunk, chatResponse, completionsChunk, completionsResponse, embeddingsResponse, GatewayError, isGatewayError,
  paramError, type ChatChunk, type ChatMessage, type ChatRequest, type ChatResponse, type CompletionsChunk,
  type CompletionsRequest, type CompletionsResponse, type EmbeddingsRequest, type EmbeddingsResponse, type SSEEvent,
} from '@gatehouse/sdk';

/** `model.config` of a House endpoint. */
export interface HouseConfig {
  /** The service key: `$ENV_VAR`, a path to a file holding it, or the key itself. */
  house_api_key: string;
  /** Base URL of the service (default `http://127.0.0.1:8080`). */
  house_api_base?: string;
  /** Default `max_new_tokens` when a request gives no `max_tokens`. */
  house_max_new_tokens?: number;
}

export const DEFAULT_HOUSE_API_BASE = 'http://127.0.0.1:8080';

/** The JSON Schema of `model.config`; the kernel validates every endpoint against it at start-up. */
export const houseConfigSchema = {
  type: 'object',
  required: ['house_api_key'],
  additionalProperties: false,
  properties: {
    house_api_key: { type: 'string', description: 'Service key: `$ENV_VAR`, a path to a file holding it, or the key itself.' },
    house_api_base: { type: 'string', description: `Base URL of the House service (default ${DEFAULT_HOUSE_API_BASE}).` },
    house_max_new_tokens: { type: 'integer', minimum: 1, description: 'Default max_new_tokens when a request gives no max_tokens.' },
  },
} as const;

export interface HouseGenerateRequest {
  model: string;
  input: { messages: Array<{ role: string; text: string }> } | { prompt: string };
  params: { temperature?: number; max_new_tokens?: number; stop?: string[] };
  stream?: true;
}

export interface HouseGenerateResponse {
  request_id: string;
  model: string;
  outputs: Array<{ text: string; finish: 'end' | 'max_tokens' | 'stop_sequence' }>;
  usage: { input_tokens: number; output_tokens: number };
}

const FINISH: Record<string, string> = { end: 'stop', stop_sequence: 'stop', max_tokens: 'length' };
/** House's finish reasons in OpenAI's words. */
export const finishReason = (f: string | null | undefined): string | null => (f ? FINISH[f] ?? f : null);

const textOf = (m: ChatMessage): string => typeof m.content === 'string'
  ? m.content
  : Array.isArray(m.content) ? m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';

function params(req: ChatRequest | CompletionsRequest, config: HouseConfig): HouseGenerateRequest['params'] {
  if ((req.n ?? 1) !== 1) throw paramError("'n' must be '1' for the House provider.", 'n');
  const max = req.max_tokens ?? config.house_max_new_tokens;
  return {
    ...(req.temperature != null ? { temperature: req.temperature } : {}),
    ...(max ? { max_new_tokens: max } : {}),
    ...(req.stop?.length ? { stop: req.stop } : {}),
  };
}

/** The upstream body for a chat call. */
export function toHouseChat(req: ChatRequest, model: string, config: HouseConfig, stream = false): HouseGenerateRequest {
  if (req.tools?.length) throw paramError('The House provider does not support tools.', 'tools');
  return {
    model,
    input: { messages: req.messages.map((m) => ({ role: m.role, text: textOf(m) })) },
    params: params(req, config),
    ...(stream ? { stream: true as const } : {}),
  };
}

/** The upstream body for a completions call. */
export function toHouseCompletions(req: CompletionsRequest, model: string, config: HouseConfig, stream = false): HouseGenerateRequest {
  return { model, input: { prompt: req.prompt }, params: params(req, config), ...(stream ? { stream: true as const } : {}) };
}

const usageOf = (u: HouseGenerateResponse['usage'] | undefined) => ({ prompt_tokens: u?.input_tokens ?? null, completion_tokens: u?.output_tokens ?? null });

/** A House answer as a unified chat response (built with the sdk's builder: MLflow's field order, nulls present). */
export function fromHouseChat(js: HouseGenerateResponse, created: number): ChatResponse {
  return chatResponse({
    id: js.request_id ?? null, created, model: js.model,
    choices: (js.outputs ?? []).map((o) => ({ message: { role: 'assistant', content: o.text }, finish_reason: finishReason(o.finish) })),
    usage: usageOf(js.usage),
  });
}

export function fromHouseCompletions(js: HouseGenerateResponse, created: number): CompletionsResponse {
  return completionsResponse({
    id: js.request_id ?? null, created, model: js.model,
    choices: (js.outputs ?? []).map((o) => ({ text: o.text, finish_reason: finishReason(o.finish) })),
    usage: usageOf(js.usage),
  });
}

/** The upstream body for an embeddings call: House embeds strings only. */
export function toHouseEmbed(req: EmbeddingsRequest, model: string): { model: string; texts: string[] } {
  const input = req.input;
  if (typeof input === 'string') return { model, texts: [input] };
  if (Array.isArray(input) && input.every((x) => typeof x === 'string')) return { model, texts: input as string[] };
  throw paramError('The House provider embeds text only, not token arrays.', 'input');
}

export function fromHouseEmbed(js: { model: string; vectors: number[][]; usage?: { input_tokens?: number } }): EmbeddingsResponse {
  const tokens = js.usage?.input_tokens ?? null;
  return embeddingsResponse({ model: js.model, data: js.vectors, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** Stream state: one answer's id, creation time and model, and whether the role was sent. */
export interface StreamState { id: string | null; created: number; model: string; first: boolean; done: boolean }

/**
 * One House stream event as a unified chat chunk (or none). `token` → a content delta (the first
 * carries the role), `done` → the finish reason and usage, `error` → a 502 GatewayError with the
 * service's message, which the gateway sends as the stream's final error event.
 */
export function houseChatChunk(ev: SSEEvent, s: StreamState): ChatChunk | null {
  const js = parseEvent(ev);
  if (ev.event === 'token') {
    const chunk = chatChunk({ id: s.id, created: s.created, model: s.model, choices: [{ delta: { role: s.first ? 'assistant' : null, content: js.text ?? '' } }] });
    s.first = false;
    return chunk;
  }
  if (ev.event === 'done') {
    s.done = true;
    return chatChunk({ id: s.id, created: s.created, model: s.model, choices: [{ finish_reason: finishReason(js.finish), delta: {} }], usage: usageOf(js.usage) });
  }
  return null;
}

export function houseCompletionsChunk(ev: SSEEvent, s: StreamState): CompletionsChunk | null {
  const js = parseEvent(ev);
  if (ev.event === 'token') return completionsChunk({ id: s.id, created: s.created, model: s.model, choices: [{ text: js.text ?? '' }] });
  if (ev.event === 'done') {
    s.done = true;
    return completionsChunk({ id: s.id, created: s.created, model: s.model, choices: [{ finish_reason: finishReason(js.finish), text: '' }], usage: usageOf(js.usage) });
  }
  return null;
}

function parseEvent(ev: SSEEvent): any {
  let js: any;
  try { js = JSON.parse(ev.data); } catch {
    throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'The House service sent a stream event that is not valid JSON.');
  }
  if (ev.event === 'error') {
    throw new GatewayError('GW_ERR_UPSTREAM_STATUS', `The House service failed mid-stream: ${js?.message ?? 'unknown error'}`, { status: 502 });
  }
  return js;
}

/**
 * Reword an upstream error: House answers `{ code, message }`; keep the status (and the
 * `Retry-After` the sdk already passes on), show the service's message, never the request.
 */
export function houseError(e: unknown): unknown {
  if (!isGatewayError(e) || e.code !== 'GW_ERR_UPSTREAM_STATUS' || !e.upstream) return e;
  const body = e.detail as { code?: unknown; message?: unknown } | string | null;
  const message = body && typeof body === 'object' && typeof body.message === 'string' ? body.message : typeof body === 'string' ? body : e.message;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', `House service error: ${message}`, {
    status: e.status, upstream: e.upstream, headers: e.headers, cause: e,
  });
}
