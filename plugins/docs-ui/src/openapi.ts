/**
 * The OpenAPI 3.1 document of the running gateway. It is rebuilt from `GatewayApi` on every
 * request, so each configured endpoint and traffic route has its own operation, and a reloaded
 * configuration shows up without a restart.
 */
import {
  chunkSchemas, requestSchemas, responseSchemas, type EndpointType, type GatewayApi,
} from '@gatehouse/sdk';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

export interface OpenAPIOptions {
  version: string;
  /** Describe the `/v1/*` routes of the openai-compat plugin (default true). */
  openai?: boolean;
}

const TYPES: readonly EndpointType[] = ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings'];
const KIND: Record<EndpointType, 'Chat' | 'Completions' | 'Embeddings'> = {
  'llm/v1/chat': 'Chat', 'llm/v1/completions': 'Completions', 'llm/v1/embeddings': 'Embeddings',
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A schema from the sdk, without `$id` (in OpenAPI an `$id` would change how `$ref`s nearby resolve). */
function plain(schema: Schema): Schema {
  const { $id: _id, ...rest } = schema;
  return structuredClone(rest);
}

const firstExample = (type: EndpointType): Record<string, unknown> =>
  structuredClone(((requestSchemas[type].examples as unknown[] | undefined)?.[0] ?? {}) as Record<string, unknown>);

const nullable = (type: string) => ({ type: [type, 'null'] });

function chunkComponents(): Record<string, Schema> {
  return { ChatChunk: plain(chunkSchemas['llm/v1/chat']), CompletionsChunk: plain(chunkSchemas['llm/v1/completions']) };
}

function errorSchemas(): Record<string, Schema> {
  return {
    Error: {
      type: 'object', required: ['detail'],
      properties: { detail: { description: 'A message, or the upstream\'s error object.', anyOf: [{ type: 'string' }, { type: 'object' }] } },
    },
    ValidationError: {
      type: 'object', required: ['detail'],
      properties: {
        detail: {
          type: 'array',
          items: {
            type: 'object',
            properties: { type: { type: 'string' }, loc: { type: 'array', items: { type: ['string', 'integer'] } }, msg: { type: 'string' }, input: {}, ctx: { type: 'object' } },
          },
        },
      },
    },
    RateLimitError: { type: 'object', required: ['error'], properties: { error: { type: 'string', examples: ['Rate limit exceeded: 10 per 1 minute'] } } },
    OpenAIError: {
      type: 'object', required: ['error'],
      properties: {
        error: {
          type: 'object',
          properties: { message: { type: 'string' }, type: { type: 'string' }, param: nullable('string'), code: nullable('string') },
        },
      },
    },
  };
}

function mlflowSchemas(): Record<string, Schema> {
  const limit = {
    type: ['object', 'null'],
    properties: { calls: { type: 'integer' }, key: nullable('string'), renewal_period: { type: 'string' } },
  };
  return {
    Endpoint: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        endpoint_type: { enum: [...TYPES] },
        model: { type: 'object', properties: { name: nullable('string'), provider: { type: 'string' } } },
        endpoint_url: { type: 'string' },
        limit,
      },
    },
    EndpointList: {
      type: 'object',
      properties: { endpoints: { type: 'array', items: ref('Endpoint') }, next_page_token: nullable('string') },
    },
    Model: {
      type: 'object',
      properties: { id: { type: 'string' }, object: { const: 'model' }, created: { type: 'integer' }, owned_by: { type: 'string' } },
    },
    ModelList: { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Model') } } },
  };
}

const json = (schema: Schema, extra: Record<string, unknown> = {}) => ({ 'application/json': { schema, ...extra } });

const STREAM_TEXT = (type: EndpointType, terminator: boolean) =>
  `Server-sent events, one \`data: <${KIND[type]}Chunk JSON>\` per chunk${terminator ? ', then `data: [DONE]`' : ' (no terminator: the stream ends when the connection closes, as in MLflow)'}. ` +
  'An error after the stream started arrives as a last `data: {"error": {...}}` event.';

