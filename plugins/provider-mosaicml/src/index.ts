import { defineProvider, joinUrl, nowSeconds, type CallContext, type ProviderInstance } from '@gatehouse/sdk';
import {
  chatToMosaic, completionsToMosaic, embeddingsToMosaic, mosaicToChat, mosaicToCompletions, mosaicToEmbeddings,
  remapTokenLimitError,
} from './transforms.js';

export * from './transforms.js';

export interface MosaicMLConfig {
  mosaicml_api_key: string;
  mosaicml_api_base?: string;
}

export const DEFAULT_MOSAICML_API_BASE = 'https://models.hosted-on.mosaicml.hosting';

/** MosaicML hosted models (`<base>/<model>/v1/predict`), spec §11.12. Deprecated upstream. */
export default defineProvider<MosaicMLConfig>({
  name: 'mosaicml',
  displayName: 'MosaicML',
  deprecated: 'MosaicML provider is deprecated and will be removed in a future MLflow version.',
  capabilities: ['chat', 'completions', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['mosaicml_api_key'],
    additionalProperties: false,
    properties: {
      mosaicml_api_key: {
        type: 'string',
        description: 'MosaicML API key, sent as `Authorization: <key>` (no Bearer): `$ENV_VAR`, a path to a file holding it, or the key itself.',
      },
      mosaicml_api_base: {
        type: 'string',
        description: `Base URL. Default ${DEFAULT_MOSAICML_API_BASE}; requests go to <base>/<model>/v1/predict.`,
      },
    },
  },
  validate(_config, model, endpointType) {
    const problems: string[] = [];
    if (!model.name) problems.push("The mosaicml provider needs 'model.name' (the MosaicML model id, e.g. llama2-70b-chat).");
    if (endpointType === 'llm/v1/chat' && !(model.name ?? '').toLowerCase().startsWith('llama2')) {
      problems.push(`An invalid model has been specified for the chat route. '${model.name ?? 'None'}'. Ensure the model selected starts with one of: ['llama2']`);
    }
    return problems;
  },
  create(ctx): ProviderInstance {
    const base = ctx.config.mosaicml_api_base ?? DEFAULT_MOSAICML_API_BASE;
    const model = ctx.model.name ?? '';
    const headers = { authorization: ctx.config.mosaicml_api_key };
    const url = joinUrl(base, `${model}/v1/predict`);
    const send = async (body: unknown, call: CallContext): Promise<unknown> => {
      try {
        return await ctx.http.json({ url, headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });
      } catch (e) {
        throw remapTokenLimitError(e);
      }
    };
    return {
      async chat(req, call) {
        return mosaicToChat(await send(chatToMosaic(req), call), model, nowSeconds());
      },
      async completions(req, call) {
        return mosaicToCompletions(await send(completionsToMosaic(req), call), model, nowSeconds());
      },
      async embeddings(req, call) {
        return mosaicToEmbeddings(await send(embeddingsToMosaic(req), call), model);
      },
    };
  },
});
