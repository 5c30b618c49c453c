/**
 * `house`: a Gatehouse provider for the House model service, in the object style —
 * `defineProvider({ create })` returns, per endpoint, an object with one method per capability.
 * The class style of the same provider is in `class-style.ts`.
 */
import {
  defineProvider, GatewayError, joinUrl, nowSeconds, sseEvents, type CallContext, type ProviderInstance,
  type UnifiedChunk, type SSEEvent,
} from '@gatehouse/sdk';
import {
  DEFAULT_HOUSE_API_BASE, fromHouseChat, fromHouseCompletions, fromHouseEmbed, houseChatChunk, houseCompletionsChunk,
  houseConfigSchema, houseError, toHouseChat, toHouseCompletions, toHouseEmbed, type HouseConfig, type StreamState,
} from './transforms.js';

export * from './transforms.js';

/**
 * Read a House event stream into unified chunks. A stream that ends without its `done` event
 * was cut: that is an error (the gateway sends it as the final error event), never a silent end.
 */
export async function* houseStream<T extends UnifiedChunk>(
  body: AsyncIterable<Uint8Array>, state: StreamState, map: (ev: SSEEvent, s: StreamState) => T | null,
): AsyncGenerator<T> {
  for await (const ev of sseEvents(body)) {
    const chunk = map(ev, state);
    if (chunk) yield chunk;
    if (state.done) return;
  }
  throw new GatewayError('GW_ERR_UPSTREAM_TRUNCATED', 'The House service ended the stream before it was complete.');
}

export default defineProvider<HouseConfig>({
  name: 'house',
  displayName: 'House',
  configSchema: houseConfigSchema,
  // Resolved like API keys ($ENV, key file, literal) and scrubbed from every answer and log line.
  keyFields: ['house_api_key'],
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'],
  validate(config) {
    if (config.house_api_base && !/^https?:\/\//.test(config.house_api_base)) return `house_api_base must be an http(s) URL, got '${config.house_api_base}'.`;
  },
  create({ config, model, http, timeoutMs }): ProviderInstance {
    const base = config.house_api_base ?? DEFAULT_HOUSE_API_BASE;
    const modelName = model.name ?? 'house-default';
    const headers = { authorization: `House ${config.house_api_key}` };
    const post = async (path: string, body: unknown, call: CallContext) => {
      try {
        return await http.json({ url: joinUrl(base, path), headers, body, signal: call.signal, timeoutMs });
      } catch (e) { throw houseError(e); }
    };
    const open = async (body: unknown, call: CallContext) => {
      try {
        return await http.stream({ url: joinUrl(base, 'v1/generate'), headers, body, signal: call.signal, timeoutMs });
      } catch (e) { throw houseError(e); }
    };
    const state = (): StreamState => ({ id: null, created: nowSeconds(), model: modelName, first: true, done: false });

    return {
      async chat(req, call) {
        return fromHouseChat(await post('v1/generate', toHouseChat(req, modelName, config), call), nowSeconds());
      },
      async *chatStream(req, call) {
        const res = await open(toHouseChat(req, modelName, config, true), call);
        yield* houseStream(res.body, state(), houseChatChunk);
      },
      async completions(req, call) {
        return fromHouseCompletions(await post('v1/generate', toHouseCompletions(req, modelName, config), call), nowSeconds());
      },
      async *completionsStream(req, call) {
        const res = await open(toHouseCompletions(req, modelName, config, true), call);
        yield* houseStream(res.body, state(), houseCompletionsChunk);
      },
      async embeddings(req, call) {
        return fromHouseEmbed(await post('v1/embed', toHouseEmbed(req, modelName), call));
      },
    };
  },
});
