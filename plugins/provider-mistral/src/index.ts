import { defineProvider, joinUrl, openAICompatible, type ProviderContext, type ProviderInstance } from '@gatehouse/sdk';
import {
  DEFAULT_MISTRAL_API_BASE, completionsRequestBody, completionsResponseFrom, embeddingsRequestBody, embeddingsResponseFrom,
} from './transforms.js';

export * from './transforms.js';

export interface MistralConfig {
  mistral_api_key: string;
  mistral_api_base?: string;
}

const configSchema = {
  type: 'object',
  required: ['mistral_api_key'],
  additionalProperties: false,
  properties: {
    mistral_api_key: {
      type: 'string',
      description: 'Mistral API key: `$ENV_VAR`, a path to a file holding it, or the key itself. Sent as `Authorization: Bearer`.',
    },
    mistral_api_base: {
      type: 'string',
      pattern: '^https?://',
      description: `Base URL of the Mistral API (for proxies and tests). Default ${DEFAULT_MISTRAL_API_BASE}.`,
    },
  },
};

const target = ({ config, model }: ProviderContext<MistralConfig>) => ({
  baseUrl: config.mistral_api_base ?? DEFAULT_MISTRAL_API_BASE,
  headers: { authorization: `Bearer ${config.mistral_api_key}` },
  model: model.name,
});

/**
 * Chat and chat streams: Mistral's `/v1/chat/completions` is OpenAI-shaped. Mistral rejects
 * unknown body fields, so no `stream_options` is added; it reports usage on the last chunk anyway.
 */
const chatPart = openAICompatible<MistralConfig>({
  name: 'mistral',
  displayName: 'Mistral',
  configSchema,
  capabilities: ['chat', 'chatStream'],
  streamUsage: false,
  target,
});

/** Mistral (spec §11.4): completions and embeddings as MLflow, plus chat and chat streams. */
export default defineProvider<MistralConfig>({
  name: 'mistral',
  displayName: 'Mistral',
  configSchema,
  capabilities: ['chat', 'chatStream', 'completions', 'embeddings'],
  create(ctx): ProviderInstance {
    const t = target(ctx);
    const modelName = ctx.model.name ?? '';
    const post = (path: string, body: unknown, signal: AbortSignal) =>
      ctx.http.json({ url: joinUrl(t.baseUrl, path), headers: t.headers, body, signal, timeoutMs: ctx.timeoutMs });
    return {
      ...chatPart.create(ctx),
      async completions(req, call) {
        const js = await post('chat/completions', completionsRequestBody(req, ctx.model.name), call.signal);
        return completionsResponseFrom(js, modelName);
      },
      async embeddings(req, call) {
        const js = await post('embeddings', embeddingsRequestBody(req, ctx.model.name), call.signal);
        return embeddingsResponseFrom(js, modelName);
      },
    };
  },
});