function invocationResponses(type: EndpointType, streams: boolean, openai: boolean): Record<string, unknown> {
  const ok: Record<string, unknown> = json(ref(`${KIND[type]}Response`));
  if (streams) {
    ok['text/event-stream'] = {
      schema: { type: 'string', description: STREAM_TEXT(type, openai) },
      // For the docs only: the chunk shape each `data:` line carries.
      'x-chunk-schema': ref(`${KIND[type]}Chunk`),
    };
  }
  const err = (description: string, schema = ref(openai ? 'OpenAIError' : 'Error')) => ({ description, content: json(schema) });
  const responses: Record<string, unknown> = {
    200: { description: streams ? 'The answer; with `"stream": true`, a stream of chunks.' : 'The answer.', content: ok },
  };
  if (openai) {
    responses[400] = err('Invalid request, missing `model`, or `model` names an endpoint of another type.');
    responses[404] = err('`model` names no endpoint or traffic route.');
  } else {
    responses[404] = err('No such endpoint.');
    responses[422] = err('The body does not match the schema (or a provider rejected a parameter).', ref('ValidationError'));
  }
  responses[429] = err('Rate limit exceeded.', openai ? ref('OpenAIError') : ref('RateLimitError'));
  responses[501] = err('The provider cannot do this (e.g. stream).');
  responses[502] = err('The upstream failed or answered with an error.');
  responses[504] = err('The upstream did not answer in time.');
  return responses;
}

function requestExamples(type: EndpointType, streams: boolean, model?: string): Record<string, unknown> {
  const withModel = model !== undefined ? { model, ...firstExample(type) } : firstExample(type);
  const examples: Record<string, unknown> = { basic: { summary: KIND[type], value: withModel } };
  if (streams) {
    examples.stream = { summary: `${KIND[type]}, streamed (server-sent events)`, value: { ...withModel, stream: true } };
    if (model !== undefined) {
      examples.stream_usage = {
        summary: `${KIND[type]}, streamed, with a last usage chunk`,
        value: { ...withModel, stream: true, stream_options: { include_usage: true } },
      };
    }
  }
  if (type === 'llm/v1/embeddings' && model !== undefined) {
    examples.base64 = { summary: 'Embeddings as base64 float32', value: { ...withModel, encoding_format: 'base64' } };
  }
  return examples;
}

const opId = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;

function invocationOperation(name: string, type: EndpointType, streams: boolean, tag: string, description: string): Operation {
  return {
    tags: [tag],
    summary: `${KIND[type]}: ${name}`,
    description,
    operationId: opId('invoke', name),
    requestBody: { required: true, content: json(ref(`${KIND[type]}Request`), { examples: requestExamples(type, streams) }) },
    responses: invocationResponses(type, streams, false),
  };
}

function openAIOperations(gw: GatewayApi): Record<string, unknown> {
  const named = (type: EndpointType) => [
    ...gw.endpoints().filter((e) => e.endpoint_type === type).map((e) => e.name),
    ...gw.routes().filter((r) => r.task_type === type).map((r) => r.name),
  ];
  const streamsAny = (type: EndpointType) => type !== 'llm/v1/embeddings';
  const v1 = (path: string, type: EndpointType): [string, unknown] => {
    const names = named(type);
    const model: Schema = { type: 'string', description: `The endpoint or traffic route to call (an \`${type}\` one).` };
    if (names.length) model.enum = names;
    const props: Record<string, unknown> = { model };
    if (type === 'llm/v1/embeddings') props.encoding_format = { enum: ['float', 'base64'], default: 'float', description: '`base64`: each vector as base64 of little-endian float32.' };
    const schema = { allOf: [ref(`${KIND[type]}Request`), { type: 'object', required: ['model'], properties: props }] };
    return [path, {
      post: {
        tags: ['OpenAI-compatible'],
        summary: `OpenAI-style ${KIND[type].toLowerCase()}`,
        description: `\`model\` names an \`${type}\` endpoint or traffic route.`,
        operationId: opId('openai', path.slice(4)),
        requestBody: { required: true, content: json(schema, { examples: requestExamples(type, streamsAny(type), names[0] ?? 'my-endpoint') }) },
        responses: invocationResponses(type, streamsAny(type), true),
      },
    }];
  };
  const ids = [...gw.endpoints().map((e) => e.name), ...gw.routes().map((r) => r.name)];
  return Object.fromEntries([
    v1('/v1/chat/completions', 'llm/v1/chat'),
    v1('/v1/completions', 'llm/v1/completions'),
    v1('/v1/embeddings', 'llm/v1/embeddings'),
    ['/v1/models', {
      get: {
        tags: ['OpenAI-compatible'], summary: 'List models (endpoints and traffic routes)', operationId: 'openai_list_models',
        responses: { 200: { description: 'Every endpoint and traffic route, as OpenAI models.', content: json(ref('ModelList')) } },
      },
    }],
    ['/v1/models/{id}', {
      get: {
        tags: ['OpenAI-compatible'], summary: 'Get one model', operationId: 'openai_get_model',
        parameters: [{ name: 'id', in: 'path', required: true, schema: ids.length ? { type: 'string', enum: ids } : { type: 'string' } }],
        responses: {
          200: { description: 'The model.', content: json(ref('Model')) },
          404: { description: 'No such endpoint or route.', content: json(ref('OpenAIError')) },
        },
      },
    }],
  ]);
}

