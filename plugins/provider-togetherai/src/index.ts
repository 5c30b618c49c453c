import {
  chunksOfResponse, defineProvider, isJsonAnswer, joinUrl, openAIStreamEvents, readJsonAnswer,
  type CallContext, type ChatResponse, type CompletionsResponse, type ProviderContext, type ProviderInstance, type UnifiedChunk,
} from '@gatehouse/sdk';
import {
  DEFAULT_TOGETHERAI_API_BASE, chatChunkFrom, chatResponseFrom, completionsChunkFrom, completionsRequestBody,
  completionsResponseFrom, embeddingsRequestBody, embeddingsResponseFrom, reportedModel, requestBody,
} from './transforms.js';

export * from './transforms.js';

export interface TogetherAIConfig {
  togetherai_api_key: string;
  togetherai_api_base?: string;
}

/** TogetherAI (spec §11.5): chat, completions (both streaming) and embeddings. */
export default defineProvider<TogetherAIConfig>({
  name: 'togetherai',
  displayName: 'TogetherAI',
  allowModelField: true,
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['togetherai_api_key'],
    additionalProperties: false,
    properties: {
      togetherai_api_key: {
        type: 'string',
        description: 'TogetherAI API key: `$ENV_VAR`, a path to a file holding it, or the key itself. Sent as `Authorization: Bearer`.',
      },
      togetherai_api_base: {
        type: 'string',
        pattern: '^https?://',
        description: `Base URL of the TogetherAI API (for proxies and tests). Default ${DEFAULT_TOGETHERAI_API_BASE}.`,
      },
    },
  },
  create(ctx: ProviderContext<TogetherAIConfig>): ProviderInstance {
    const base = ctx.config.togetherai_api_base ?? DEFAULT_TOGETHERAI_API_BASE;
    const headers = { authorization: `Bearer ${ctx.config.togetherai_api_key}` };
    const configModel = ctx.model.name;
    const url = (path: string) => joinUrl(base, path);
    const post = (path: string, body: unknown, call: CallContext) =>
      ctx.http.json({ url: url(path), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });

    // A complete JSON answer to a stream request is replayed as chunks (`whole`).
    async function* stream<T extends UnifiedChunk>(path: string, body: Record<string, unknown>, call: CallContext, map: (js: any) => T,
      whole: (js: any) => ChatResponse | CompletionsResponse) {
      const res = await ctx.http.stream({ url: url(path), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs, allowJson: true });
      if (isJsonAnswer(res)) return yield* chunksOfResponse(whole(await readJsonAnswer(res))) as T[];
      for await (const js of openAIStreamEvents(res.body, { name: 'TogetherAI' })) yield map(js);
    }

    return {
      async chat(req, call) {
        const js = await post('chat/completions', requestBody(req, configModel, false), call);
        return chatResponseFrom(js, reportedModel(req.model, configModel, js?.model));
      },
      // Not `async`: parameter errors are thrown when the stream is requested, before any chunk.
      chatStream(req, call) {
        const body = requestBody(req, configModel, true);
        const model = reportedModel(req.model, configModel, undefined);
        return stream('chat/completions', body, call, (js) => chatChunkFrom(js, model || js?.model || ''),
          (js) => chatResponseFrom(js, model || js?.model || ''));
      },
      async completions(req, call) {
        const js = await post('completions', completionsRequestBody(req, configModel, false), call);
        return completionsResponseFrom(js, reportedModel(req.model, configModel, js?.model));
      },
      completionsStream(req, call) {
        const body = completionsRequestBody(req, configModel, true);
        const model = reportedModel(req.model, configModel, undefined);
        return stream('completions', body, call, (js) => completionsChunkFrom(js, model || js?.model || ''),
          (js) => completionsResponseFrom(js, model || js?.model || ''));
      },
      async embeddings(req, call) {
        const js = await post('embeddings', embeddingsRequestBody(req, configModel), call);
        return embeddingsResponseFrom(js, reportedModel(req.model, configModel, js?.model));
      },
    };
  },
});
