import { defineProvider, joinUrl, type CallContext, type ProviderContext, type ProviderInstance } from '@gatehouse/sdk';
import {
  chatRequestBody, chatResponseFrom, completionsRequestBody, completionsResponseFrom, embeddingsRequestBody,
  embeddingsResponseFrom,
} from './transforms.js';

export * from './transforms.js';
export { pyRepr, renderValidationError } from './pydantic-text.js';

export interface MlflowModelServingConfig {
  model_server_url: string;
}

/** A model served by `mlflow models serve` (or any server speaking its `/invocations` API), spec §11.9. */
export default defineProvider<MlflowModelServingConfig>({
  name: 'mlflow-model-serving',
  displayName: 'MLflow Model Serving',
  allowModelField: true,
  capabilities: ['chat', 'completions', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['model_server_url'],
    additionalProperties: false,
    properties: {
      model_server_url: {
        type: 'string',
        pattern: '^https?://',
        description: 'Base URL of the model server, e.g. http://127.0.0.1:5001 (`/invocations` is appended).',
      },
    },
  },
  create(ctx: ProviderContext<MlflowModelServingConfig>): ProviderInstance {
    const url = joinUrl(ctx.config.model_server_url, 'invocations');
    const headers = { 'content-type': 'application/json' };
    const model = ctx.model.name ?? '';
    const invoke = (body: unknown, call: CallContext) =>
      ctx.http.json({ url, headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });
    return {
      async chat(req, call) {
        return chatResponseFrom(await invoke(chatRequestBody(req), call), model);
      },
      async completions(req, call) {
        return completionsResponseFrom(await invoke(completionsRequestBody(req), call), model);
      },
      async embeddings(req, call) {
        return embeddingsResponseFrom(await invoke(embeddingsRequestBody(req), call), model);
      },
    };
  },
});
