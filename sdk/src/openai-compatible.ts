/**
 * OpenAI wire format: pure transforms, and `openAICompatible(...)`, which makes a provider for
 * any upstream that speaks it from a small description (base URL, headers, paths).
 */
import { chatChunk, chatResponse, completionsChunk, completionsResponse, embeddingsResponse } from './build.js';
import { GatewayError } from './errors.js';
import { defineProvider, type ProviderContext, type ProviderDefinition, type ProviderInput, type ProviderInstance } from './plugin.js';
import { isJsonAnswer, readJsonAnswer } from './http.js';
import { chunksOfResponse, sseJson, type StreamReadOptions } from './sse.js';
import type {
  Capability, ChatChunk, ChatResponse, CompletionsChunk, CompletionsResponse, EmbeddingsResponse, UnifiedChunk,
} from './types.js';

/** Drop `null`/`undefined` values at the top level, like pydantic's `exclude_none`. */
export function excludeNone<T extends Record<string, unknown>>(obj: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/**
 * Join a path onto a base URL, keeping the base's query string (MLflow's `append_to_uri_path`).
 * @example joinUrl('https://x/openai/deployments/d?api-version=v', 'completions') // https://x/openai/deployments/d/completions?api-version=v
 */
export function joinUrl(base: string, path: string, query?: Record<string, string | undefined>): string {
  const u = new URL(base);
  const p = path.replace(/^\/+/, '');
  if (p) u.pathname = u.pathname.replace(/\/+$/, '') + '/' + p;
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** The upstream body for an OpenAI-shaped call: the payload without nulls, with `model` first when given. */
export function openAIRequestBody(payload: Record<string, unknown>, model: string | null | undefined): Record<string, unknown> {
  const { model: _ignored, ...rest } = payload;
  const body = excludeNone(rest);
  return model ? { model, ...body } : body;
}

type Json = any;

/** Map an OpenAI chat completion to the unified chat response. */
export function openAIChatResponse(js: Json): ChatResponse {
  return chatResponse({
    id: js.id ?? null,
    created: js.created,
    model: js.model ?? '',
    choices: (js.choices ?? []).map((c: Json, i: number) => ({
      index: i,
      message: { role: c.message?.role ?? 'assistant', content: c.message?.content ?? null, tool_calls: c.message?.tool_calls ?? null },
      finish_reason: c.finish_reason ?? null,
    })),
    usage: js.usage,
  });
}

/** Map an OpenAI completion (or a chat-shaped answer) to the unified completions response. */
export function openAICompletionsResponse(js: Json): CompletionsResponse {
  return completionsResponse({
    id: js.id ?? null,
    created: js.created,
    model: js.model ?? '',
    choices: (js.choices ?? []).map((c: Json, i: number) => ({
      index: i,
      text: c.message?.content || c.text || '',
      finish_reason: c.finish_reason ?? null,
    })),
    usage: js.usage,
  });
}

/** Map an OpenAI embeddings answer. */
export function openAIEmbeddingsResponse(js: Json): EmbeddingsResponse {
  const data = [...(js.data ?? [])].sort((a: Json, b: Json) => (a.index ?? 0) - (b.index ?? 0));
  return embeddingsResponse({ model: js.model ?? '', data: data.map((d: Json) => d.embedding), usage: js.usage });
}

/** Map one OpenAI chat stream chunk. */
export function openAIChatChunk(js: Json): ChatChunk {
  return chatChunk({
    id: js.id ?? null,
    created: js.created,
    model: js.model ?? '',
    choices: (js.choices ?? []).map((c: Json, i: number) => ({
      index: c.index ?? i,
      finish_reason: c.finish_reason ?? null,
      // Some OpenAI-compatible upstreams (older TogetherAI) put chat text in `text`.
      delta: { role: c.delta?.role ?? null, content: c.delta?.content ?? c.text ?? null, tool_calls: c.delta?.tool_calls ?? null },
    })),
    usage: js.usage ?? undefined,
  });
}

/** Map one OpenAI completions stream chunk: real ones carry `text`; chat-shaped ones `delta.content`. */
export function openAICompletionsChunk(js: Json): CompletionsChunk {
  return completionsChunk({
    id: js.id ?? null,
    created: js.created,
    model: js.model ?? '',
    choices: (js.choices ?? []).map((c: Json, i: number) => ({
      index: c.index ?? i,
      finish_reason: c.finish_reason ?? null,
      text: c.text ?? c.delta?.content ?? null,
    })),
    usage: js.usage ?? undefined,
  });
}

/**
 * Parse an OpenAI SSE body into JSON chunks, stopping at `[DONE]`; an `error` event throws. A
 * stream that ends without `[DONE]` and without any `finish_reason` is truncated (502
 * `GW_ERR_UPSTREAM_TRUNCATED`); one without any event is empty (502 `GW_ERR_UPSTREAM_EMPTY`).
 */
export const openAIStreamEvents = (body: AsyncIterable<Uint8Array | string>, options: Omit<StreamReadOptions, 'final'> = {}): AsyncGenerator<Json> =>
  sseJson(body, options);

/** Where and how to call an OpenAI-compatible upstream, for one endpoint. */
export interface OpenAICompatibleTarget {
  baseUrl: string;
  query?: Record<string, string | undefined>;
  headers: Record<string, string>;
  /** The `model` sent upstream, or null to send none (e.g. Azure deployments). */
  model: string | null;
}

export type OpenAIKind = 'chat' | 'completions' | 'embeddings';

export interface OpenAICompatibleOptions<C> extends Omit<ProviderInput<C>, 'create'> {
  target(ctx: ProviderContext<C>): OpenAICompatibleTarget;
  /** Which capabilities to offer (default: all five). */
  capabilities?: readonly Capability[];
  /** Upstream paths (default `chat/completions`, `completions`, `embeddings`). */
  paths?: Partial<Record<OpenAIKind, string>>;
  /** Ask for usage on streams with `stream_options.include_usage` (default true). */
  streamUsage?: boolean | ((ctx: ProviderContext<C>) => boolean);
  /** Adjust the upstream body (pure). */
  mapRequest?(kind: OpenAIKind, body: Record<string, unknown>, ctx: ProviderContext<C>): Record<string, unknown>;
}

const ALL: readonly Capability[] = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'];

/**
 * Make a provider for an OpenAI-compatible upstream.
 * @example
 * export default openAICompatible({
 *   name: 'acme', displayName: 'Acme',
 *   configSchema: { type: 'object', required: ['acme_api_key'], properties: { acme_api_key: { type: 'string' } } },
 *   target: (ctx) => ({ baseUrl: 'https://api.acme.ai/v1', headers: { authorization: `Bearer ${ctx.config.acme_api_key}` }, model: ctx.model.name }),
 * });
 */
export function openAICompatible<C = Record<string, unknown>>(opts: OpenAICompatibleOptions<C>): ProviderDefinition<C> {
  const { target, capabilities = ALL, paths = {}, streamUsage = true, mapRequest, ...rest } = opts;
  const has = new Set(capabilities);
  return defineProvider<C>({
    ...rest,
    capabilities,
    create(ctx): ProviderInstance {
      const t = target(ctx);
      const urls = {
        chat: joinUrl(t.baseUrl, paths.chat ?? 'chat/completions', t.query),
        completions: joinUrl(t.baseUrl, paths.completions ?? 'completions', t.query),
        embeddings: joinUrl(t.baseUrl, paths.embeddings ?? 'embeddings', t.query),
      };
      const wantUsage = typeof streamUsage === 'function' ? streamUsage(ctx) : streamUsage;
      const body = (kind: OpenAIKind, payload: Record<string, unknown>, stream: boolean) => {
        let b = openAIRequestBody(payload, t.model);
        if (stream) {
          b.stream = true;
          if (wantUsage) b.stream_options = { ...(b.stream_options as object | undefined), include_usage: true };
        }
        if (mapRequest) b = mapRequest(kind, b, ctx);
        return b;
      };
      const call = (kind: OpenAIKind, payload: Record<string, unknown>, signal: AbortSignal) =>
        ctx.http.json({ url: urls[kind], headers: t.headers, body: body(kind, payload, false), signal, timeoutMs: ctx.timeoutMs });
      // A complete JSON answer to a stream request (some compatible servers ignore `stream`) is
      // replayed as chunks rather than refused.
      async function* stream<T extends UnifiedChunk>(kind: OpenAIKind, payload: Record<string, unknown>, signal: AbortSignal, map: (js: Json) => T): AsyncGenerator<T> {
        const res = await ctx.http.stream({ url: urls[kind], headers: t.headers, body: body(kind, payload, true), signal, timeoutMs: ctx.timeoutMs, allowJson: true });
        if (isJsonAnswer(res)) {
          const js = await readJsonAnswer(res);
          yield* chunksOfResponse(kind === 'chat' ? openAIChatResponse(js) : openAICompletionsResponse(js)) as T[];
          return;
        }
        for await (const js of openAIStreamEvents(res.body, { name: rest.displayName })) yield map(js);
      }
      const inst: ProviderInstance = {};
      if (has.has('chat')) inst.chat = async (req, c) => openAIChatResponse(await call('chat', req, c.signal));
      if (has.has('chatStream')) inst.chatStream = (req, c) => stream('chat', req, c.signal, openAIChatChunk);
      if (has.has('completions')) inst.completions = async (req, c) => openAICompletionsResponse(await call('completions', req, c.signal));
      if (has.has('completionsStream')) inst.completionsStream = (req, c) => stream('completions', req, c.signal, openAICompletionsChunk);
      if (has.has('embeddings')) inst.embeddings = async (req, c) => openAIEmbeddingsResponse(await call('embeddings', req, c.signal));
      return inst;
    },
  });
}