function readOnlyOperations(gw: GatewayApi): Record<string, unknown> {
  const names = gw.endpoints().map((e) => e.name);
  return {
    '/health': {
      get: {
        tags: ['Gateway'], summary: 'Health check', operationId: 'health',
        responses: { 200: { description: 'The gateway is up.', content: json({ type: 'object', properties: { status: { const: 'OK' } } }) } },
      },
    },
    '/api/2.0/endpoints/': {
      get: {
        tags: ['Gateway'], summary: 'List endpoints', operationId: 'list_endpoints',
        description: 'Traffic routes are not listed (as in MLflow). Pages of 3000.',
        parameters: [{ name: 'page_token', in: 'query', required: false, schema: { type: 'string' } }],
        responses: { 200: { description: 'The endpoints.', content: json(ref('EndpointList')) } },
      },
    },
    '/api/2.0/endpoints/{name}': {
      get: {
        tags: ['Gateway'], summary: 'Get one endpoint', operationId: 'get_endpoint',
        parameters: [{ name: 'name', in: 'path', required: true, schema: names.length ? { type: 'string', enum: names } : { type: 'string' } }],
        responses: {
          200: { description: 'The endpoint.', content: json(ref('Endpoint')) },
          404: { description: 'No such endpoint.', content: json(ref('Error')) },
        },
      },
    },
  };
}

/** Build the document for the gateway as it is configured right now. */
export function buildOpenAPI(gw: GatewayApi, options: OpenAPIOptions): Record<string, unknown> {
  const streams = (name: string, type: EndpointType) => {
    if (type === 'llm/v1/embeddings') return false;
    const caps = gw.capabilities(name);
    return caps.includes(type === 'llm/v1/chat' ? 'chatStream' : 'completionsStream');
  };
  const paths: Record<string, unknown> = {};
  for (const e of gw.endpoints()) {
    const model = e.model.name ? `${e.model.provider} model \`${e.model.name}\`` : `provider \`${e.model.provider}\``;
    const limit = e.limit ? ` Limited to ${e.limit.calls} calls per ${e.limit.renewal_period}.` : '';
    paths[`/endpoints/${e.name}/invocations`] = {
      post: invocationOperation(e.name, e.endpoint_type, streams(e.name, e.endpoint_type), 'Endpoints',
        `\`${e.endpoint_type}\` endpoint on ${model}.${limit} Also at \`/gateway/${e.name}/invocations\`.`),
    };
  }
  for (const r of gw.routes()) {
    const split = r.destinations.map((d) => `\`${d.name}\` ${d.traffic_percentage}%`).join(', ');
    // A route streams when every destination does; a destination that cannot answers 501.
    const canStream = r.task_type !== 'llm/v1/embeddings' && r.destinations.every((d) => streams(d.name, r.task_type));
    paths[`/endpoints/${r.name}/invocations`] = {
      post: invocationOperation(r.name, r.task_type, canStream, 'Traffic routes',
        `\`${r.task_type}\` traffic route: ${split}. Each call goes to one destination, picked by weight (needs a routing plugin).`),
    };
  }
  Object.assign(paths, readOnlyOperations(gw));
  if (options.openai !== false) Object.assign(paths, openAIOperations(gw));

  const schemas: Record<string, Schema> = {};
  for (const t of TYPES) {
    schemas[`${KIND[t]}Request`] = plain(requestSchemas[t]);
    schemas[`${KIND[t]}Response`] = plain(responseSchemas[t]);
  }
  Object.assign(schemas, chunkComponents(), errorSchemas(), mlflowSchemas());

  const tags = [
    { name: 'Endpoints', description: 'One operation per configured endpoint, from the running configuration: it follows reloads.' },
    ...(gw.routes().length ? [{ name: 'Traffic routes', description: 'Invoked like endpoints; each call goes to one weighted destination.' }] : []),
    { name: 'Gateway', description: 'Read-only routes of the MLflow AI Gateway API.' },
    ...(options.openai !== false
      ? [{ name: 'OpenAI-compatible', description: 'Served by the `openai-compat` plugin. `model` names an endpoint or traffic route; errors are `{"error": {...}}`; streams end with `data: [DONE]`.' }]
      : []),
  ];

  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse',
      version: options.version,
      description: 'An AI gateway, wire-compatible with the MLflow AI Gateway. Applications call one unified, OpenAI-shaped schema; the gateway holds provider keys, enforces limits, splits traffic and records traces and metrics.',
    },
    tags,
    paths,
    components: { schemas },
  };
}
