import { defineProvider, joinUrl, nowSeconds, type CallContext, type ProviderInstance } from '@gatehouse/sdk';
import { chatToPalm, completionsToPalm, embeddingsToPalm, palmToChat, palmToCompletions, palmToEmbeddings } from './transforms.js';

export * from './transforms.js';

export interface PaLMConfig {
  palm_api_key: string;
  palm_api_base?: string;
}

export const DEFAULT_PALM_API_BASE = 'https://generativelanguage.googleapis.com/v1beta3/models/';

/** Google PaLM (generativelanguage v1beta3), spec §11.10. Deprecated upstream. */
export default defineProvider<PaLMConfig>({
  name: 'palm',
  displayName: 'PaLM',
  deprecated: 'The PaLM API (generativelanguage v1beta3) is deprecated and shut down by Google; MLflow deprecates the palm provider too. Use the gemini provider instead.',
  capabilities: ['chat', 'completions', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['palm_api_key'],
    additionalProperties: false,
    properties: {
      palm_api_key: {
        type: 'string',
        description: 'PaLM API key, sent as `x-goog-api-key`: `$ENV_VAR`, a path to a file holding it, or the key itself.',
      },
      palm_api_base: {
        type: 'string',
        description: `Base URL up to and including \`/models\`. Default ${DEFAULT_PALM_API_BASE}; override for proxies and tests.`,
      },
    },
  },
  validate(_config, model) {
    if (!model.name) return "The palm provider needs 'model.name' (the PaLM model id, e.g. chat-bison-001).";
  },
  create(ctx): ProviderInstance {
    const base = ctx.config.palm_api_base ?? DEFAULT_PALM_API_BASE;
    const model = ctx.model.name ?? '';
    const headers = { 'x-goog-api-key': ctx.config.palm_api_key };
    const send = (method: string, body: unknown, call: CallContext) =>
      ctx.http.json({ url: joinUrl(base, `${model}:${method}`), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });
    return {
      async chat(req, call) {
        return palmToChat(await send('generateMessage', chatToPalm(req), call), model, nowSeconds());
      },
      async completions(req, call) {
        return palmToCompletions(await send('generateText', completionsToPalm(req), call), model, nowSeconds());
      },
      async embeddings(req, call) {
        return palmToEmbeddings(await send('batchEmbedText', embeddingsToPalm(req), call), model);
      },
    };
  },
});
