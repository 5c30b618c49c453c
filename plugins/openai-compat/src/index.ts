/**
 * The OpenAI-compatible API: `/v1/chat/completions`, `/v1/completions` (a string or a list of
 * prompts), `/v1/embeddings`, `/v1/responses` (the Responses API over chat) and `/v1/models`,
 * where `model` names an endpoint or a traffic route. Calls run through the same
 * pipeline as the MLflow routes (limits, routing, tracing, metrics); only the way a request names
 * its endpoint and the shape of answers and errors differ.
 */
import {
  definePlugin, GatewayError, nowSeconds, type CompletionsResponse, type EmbeddingsResponse, type EndpointType, type GatewayApi, type RouteDefinition,
  type Caller, type RouteRequest, type RouteResult,
} from '@gatehouse/sdk';
import { openAIResponsesSurface, openAISurface, SURFACE } from './surface.js';
import {
  concatCompletionStreams, encodeEmbeddings, mergeCompletions, openAIChunks, promptList, type EncodingFormat,
} from './transform.js';
import { responsesRoute } from './responses-route.js';
import { ItemCache } from './responses.js';
import { invocationOperation, modelOperation, modelsOperation } from './openapi.js';

export { openAISurface, openAIResponsesSurface, openAIStatus, openAIError, type OpenAIErrorBody } from './surface.js';
export {
  openAIChunks, encodeEmbeddings, floatsToBase64, base64ToFloats, sumUsage, promptList, mergeCompletions, concatCompletionStreams,
  type EncodingFormat,
} from './transform.js';
export * from './responses.js';

import { modelNotFound, targetOf } from './target.js';

/** Take `encoding_format` off the body: providers never see it, the surface encodes the answer itself. */
function takeEncoding(body: Record<string, unknown>): EncodingFormat {
  const f = body.encoding_format;
  delete body.encoding_format;
  if (f === undefined || f === null || f === 'float') return 'float';
  if (f === 'base64') return 'base64';
  throw new GatewayError('GW_ERR_REQUEST_BAD', `Invalid value for 'encoding_format': ${JSON.stringify(f)}. Expected 'float' or 'base64'.`, { param: 'encoding_format' });
}

function invocationRoute(path: string, type: EndpointType): RouteDefinition {
  return {
    method: 'POST',
    path,
    surface: SURFACE,
    openapi: invocationOperation(type),
    async handler(req: RouteRequest, gw: GatewayApi): Promise<RouteResult> {
      const body = await req.json();
      const target = targetOf(body, gw);
      const encoding = type === 'llm/v1/embeddings' ? takeEncoding(body as Record<string, unknown>) : 'float';
      if (type === 'llm/v1/completions') {
        const prompts = promptList((body as Record<string, unknown>).prompt);
        if (prompts) return completionsForList(req, gw, target, body as Record<string, unknown>, prompts);
      }
      const r = await gw.invoke({ req, surface: SURFACE, target, expectType: type, modelNamesTarget: true, body });
      const headers = { 'x-request-id': r.invocation.id };
      if (r.kind === 'json') {
        const value = type === 'llm/v1/embeddings' ? encodeEmbeddings(r.value as EmbeddingsResponse, encoding) : r.value;
        return { headers, json: value };
      }
      const opts = r.invocation.body.stream_options as { include_usage?: unknown } | null | undefined;
      return { headers, sse: openAIChunks(r.chunks, opts?.include_usage === true), invocation: r.invocation };
    },
  };
}

/**
 * `/v1/completions` with a list `prompt`: one call through the whole pipeline per prompt (limits,
 * routing and metering count each), merged as OpenAI answers (choice `index = prompt * n + i`,
 * usage summed). Streams run the prompts one after the other.
 */
async function completionsForList(req: RouteRequest, gw: GatewayApi, target: string, body: Record<string, unknown>, prompts: string[]): Promise<RouteResult> {
  const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
  const call = (p: number) => gw.invoke({
    req, surface: SURFACE, target, expectType: 'llm/v1/completions', modelNamesTarget: true,
    body: { ...structuredClone(body), prompt: prompts[p] },
  });
  if (body.stream !== true) {
    const answers = await Promise.all(prompts.map((_, p) => call(p)));
    const values = answers.map((a) => {
      if (a.kind !== 'json') throw new GatewayError('GW_ERR_INTERNAL', 'expected a JSON answer');
      return a.value as CompletionsResponse;
    });
    return { headers: { 'x-request-id': answers[0]!.invocation.id }, json: mergeCompletions(values, n) };
  }
  const first = await call(0);
  if (first.kind !== 'stream') throw new GatewayError('GW_ERR_INTERNAL', 'expected a stream');
  const opts = first.invocation.body.stream_options as { include_usage?: unknown } | null | undefined;
  const chunks = concatCompletionStreams(prompts.length, n, async (p) => {
    if (p === 0) return first.chunks;
    const next = await call(p);
    if (next.kind !== 'stream') throw new GatewayError('GW_ERR_INTERNAL', 'expected a stream');
    return next.chunks;
  });
  return { headers: { 'x-request-id': first.invocation.id }, sse: openAIChunks(chunks, opts?.include_usage === true), invocation: first.invocation };
}

