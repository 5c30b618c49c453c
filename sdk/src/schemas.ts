/**
 * JSON Schemas (draft 2020-12 compatible subset, as ajv compiles them) for the unified requests
 * of spec §3, with the bounds providers accept. Extra fields are allowed and forwarded.
 *
 * No parameter has a default: like MLflow 3.11, a parameter the caller omits is not sent upstream
 * (providers whose API requires one, e.g. Anthropic's `max_tokens`, use that API's documented
 * default). Every number is bounded, integers to what the upstream APIs take (and always within
 * ±(2^53 − 1), so a JSON number that lost precision, or `1e400`, is refused, never acted on).
 */
import type { EndpointType } from './types.js';

type Schema = Record<string, unknown>;

const stringList: Schema = { type: 'array', items: { type: 'string' } };

/** The largest signed 32-bit integer: the cap of token counts and similar integer parameters. */
export const INT32_MAX = 2_147_483_647;

const nullable = (s: Schema, description?: string): Schema => ({ anyOf: [s, { type: 'null' }], ...(description ? { description } : {}) });
const bounded = (type: 'number' | 'integer', minimum: number, maximum: number): Schema => ({ type, minimum, maximum });

/**
 * The bounds of every numeric request parameter the gateway knows, by name (OpenAI's ranges,
 * which the other providers' ranges are mapped from). Exported so that endpoint-level defaults
 * can be validated with the same rules.
 */
export const parameterSchemas: Readonly<Record<string, Schema>> = {
  temperature: nullable(bounded('number', 0, 2), 'Sampling temperature, 0–2. Not sent upstream when omitted.'),
  top_p: nullable(bounded('number', 0, 1), 'Nucleus sampling, 0–1.'),
  n: nullable(bounded('integer', 1, 128), 'How many choices to generate, 1–128. Not sent upstream when omitted.'),
  max_tokens: nullable(bounded('integer', 1, INT32_MAX), 'Maximum tokens to generate, a positive 32-bit integer.'),
  max_completion_tokens: nullable(bounded('integer', 1, INT32_MAX)),
  frequency_penalty: nullable(bounded('number', -2, 2)),
  presence_penalty: nullable(bounded('number', -2, 2)),
  top_k: nullable(bounded('integer', 0, INT32_MAX)),
  top_logprobs: nullable(bounded('integer', 0, 20)),
  seed: nullable(bounded('integer', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)),
  logit_bias: nullable({ type: 'object', additionalProperties: bounded('number', -100, 100) }),
};

/**
 * Request parameters that are one setting under two names: an endpoint's default for one does not
 * apply to a request that gives the other (OpenAI refuses `max_tokens` and `max_completion_tokens`
 * together: "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported").
 */
export const parameterAliases: Readonly<Record<string, string>> = { max_tokens: 'max_completion_tokens', max_completion_tokens: 'max_tokens' };

const common: Record<string, Schema> = {
  ...parameterSchemas,
  stop: { anyOf: [{ ...stringList, minItems: 1 }, { type: 'null' }] },
  stream: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  stream_options: { anyOf: [{ type: 'object' }, { type: 'null' }] },
  model: { anyOf: [{ type: 'string' }, { type: 'null' }] },
};

const contentPart: Schema = {
  oneOf: [
    { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: { type: 'string' } } },
    {
      type: 'object', required: ['type', 'image_url'],
      properties: {
        type: { const: 'image_url' },
        image_url: { type: 'object', required: ['url'], properties: { url: { type: 'string' }, detail: { enum: ['auto', 'low', 'high'] } } },
      },
    },
    {
      type: 'object', required: ['type', 'input_audio'],
      properties: {
        type: { const: 'input_audio' },
        input_audio: { type: 'object', required: ['data', 'format'], properties: { data: { type: 'string' }, format: { enum: ['wav', 'mp3'] } } },
      },
    },
  ],
};

const toolCall: Schema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', default: 'function' },
    function: { type: 'object', properties: { name: { type: 'string' }, arguments: { type: 'string' } } },
  },
};

const paramType = { enum: ['string', 'number', 'integer', 'object', 'array', 'boolean', 'null'] };

const tool: Schema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['function', 'uc_function'] },
    function: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        parameters: {
          type: 'object',
          properties: {
            properties: {
              type: 'object',
              additionalProperties: {
                type: 'object',
                properties: { type: { anyOf: [paramType, { type: 'array', items: paramType }] }, description: { type: 'string' } },
              },
            },
            type: { const: 'object' },
            required: stringList,
            additionalProperties: { type: 'boolean' },
          },
        },
        strict: { type: 'boolean' },
      },
    },
    uc_function: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  },
};

/** `llm/v1/chat` request. */
export const chatRequestSchema: Schema = {
  $id: 'gatehouse:llm/v1/chat',
  title: 'ChatRequest',
  type: 'object',
  required: ['messages'],
  properties: {
    ...common,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string' },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: contentPart }, { type: 'null' }] },
          tool_calls: { anyOf: [{ type: 'array', items: toolCall }, { type: 'null' }] },
          refusal: { anyOf: [{ type: 'string' }, { type: 'null' }] },
          tool_call_id: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        },
      },
    },
    tools: { anyOf: [{ type: 'array', items: tool }, { type: 'null' }] },
  },
  examples: [{ messages: [{ role: 'user', content: 'Tell me a joke about gateways.' }], temperature: 0.5, max_tokens: 64 }],
};

