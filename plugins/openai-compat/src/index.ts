/**
 * The OpenAI-compatible API: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings` and
 * `/v1/models`, where `model` names an endpoint or a traffic route. Calls run through the same
 * pipeline as the MLflow routes (limits, routing, tracing, metrics); only the way a request names
 * its endpoint and the shape of answers and errors differ.
 */
import {
  definePlugin, GatewayError, nowSeconds, type EmbeddingsResponse, type EndpointType, type GatewayApi, type RouteDefinition,
  type RouteRequest, type RouteResult,
} from '@gatehouse/sdk';
import { openAISurface, SURFACE } from './surface.js';
import { encodeEmbeddings, openAIChunks, type EncodingFormat } from './transform.js';

export { openAISurface, openAIStatus, openAIError, type OpenAIErrorBody } from './surface.js';
export { openAIChunks, encodeEmbeddings, floatsToBase64, base64ToFloats, type EncodingFormat } from './transform.js';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const modelNotFound = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The model '${name}' does not exist: it is neither an endpoint nor a traffic route of this gateway.`, { param: 'model' });

/** The endpoint or route a `/v1` body names, checked before anything else so a bad `model` reads as OpenAI's errors do. */
function targetOf(body: unknown, gw: GatewayApi): string {
  if (!isObject(body)) throw new GatewayError('GW_ERR_REQUEST_BAD', 'The request body must be a JSON object.');
  const model = body.model;
  if (model === undefined || model === null || model === '') {
    throw new GatewayError('GW_ERR_REQUEST_BAD', 'You must provide a model parameter: the name of an endpoint or traffic route of this gateway.', { param: 'model' });
  }
  if (typeof model !== 'string') throw new GatewayError('GW_ERR_REQUEST_BAD', "'model' must be a string.", { param: 'model' });
  if (!gw.lookup(model)) throw modelNotFound(model);
  return model;
}

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
    openapi: true,
    async handler(req: RouteRequest, gw: GatewayApi): Promise<RouteResult> {
      const body = await req.json();
      const target = targetOf(body, gw);
      const encoding = type === 'llm/v1/embeddings' ? takeEncoding(body as Record<string, unknown>) : 'float';
      const r = await gw.invoke({
        surface: SURFACE, target, expectType: type, modelNamesTarget: true, body,
        path: req.path, client: { ip: req.ip }, signal: req.signal,
      });
      const headers = { 'x-request-id': r.invocation.id };
      if (r.kind === 'json') {
        const value = type === 'llm/v1/embeddings' ? encodeEmbeddings(r.value as EmbeddingsResponse, encoding) : r.value;
        return { headers, json: value };
      }
      const opts = r.invocation.body.stream_options as { include_usage?: unknown } | null | undefined;
      return { headers, sse: openAIChunks(r.chunks, opts?.include_usage === true) };
    },
  };
}

interface OpenAIModel { id: string; object: 'model'; created: number; owned_by: string }

/** Endpoints first, then traffic routes (owned by the gateway itself, which splits them). */
function models(gw: GatewayApi, created: number): OpenAIModel[] {
  return [
    ...gw.endpoints().map((e) => ({ id: e.name, object: 'model' as const, created, owned_by: e.model.provider })),
    ...gw.routes().map((r) => ({ id: r.name, object: 'model' as const, created, owned_by: 'gatehouse' })),
  ];
}

export default definePlugin({
  name: 'openai-compat',
  register(ctx) {
    // Endpoints have no creation date; this generation's load time is the closest truth, and it moves on reload.
    const created = nowSeconds();
    ctx.surface(openAISurface);
    ctx.route(invocationRoute('/v1/chat/completions', 'llm/v1/chat'));
    ctx.route(invocationRoute('/v1/completions', 'llm/v1/completions'));
    ctx.route(invocationRoute('/v1/embeddings', 'llm/v1/embeddings'));
    ctx.route({
      method: 'GET', path: '/v1/models', surface: SURFACE, openapi: true,
      handler: async (_req, gw) => ({ json: { object: 'list', data: models(gw, created) } }),
    });
    ctx.route({
      method: 'GET', path: '/v1/models/:id', surface: SURFACE, openapi: true,
      handler: async (req, gw) => {
        const found = models(gw, created).find((m) => m.id === req.params.id);
        if (!found) throw modelNotFound(req.params.id ?? '');
        return { json: found };
      },
    });
  },
});
