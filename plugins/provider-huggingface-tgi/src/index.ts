import {
  chunksOfResponse, defineProvider, isJsonAnswer, joinUrl, nowSeconds, readJsonAnswer, sseJson,
  type CallContext, type ProviderContext, type ProviderInstance,
} from '@gatehouse/sdk';
import {
  chatChunkFrom, chatRequestBody, chatResponseFrom, generateRequestBody, generateResponseFrom, generateStreamChunkFrom,
  isFinalGenerateEvent, tgiStreamError,
} from './transforms.js';

export * from './transforms.js';

export interface HuggingFaceTGIConfig {
  hf_server_url: string;
}

/**
 * Parse a TGI SSE body into JSON events; `[DONE]` ends it, an `{"error": ...}` event throws. A
 * `/generate_stream` body is complete once an event carries `generated_text`; a Messages API
 * body once a choice has a `finish_reason` (or at `[DONE]`). Otherwise it is a 502
 * `GW_ERR_UPSTREAM_TRUNCATED`.
 */
export const tgiEvents = (body: AsyncIterable<Uint8Array>, kind: 'generate' | 'chat' = 'chat'): AsyncGenerator<any> =>
  sseJson(body, { toError: tgiStreamError, name: 'Text Generation Inference', ...(kind === 'generate' ? { final: isFinalGenerateEvent } : {}) });

/**
 * Hugging Face Text Generation Inference (spec §11.7): completions via `/generate` as MLflow,
 * plus completions streams (`/generate_stream`) and chat / chat streams via TGI's Messages API.
 */
export default defineProvider<HuggingFaceTGIConfig>({
  name: 'huggingface-text-generation-inference',
  displayName: 'Hugging Face Text Generation Inference',
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream'],
  configSchema: {
    type: 'object',
    required: ['hf_server_url'],
    additionalProperties: false,
    properties: {
      hf_server_url: {
        type: 'string',
        pattern: '^https?://',
        description: 'Base URL of the TGI server, e.g. http://127.0.0.1:8080 (`/generate`, `/generate_stream` and `/v1/chat/completions` are appended).',
      },
    },
  },
  create(ctx: ProviderContext<HuggingFaceTGIConfig>): ProviderInstance {
    const base = ctx.config.hf_server_url;
    const headers = { 'content-type': 'application/json' };
    const modelName = ctx.model.name ?? '';
    const send = (path: string, body: unknown, call: CallContext) =>
      ({ url: joinUrl(base, path), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });

    // A complete JSON answer to a stream request is replayed as chunks.
    async function* completionsStream(body: unknown, call: CallContext) {
      const res = await ctx.http.stream({ ...send('generate_stream', body, call), allowJson: true });
      if (isJsonAnswer(res)) return yield* chunksOfResponse(generateResponseFrom(await readJsonAnswer(res), modelName));
      const created = nowSeconds();
      for await (const js of tgiEvents(res.body, 'generate')) yield generateStreamChunkFrom(js, modelName, created);
    }
    async function* chatStream(body: unknown, call: CallContext) {
      const res = await ctx.http.stream({ ...send('v1/chat/completions', body, call), allowJson: true });
      if (isJsonAnswer(res)) return yield* chunksOfResponse(chatResponseFrom(await readJsonAnswer(res), modelName));
      for await (const js of tgiEvents(res.body, 'chat')) yield chatChunkFrom(js, modelName);
    }

    return {
      async completions(req, call) {
        const js = await ctx.http.json(send('generate', generateRequestBody(req), call));
        return generateResponseFrom(js, modelName);
      },
      // Not `async`: parameter errors are thrown when the stream is requested, before any chunk.
      completionsStream(req, call) {
        return completionsStream(generateRequestBody(req, true), call);
      },
      async chat(req, call) {
        const js = await ctx.http.json(send('v1/chat/completions', chatRequestBody(req, ctx.model.name, false), call));
        return chatResponseFrom(js, modelName);
      },
      chatStream(req, call) {
        return chatStream(chatRequestBody(req, ctx.model.name, true), call);
      },
    };
  },
});
