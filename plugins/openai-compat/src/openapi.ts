/**
 * The OpenAPI operations of the `/v1` routes. The three unified routes use docs-ui's
 * `x-gatehouse-invocation` extension (request and answer schemas of the endpoint type, the
 * configured names as the `model` enum, examples); `/v1/responses` describes its own body.
 */
import type { EndpointType, OpenAPIOperation } from '@gatehouse/sdk';

export const TAG = 'OpenAI-compatible';

const openAIErrorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string', description: 'OpenAI-style type, e.g. `invalid_request_error`.' },
        param: { type: ['string', 'null'], description: 'The request field at fault, when known.' },
        code: { type: 'string', description: 'The `GW_ERR_*` code (OpenAI\'s own for rate limits and gateway keys).' },
      },
    },
  },
};

const components = {
  schemas: { OpenAIError: openAIErrorSchema },
  tags: [{ name: TAG, description: 'OpenAI\'s API (`/v1`): `model` names an endpoint or traffic route. Works with OpenAI\'s SDKs, the Vercel AI SDK and LangChain.' }],
};

const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenAIError' } } } });

const errors = {
  400: error('Invalid request, or `model` names an endpoint of another type.'),
  404: error('`model` names no endpoint or traffic route.'),
  429: error('A rate limit was reached (`code: "rate_limit_exceeded"`).'),
  502: error('The upstream failed.'),
};

const SUMMARY: Record<EndpointType, string> = {
  'llm/v1/chat': 'Chat completions',
  'llm/v1/completions': 'Completions',
  'llm/v1/embeddings': 'Embeddings',
};

/** The operation of `/v1/chat/completions`, `/v1/completions` or `/v1/embeddings`. */
export function invocationOperation(type: EndpointType): OpenAPIOperation {
  const ext: Record<string, unknown> = { in: 'body', param: 'model', type };
  if (type !== 'llm/v1/embeddings') { ext.terminator = '[DONE]'; ext.usageExample = true; }
  if (type === 'llm/v1/embeddings') {
    ext.requestProperties = { encoding_format: { enum: ['float', 'base64'], description: '`base64`: little-endian float32 vectors, as OpenAI sends them (its SDK asks for it by default).' } };
  }
  return {
    tags: [TAG],
    operationId: `openai_${type.slice(7)}`,
    summary: SUMMARY[type],
    ...(type === 'llm/v1/completions'
      ? { description: '`prompt` may also be a list of strings: one call per prompt, choices at `index = prompt * n + i`, usage summed.' }
      : {}),
    responses: errors,
    'x-gatehouse-invocation': ext,
    'x-components': components,
  };
}

export const modelsOperation: OpenAPIOperation = {
  tags: [TAG], operationId: 'openai_list_models', summary: 'List models',
  description: 'The endpoints (`owned_by`: their provider), then the traffic routes (`owned_by`: `gatehouse`). '
    + 'With an `anthropic-version` header (Anthropic\'s SDK), Anthropic\'s Models API shape instead: `{"data": [{"type": "model", "id", "display_name", "created_at", ...}], "has_more", "first_id", "last_id"}`, '
    + 'paged by `limit` (default 20), `after_id` and `before_id`.',
  responses: { 200: { description: '`{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`' } },
  'x-components': components,
};

export const modelOperation: OpenAPIOperation = {
  tags: [TAG], operationId: 'openai_get_model', summary: 'Retrieve a model',
  parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, 'x-gatehouse-names': 'targets' }],
  responses: { 200: { description: 'The model.' }, 404: error('No such endpoint or traffic route.') },
  'x-components': components,
};

const messageItem = {
  type: 'object',
  properties: {
    type: { const: 'message' },
    role: { enum: ['user', 'assistant', 'system', 'developer'] },
    content: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', description: '`input_text`, `output_text` or `input_image` (`image_url`).' } }] },
  },
  required: ['role', 'content'],
};

export const responsesOperation: OpenAPIOperation = {
  tags: [TAG],
  operationId: 'openai_responses',
  summary: 'Responses',
  description: 'OpenAI\'s Responses API over a chat endpoint or traffic route, for every provider: text, images, function tools and '
    + 'function-call round trips, streaming with the Responses event sequence (`event:` lines, no `[DONE]`). Nothing is stored: '
    + '`previous_response_id`, `conversation`, `background` and built-in tools answer 400.',
  requestBody: {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['model', 'input'],
          properties: {
            model: { type: 'string', description: 'The chat endpoint or traffic route to call.' },
            input: {
              anyOf: [
                { type: 'string' },
                {
                  type: 'array',
                  items: {
                    anyOf: [
                      messageItem,
                      { type: 'object', required: ['type', 'call_id', 'name', 'arguments'], properties: { type: { const: 'function_call' }, call_id: { type: 'string' }, name: { type: 'string' }, arguments: { type: 'string' } } },
                      { type: 'object', required: ['type', 'call_id', 'output'], properties: { type: { const: 'function_call_output' }, call_id: { type: 'string' }, output: { type: 'string' } } },
                      { type: 'object', required: ['type', 'id'], properties: { type: { const: 'item_reference' }, id: { type: 'string' } } },
                    ],
                  },
                },
              ],
            },
            instructions: { type: 'string' },
            tools: { type: 'array', items: { type: 'object', required: ['type', 'name'], properties: { type: { const: 'function' }, name: { type: 'string' }, description: { type: 'string' }, parameters: { type: 'object' }, strict: { type: 'boolean' } } } },
            tool_choice: { anyOf: [{ enum: ['auto', 'none', 'required'] }, { type: 'object', properties: { type: { const: 'function' }, name: { type: 'string' } } }] },
            max_output_tokens: { type: 'integer', minimum: 1 },
            temperature: { type: 'number', minimum: 0, maximum: 2 },
            top_p: { type: 'number' },
            metadata: { type: 'object', additionalProperties: { type: 'string' } },
            text: { type: 'object', description: '`format`: `text`, `json_object` or `json_schema` (as `response_format`).' },
            stream: { type: 'boolean' },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'A Response object; with `"stream": true` the Responses event stream.',
      content: { 'application/json': { schema: { type: 'object' } }, 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...errors,
  },
  'x-components': components,
};
