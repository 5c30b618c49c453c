import { defineProvider, joinUrl, type ProviderContext, type ProviderInstance } from '@gatehouse/sdk';
import { AI21_MODELS, DEFAULT_AI21LABS_API_BASE, completeRequestBody, completeResponseFrom, unsupportedModel } from './transforms.js';

export * from './transforms.js';

export interface AI21LabsConfig {
  ai21labs_api_key: string;
  ai21labs_api_base?: string;
}

/** AI21 Labs Jurassic-2 (spec §11.8): completions only. */
export default defineProvider<AI21LabsConfig>({
  name: 'ai21labs',
  displayName: 'AI21Labs',
  capabilities: ['completions'],
  configSchema: {
    type: 'object',
    required: ['ai21labs_api_key'],
    additionalProperties: false,
    properties: {
      ai21labs_api_key: {
        type: 'string',
        description: 'AI21 Studio API key: `$ENV_VAR`, a path to a file holding it, or the key itself. Sent as `Authorization: Bearer`.',
      },
      ai21labs_api_base: {
        type: 'string',
        pattern: '^https?://',
        description: `Base URL of AI21 Studio (for proxies and tests); requests go to <base>/<model>/complete. Default ${DEFAULT_AI21LABS_API_BASE}.`,
      },
    },
  },
  validate(_config, model) {
    if (!(AI21_MODELS as readonly (string | null)[]).includes(model.name)) return unsupportedModel(model.name);
  },
  create(ctx: ProviderContext<AI21LabsConfig>): ProviderInstance {
    const url = joinUrl(ctx.config.ai21labs_api_base ?? DEFAULT_AI21LABS_API_BASE, `${encodeURIComponent(ctx.model.name ?? '')}/complete`);
    const headers = { authorization: `Bearer ${ctx.config.ai21labs_api_key}` };
    return {
      async completions(req, call) {
        const body = completeRequestBody(req);
        const js = await ctx.http.json({ url, headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });
        return completeResponseFrom(js, ctx.model.name ?? '');
      },
    };
  },
});
