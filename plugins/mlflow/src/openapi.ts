/**
 * The OpenAPI operations of the MLflow routes that MLflow's own schema lists (`/health`,
 * `/api/2.0/endpoints/`, `/api/2.0/endpoints/{name}`, `/endpoints/{name}/invocations`). The
 * legacy `/api/2.0/gateway/*`, the `/api/3.0/*` reads and the `/gateway/{name}/invocations` alias
 * are left out, as in MLflow.
 *
 * Two extensions are read (and removed) by the docs-ui plugin: `x-components` (schemas and tag
 * descriptions these operations `$ref`) and `x-gatehouse-invocation` (expand the operation into
 * one per configured endpoint and traffic route, with the request and response schemas of its type).
 */
import type { OpenAPIOperation } from '@gatehouse/sdk';

type Schema = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const nullable = (type: string) => ({ type: [type, 'null'] });

const limit: Schema = {
  type: ['object', 'null'],
  properties: { calls: { type: 'integer' }, key: nullable('string'), renewal_period: { type: 'string' } },
};

/** Schemas the MLflow operations refer to. */
export const MLFLOW_SCHEMAS: Record<string, Schema> = {
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
  Endpoint: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      endpoint_type: { enum: ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings'] },
      model: { type: 'object', properties: { name: nullable('string'), provider: { type: 'string' } } },
      endpoint_url: { type: 'string' },
      limit,
    },
  },
  EndpointList: {
    type: 'object',
    properties: { endpoints: { type: 'array', items: ref('Endpoint') }, next_page_token: nullable('string') },
  },
};

const TAGS = [
  { name: 'Endpoints', description: 'One operation per configured endpoint, from the running configuration: it follows reloads.' },
  { name: 'Traffic routes', description: 'Invoked like endpoints; each call goes to the destination the route\'s strategy picks.' },
  { name: 'Gateway', description: 'Read-only routes of the MLflow AI Gateway API.' },
];

const components = (...names: string[]) => ({
  schemas: Object.fromEntries(names.map((n) => [n, MLFLOW_SCHEMAS[n]!])),
  tags: TAGS,
});

const err = (description: string, schema = ref('Error')) => ({ description, content: json(schema) });

export const healthOperation: OpenAPIOperation = {
  tags: ['Gateway'], summary: 'Health check', operationId: 'health',
  responses: { 200: { description: 'The gateway is up.', content: json({ type: 'object', properties: { status: { const: 'OK' } } }) } },
  'x-components': components(),
};

export const listEndpointsOperation: OpenAPIOperation = {
  tags: ['Gateway'], summary: 'List endpoints', operationId: 'list_endpoints',
  description: 'Traffic routes are not listed (as in MLflow). Pages of 3000.',
  parameters: [{ name: 'page_token', in: 'query', required: false, schema: { type: 'string' } }],
  responses: {
    200: { description: 'The endpoints.', content: json(ref('EndpointList')) },
    400: err('The page token is not one this gateway issued.'),
  },
  'x-components': components('Endpoint', 'EndpointList', 'Error'),
};

export const getEndpointOperation: OpenAPIOperation = {
  tags: ['Gateway'], summary: 'Get one endpoint', operationId: 'get_endpoint',
  parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' }, 'x-gatehouse-names': 'endpoints' }],
  responses: {
    200: { description: 'The endpoint.', content: json(ref('Endpoint')) },
    404: err('No such endpoint.'),
  },
  'x-components': components('Endpoint', 'Error'),
};

export const invocationOperation: OpenAPIOperation = {
  tags: ['Endpoints'],
  summary: 'Invoke an endpoint or traffic route',
  operationId: 'invoke',
  responses: {
    404: err('No such endpoint or traffic route.'),
    422: err('The body does not match the schema (or a provider rejected a parameter).', ref('ValidationError')),
    429: err('Rate limit exceeded.', ref('RateLimitError')),
    501: err('The provider cannot do this (e.g. stream).'),
    502: err('The upstream failed or answered with an error.'),
    504: err('The upstream did not answer in time.'),
  },
  'x-gatehouse-invocation': {
    in: 'path',
    param: 'name',
    routeTag: 'Traffic routes',
    aliases: ['/gateway/{name}/invocations'],
    terminator: null,
    // MLflow 3.11 adds these to chat answers and chunks.
    responseProperties: {
      'llm/v1/chat': { provider: { ...nullable('string'), description: 'The provider that served the call (as `model.provider` names it).' } },
    },
    chunkProperties: {
      'llm/v1/chat': {
        usage: { description: '`null` until the provider reports usage, on a last chunk with no choices.' },
        provider: { ...nullable('string'), description: 'The provider that served the call.' },
      },
    },
  },
  'x-components': components('Error', 'ValidationError', 'RateLimitError'),
};
