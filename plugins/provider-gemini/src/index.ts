import {
  chunksOfResponse, defineProvider, isJsonAnswer, joinUrl, nowSeconds, readJsonAnswer,
  type CallContext, type ChatChunk, type CompletionsChunk, type ProviderInstance,
} from '@gatehouse/sdk';
import {
  chatToGemini, completionsToGemini, createChatStreamMapper, embeddingsToGemini, geminiStreamEvents, geminiToChat,
  geminiEventList, geminiToCompletions, geminiToCompletionsChunk, geminiToEmbeddings,
} from './transforms.js';

export * from './transforms.js';
export { pythonJsonDumps } from './python-json.js';

export interface GeminiConfig {
  gemini_api_key: string;
  gemini_api_base?: string;
}

export const DEFAULT_GEMINI_API_BASE = 'https://generativelanguage.googleapis.com/v1beta/models';

/** Google Gemini (generativelanguage v1beta), spec §11.11. */
export default defineProvider<GeminiConfig>({
  name: 'gemini',
  displayName: 'Gemini',
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['gemini_api_key'],
    additionalProperties: false,
    properties: {
      gemini_api_key: {
        type: 'string',
        description: 'Gemini API key, sent as `x-goog-api-key`: `$ENV_VAR`, a path to a file holding it, or the key itself.',
      },
      gemini_api_base: {
        type: 'string',
        description: `Base URL up to and including \`/models\`. Default ${DEFAULT_GEMINI_API_BASE}; override for proxies and tests.`,
      },
    },
  },
  validate(_config, model) {
    if (!model.name) return "The gemini provider needs 'model.name' (the Gemini model id, e.g. gemini-2.0-flash).";
  },
  create(ctx): ProviderInstance {
    const base = ctx.config.gemini_api_base ?? DEFAULT_GEMINI_API_BASE;
    const model = ctx.model.name ?? '';
    const headers = { 'x-goog-api-key': ctx.config.gemini_api_key };
    const url = (method: string, query?: Record<string, string>) => joinUrl(base, `${model}:${method}`, query);
    const send = (method: string, body: unknown, call: CallContext) =>
      ctx.http.json({ url: url(method), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });
    const open = (body: unknown, call: CallContext) => ctx.http.stream({
      url: url('streamGenerateContent', { alt: 'sse' }), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs, allowJson: true,
    });
    // A JSON answer to a stream request is replayed as chunks: a list is what
    // `streamGenerateContent` sends without `alt=sse` (the events, whole); an object is one
    // complete `generateContent` answer.
    async function* chatStream(body: unknown, call: CallContext): AsyncGenerator<ChatChunk> {
      const res = await open(body, call);
      const map = createChatStreamMapper(model, nowSeconds);
      if (isJsonAnswer(res)) {
        const js = await readJsonAnswer(res);
        if (Array.isArray(js)) yield* geminiEventList(js).map(map);
        else yield* chunksOfResponse(geminiToChat(js, model, nowSeconds()));
        return;
      }
      for await (const event of geminiStreamEvents(res.body)) yield map(event);
    }
    async function* completionsStream(body: unknown, call: CallContext): AsyncGenerator<CompletionsChunk> {
      const res = await open(body, call);
      if (isJsonAnswer(res)) {
        const js = await readJsonAnswer(res);
        if (Array.isArray(js)) yield* geminiEventList(js).map((e) => geminiToCompletionsChunk(e, model, nowSeconds()));
        else yield* chunksOfResponse(geminiToCompletions(js, model, nowSeconds()));
        return;
      }
      for await (const event of geminiStreamEvents(res.body)) yield geminiToCompletionsChunk(event, model, nowSeconds());
    }

    return {
      async chat(req, call) {
        return geminiToChat(await send('generateContent', chatToGemini(req), call), model, nowSeconds());
      },
      // The request is mapped (and rejected with a 422) before the stream is returned.
      chatStream: (req, call) => chatStream(chatToGemini(req), call),
      async completions(req, call) {
        return geminiToCompletions(await send('generateContent', completionsToGemini(req), call), model, nowSeconds());
      },
      completionsStream: (req, call) => completionsStream(completionsToGemini(req), call),
      async embeddings(req, call) {
        const { method, body } = embeddingsToGemini(req, model);
        return geminiToEmbeddings(await send(method, body, call), model);
      },
    };
  },
});