interface OpenAIModel { id: string; object: 'model'; created: number; owned_by: string }

/**
 * `/v1/models` is also Anthropic's Models API path, and Anthropic's SDK (`client.models.list()`,
 * `retrieve()`) always sends `anthropic-version`, which OpenAI's clients never do: such callers get
 * Anthropic's shapes (`{data, has_more, first_id, last_id}` of `ModelInfo`), the others OpenAI's.
 */
const wantsAnthropic = (req: RouteRequest): boolean => req.headers['anthropic-version'] !== undefined;

/** An endpoint or route as Anthropic's `ModelInfo`: what the gateway knows, and null for what it does not. */
function anthropicModel(m: OpenAIModel) {
  return {
    type: 'model' as const, id: m.id, display_name: m.id, created_at: new Date(m.created * 1000).toISOString(),
    capabilities: null, deprecated_at: null, lifecycle: 'active' as const, line: null, max_input_tokens: null, max_tokens: null, retires_at: null,
  };
}

/** One page of Anthropic's model list: `limit` (1–1000, default 20), after `after_id` or before `before_id`. */
function anthropicModelPage(all: OpenAIModel[], query: RouteRequest['query']) {
  const raw = query.limit;
  const limit = raw === undefined || raw === '' ? 20 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new GatewayError('GW_ERR_REQUEST_BAD', 'limit: Input should be an integer from 1 to 1000', { param: 'limit' });
  }
  const cursor = (name: 'after_id' | 'before_id'): number | null => {
    const id = query[name];
    if (id === undefined || id === '') return null;
    const at = all.findIndex((m) => m.id === id);
    if (at < 0) throw new GatewayError('GW_ERR_REQUEST_BAD', `${name}: '${id}' is not a model of this gateway`, { param: name });
    return at;
  };
  const after = cursor('after_id');
  const before = cursor('before_id');
  let page: OpenAIModel[];
  let hasMore: boolean;
  if (before !== null) {
    const start = Math.max(0, before - limit);
    page = all.slice(start, before);
    hasMore = start > 0;
  } else {
    const start = after === null ? 0 : after + 1;
    page = all.slice(start, start + limit);
    hasMore = start + limit < all.length;
  }
  return { data: page.map(anthropicModel), has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
}

/** Endpoints first, then traffic routes (owned by the gateway itself, which splits them); only those the caller may call. */
function models(gw: GatewayApi, created: number, caller: Caller | null): OpenAIModel[] {
  const may = (name: string) => !caller?.may || caller.may(name);
  return [
    ...gw.endpoints().filter((e) => may(e.name)).map((e) => ({ id: e.name, object: 'model' as const, created, owned_by: e.model.provider })),
    ...gw.routes().filter((r) => may(r.name)).map((r) => ({ id: r.name, object: 'model' as const, created, owned_by: 'gatehouse' })),
  ];
}

export default definePlugin({
  name: 'openai-compat',
  register(ctx) {
    // Endpoints have no creation date; this generation's load time is the closest truth, and it moves on reload.
    const created = nowSeconds();
    ctx.surface(openAISurface);
    ctx.surface(openAIResponsesSurface);
    ctx.route(invocationRoute('/v1/chat/completions', 'llm/v1/chat'));
    ctx.route(invocationRoute('/v1/completions', 'llm/v1/completions'));
    ctx.route(invocationRoute('/v1/embeddings', 'llm/v1/embeddings'));
    ctx.route(responsesRoute(ctx.keep('responses.items', () => new ItemCache())));
    ctx.route({
      method: 'GET', path: '/v1/models', surface: SURFACE,
      openapi: modelsOperation,
      handler: async (req, gw) => {
        if (!wantsAnthropic(req)) return { json: { object: 'list', data: models(gw, created, req.caller) } };
        req.setHeader('request-id', req.id);
        return { json: anthropicModelPage(models(gw, created, req.caller), req.query) };
      },
    });
    ctx.route({
      method: 'GET', path: '/v1/models/:id', surface: SURFACE,
      openapi: modelOperation,
      handler: async (req, gw) => {
        const anthropic = wantsAnthropic(req);
        if (anthropic) req.setHeader('request-id', req.id);
        const found = models(gw, created, req.caller).find((m) => m.id === req.params.id);
        if (!found) throw modelNotFound(req.params.id ?? '');
        return { json: anthropic ? anthropicModel(found) : found };
      },
    });
  },
});
