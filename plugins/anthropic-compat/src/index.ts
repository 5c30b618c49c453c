/**
 * The Anthropic Messages API (`POST /v1/messages`) over every chat endpoint and traffic route:
 * `model` names the endpoint or route, the request is translated to the unified chat schema and
 * run through the whole pipeline (limits, routing, tracing, metrics), the answer translated back.
 */
import {
  definePlugin, GatewayError, sseEvent, type ChatChunk, type ChatResponse, type GatewayApi, type RouteDefinition, type RouteRequest, type RouteResult,
} from '@gatehouse/sdk';
import { anthropicSurface, SURFACE } from './surface.js';
import { messageEvents, messageId, toChatBody, toMessage } from './transform.js';

export { anthropicSurface, anthropicStatus, anthropicError, anthropicErrorType, type AnthropicErrorBody } from './surface.js';
export { toChatBody, toChatMessages, toMessage, messageEvents, stopReason, anthropicUsage, messageId } from './transform.js';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The endpoint or route `model` names. */
function targetOf(body: unknown, gw: GatewayApi): string {
  if (!isObject(body)) throw new GatewayError('GW_ERR_REQUEST_BAD', 'The request body must be a JSON object.');
  const model = body.model;
  if (model === undefined || model === null || model === '') throw new GatewayError('GW_ERR_REQUEST_BAD', 'model: Field required', { param: 'model' });
  if (typeof model !== 'string') throw new GatewayError('GW_ERR_REQUEST_BAD', 'model: Input should be a valid string', { param: 'model' });
  if (!gw.lookup(model)) {
    throw new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `model: '${model}' is neither an endpoint nor a traffic route of this gateway.`, { param: 'model' });
  }
  return model;
}

/** Each stream item's SSE event name is its `type`, as Anthropic sends it (its SDK ignores events without one). */
export const eventName = (item: { type: string }): string => item.type;

async function* named(items: AsyncIterable<{ type: string }>): AsyncGenerator<unknown> {
  for await (const item of items) yield sseEvent(item.type, item);
}

const messagesRoute: RouteDefinition = {
  method: 'POST',
  path: '/v1/messages',
  surface: SURFACE,
  openapi: {
    tags: ['Anthropic-compatible'],
    operationId: 'anthropic_messages',
    summary: 'Messages',
    description: 'Anthropic\'s Messages API over a chat endpoint or traffic route (`model`), for every provider: text, images, '
      + 'tools and tool round trips, streaming with Anthropic\'s event sequence. `x-api-key` is checked only by an auth plugin.',
    parameters: [
      { name: 'x-api-key', in: 'header', required: false, schema: { type: 'string' }, description: 'The gateway key, when an auth plugin is installed.' },
      { name: 'anthropic-version', in: 'header', required: false, schema: { type: 'string' }, description: 'Accepted and ignored.' },
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['model', 'messages', 'max_tokens'],
            properties: {
              model: { type: 'string', description: 'The chat endpoint or traffic route to call.' },
              max_tokens: { type: 'integer', minimum: 1 },
              system: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] },
              messages: {
                type: 'array', minItems: 1,
                items: {
                  type: 'object', required: ['role', 'content'],
                  properties: {
                    role: { enum: ['user', 'assistant'] },
                    content: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', description: '`text`, `image`, `tool_use` or `tool_result` block.' } }] },
                  },
                },
              },
              tools: { type: 'array', items: { type: 'object', required: ['name', 'input_schema'], properties: { name: { type: 'string' }, description: { type: 'string' }, input_schema: { type: 'object' } } } },
              tool_choice: { type: 'object', properties: { type: { enum: ['auto', 'any', 'tool', 'none'] }, name: { type: 'string' } } },
              stop_sequences: { type: 'array', items: { type: 'string' } },
              temperature: { type: 'number', minimum: 0, maximum: 1 },
              top_p: { type: 'number', minimum: 0, maximum: 1 },
              stream: { type: 'boolean' },
            },
          },
        },
      },
    },
    responses: {
      200: {
        description: 'A Message; with `"stream": true` Anthropic\'s event stream (`event:` lines).',
        content: { 'application/json': { schema: { type: 'object' } }, 'text/event-stream': { schema: { type: 'string' } } },
      },
      400: { description: 'Invalid or unsupported request.', content: { 'application/json': { schema: { $ref: '#/components/schemas/AnthropicError' } } } },
      404: { description: '`model` names no endpoint or traffic route.', content: { 'application/json': { schema: { $ref: '#/components/schemas/AnthropicError' } } } },
    },
    'x-components': {
      schemas: {
        AnthropicError: {
          type: 'object', required: ['type', 'error'],
          properties: { type: { const: 'error' }, error: { type: 'object', required: ['type', 'message'], properties: { type: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
      tags: [{ name: 'Anthropic-compatible', description: 'Anthropic\'s Messages API (`/v1/messages`): `model` names an endpoint or traffic route. Works with Anthropic\'s SDKs.' }],
    },
  },
  async handler(req: RouteRequest, gw: GatewayApi): Promise<RouteResult> {
    // Anthropic's SDK shows `request-id` as `_request_id` on answers and as `requestID` on errors:
    // set it before anything can fail, so that error answers carry it too.
    req.setHeader('request-id', req.id);
    const body = await req.json();
    const target = targetOf(body, gw);
    const { chat, stream } = toChatBody(body as Record<string, unknown>);
    const r = await gw.invoke({ req, surface: SURFACE, target, expectType: 'llm/v1/chat', modelNamesTarget: true, body: chat });
    const id = messageId(r.invocation.id);
    const headers = { 'request-id': r.invocation.id };
    if (r.kind === 'json') return { headers, json: toMessage(r.value as ChatResponse, id) };
    if (!stream) throw new GatewayError('GW_ERR_INTERNAL', 'expected a JSON answer');
    const events = messageEvents(r.chunks as AsyncIterable<ChatChunk>, { id, model: target });
    return { headers, sse: named(events), invocation: r.invocation };
  },
};

export default definePlugin({
  name: 'anthropic-compat',
  register(ctx) {
    ctx.surface(anthropicSurface);
    ctx.route(messagesRoute);
  },
});
