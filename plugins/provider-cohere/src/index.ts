import {
  chunksOfResponse, defineProvider, emptyStreamError, GatewayError, isJsonAnswer, joinUrl, lines, nowSeconds, readJsonAnswer,
  truncatedStreamError, type CallContext, type ChatResponse, type CompletionsResponse, type ProviderInstance, type UnifiedChunk,
} from '@gatehouse/sdk';
import {
  chatToCohere, cohereToChat, cohereToChatChunk, cohereToCompletions, cohereToCompletionsChunk, cohereToEmbeddings,
  completionsToCohere, embeddingsToCohere,
} from './transforms.js';

export * from './transforms.js';

export interface CohereConfig {
  cohere_api_key: string;
  cohere_api_base?: string;
}

export const DEFAULT_COHERE_API_BASE = 'https://api.cohere.ai/v1';

/**
 * Parse Cohere's newline-delimited JSON stream; a line that is not JSON is a 502. The stream is
 * complete once a `stream-end` event came: a body that ends before it is a 502
 * `GW_ERR_UPSTREAM_TRUNCATED` (`GW_ERR_UPSTREAM_EMPTY` without any line).
 */
export async function* cohereEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<any> {
  let count = 0;
  let ended = false;
  for await (const line of lines(body)) {
    const t = line.trim();
    if (!t) continue;
    count++;
    let event: any;
    try { event = JSON.parse(t); } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'Cohere sent a stream line that is not valid JSON.');
    }
    if (event?.event_type === 'stream-end') ended = true;
    yield event;
  }
  if (count === 0) throw emptyStreamError('Cohere');
  if (!ended) throw truncatedStreamError('Cohere', 'before its stream-end event');
}

/** Cohere v1 API (`chat`, `generate`, `embed`), spec §11.3. */
export default defineProvider<CohereConfig>({
  name: 'cohere',
  displayName: 'Cohere',
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'],
  configSchema: {
    type: 'object',
    required: ['cohere_api_key'],
    additionalProperties: false,
    properties: {
      cohere_api_key: {
        type: 'string',
        description: 'Cohere API key, sent as `Authorization: Bearer`: `$ENV_VAR`, a path to a file holding it, or the key itself.',
      },
      cohere_api_base: {
        type: 'string',
        description: `Base URL of the v1 API. Default ${DEFAULT_COHERE_API_BASE}; override for proxies and tests.`,
      },
    },
  },
  create(ctx): ProviderInstance {
    const base = ctx.config.cohere_api_base ?? DEFAULT_COHERE_API_BASE;
    const model = ctx.model.name;
    const shownModel = model ?? '';
    const headers = { authorization: `Bearer ${ctx.config.cohere_api_key}` };
    const send = (path: string, body: unknown, call: CallContext) =>
      ctx.http.json({ url: joinUrl(base, path), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs });

    // A complete JSON answer to a stream request is replayed as chunks (`whole`).
    async function* stream<T extends UnifiedChunk>(path: string, body: unknown, call: CallContext, map: (event: any) => T | null,
      whole: (js: any) => ChatResponse | CompletionsResponse): AsyncGenerator<T> {
      const res = await ctx.http.stream({ url: joinUrl(base, path), headers, body, signal: call.signal, timeoutMs: ctx.timeoutMs, allowJson: true });
      if (isJsonAnswer(res)) {
        yield* chunksOfResponse(whole(await readJsonAnswer(res))) as T[];
        return;
      }
      for await (const event of cohereEvents(res.body)) {
        const chunk = map(event);
        if (chunk) yield chunk;
      }
    }

    return {
      async chat(req, call) {
        return cohereToChat(await send('chat', chatToCohere(req, model, false), call), shownModel, nowSeconds());
      },
      // Requests are mapped (and rejected with a 422) before the stream is returned.
      chatStream: (req, call) => stream('chat', chatToCohere(req, model, true), call, (e) => cohereToChatChunk(e, shownModel, nowSeconds()),
        (js) => cohereToChat(js, shownModel, nowSeconds())),
      async completions(req, call) {
        return cohereToCompletions(await send('generate', completionsToCohere(req, model, false), call), shownModel, nowSeconds());
      },
      completionsStream: (req, call) =>
        stream('generate', completionsToCohere(req, model, true), call, (e) => cohereToCompletionsChunk(e, shownModel, nowSeconds()),
          (js) => cohereToCompletions(js, shownModel, nowSeconds())),
      async embeddings(req, call) {
        return cohereToEmbeddings(await send('embed', embeddingsToCohere(req, model), call), shownModel);
      },
    };
  },
});