/** `llm/v1/completions` request. */
export const completionsRequestSchema: Schema = {
  $id: 'gatehouse:llm/v1/completions',
  title: 'CompletionsRequest',
  type: 'object',
  required: ['prompt'],
  properties: {
    ...common,
    prompt: { type: 'string' },
    best_of: nullable(bounded('integer', 1, 20)),
    logprobs: nullable(bounded('integer', 0, 20)),
  },
  examples: [{ prompt: 'Write a haiku about load balancers.', max_tokens: 64 }],
};

const tokenId: Schema = bounded('integer', 0, INT32_MAX);

/** `llm/v1/embeddings` request. */
export const embeddingsRequestSchema: Schema = {
  $id: 'gatehouse:llm/v1/embeddings',
  title: 'EmbeddingsRequest',
  type: 'object',
  required: ['input'],
  properties: {
    input: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' } },
        { type: 'array', items: tokenId },
        { type: 'array', items: { type: 'array', items: tokenId } },
      ],
    },
    dimensions: nullable(bounded('integer', 1, 65_536)),
  },
  examples: [{ input: ['hello world', 'gateways route requests'] }],
};

const usageSchema: Schema = {
  type: 'object',
  properties: {
    prompt_tokens: { type: ['integer', 'null'] },
    completion_tokens: { type: ['integer', 'null'] },
    total_tokens: { type: ['integer', 'null'] },
  },
};

/** Response schemas, for API docs. */
export const responseSchemas: Record<EndpointType, Schema> = {
  'llm/v1/chat': {
    title: 'ChatResponse',
    type: 'object',
    properties: {
      id: { type: ['string', 'null'] }, object: { const: 'chat.completion' }, created: { type: 'integer' }, model: { type: 'string' },
      choices: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            index: { type: 'integer' },
            message: {
              type: 'object',
              properties: {
                role: { type: 'string' }, content: { type: ['string', 'array', 'null'] },
                tool_calls: { type: ['array', 'null'] }, refusal: { type: ['string', 'null'] },
              },
            },
            finish_reason: { type: ['string', 'null'] },
          },
        },
      },
      usage: usageSchema,
    },
  },
  'llm/v1/completions': {
    title: 'CompletionsResponse',
    type: 'object',
    properties: {
      id: { type: ['string', 'null'] }, object: { const: 'text_completion' }, created: { type: 'integer' }, model: { type: 'string' },
      choices: {
        type: 'array',
        items: { type: 'object', properties: { index: { type: 'integer' }, text: { type: 'string' }, finish_reason: { type: ['string', 'null'] } } },
      },
      usage: usageSchema,
    },
  },
  'llm/v1/embeddings': {
    title: 'EmbeddingsResponse',
    type: 'object',
    properties: {
      object: { const: 'list' },
      data: {
        type: 'array',
        items: { type: 'object', properties: { object: { const: 'embedding' }, embedding: { type: ['array', 'string'], items: { type: 'number' } }, index: { type: 'integer' } } },
      },
      model: { type: 'string' },
      usage: { type: 'object', properties: { prompt_tokens: { type: ['integer', 'null'] }, total_tokens: { type: ['integer', 'null'] } } },
    },
  },
};

const chunkUsage: Schema = { anyOf: [usageSchema, { type: 'null' }], description: 'Only with `stream_options.include_usage`.' };

/** Stream chunk schemas (chat and completions stream; embeddings do not), for API docs. */
export const chunkSchemas: Record<'llm/v1/chat' | 'llm/v1/completions', Schema> = {
  'llm/v1/chat': {
    title: 'ChatChunk',
    type: 'object',
    properties: {
      id: { type: ['string', 'null'] }, object: { const: 'chat.completion.chunk' }, created: { type: 'integer' }, model: { type: 'string' },
      choices: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            index: { type: 'integer' },
            finish_reason: { type: ['string', 'null'] },
            delta: {
              type: 'object',
              properties: {
                role: { type: ['string', 'null'] }, content: { type: ['string', 'null'] },
                tool_calls: { type: ['array', 'null'], items: { type: 'object' } },
              },
            },
          },
        },
      },
      usage: chunkUsage,
    },
  },
  'llm/v1/completions': {
    title: 'CompletionsChunk',
    type: 'object',
    properties: {
      id: { type: ['string', 'null'] }, object: { enum: ['text_completion_chunk', 'text_completion.chunk'] }, created: { type: 'integer' }, model: { type: 'string' },
      choices: {
        type: 'array',
        items: { type: 'object', properties: { index: { type: 'integer' }, finish_reason: { type: ['string', 'null'] }, text: { type: ['string', 'null'] } } },
      },
      usage: chunkUsage,
    },
  },
};

/** The request schema for an endpoint type. */
export const requestSchemas: Record<EndpointType, Schema> = {
  'llm/v1/chat': chatRequestSchema,
  'llm/v1/completions': completionsRequestSchema,
  'llm/v1/embeddings': embeddingsRequestSchema,
};
