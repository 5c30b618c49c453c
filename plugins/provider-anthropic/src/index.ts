import {
  chunksOfResponse, defineProvider, emptyStreamError, GatewayError, isJsonAnswer, joinUrl, readJsonAnswer, sseEvents, truncatedStreamError,
  type ChatChunk, type ProviderInstance,
} from '@gatehouse/sdk';
import {
  AnthropicChatStream, fromAnthropicChat, fromAnthropicCompletions, toAnthropicChat, toAnthropicCompletions,
} from './transforms.js';

export interface AnthropicConfig {
  anthropic_api_key: string;
  anthropic_version?: string;
  anthropic_api_base?: string;
}

export const DEFAULT_API_BASE = 'https://api.anthropic.com/v1';
export const DEFAULT_VERSION = '2023-06-01';

/** Anthropic: Messages API for chat (and its stream), legacy Text Completions for completions (spec §11.2). */
export default defineProvider<AnthropicConfig>({
  name: 'anthropic',
  displayName: 'Anthropic',
  capabilities: ['chat', 'chatStream', 'completions'],
  configSchema: {
    type: 'object',
    required: ['anthropic_api_key'],
    additionalProperties: false,
    properties: {
      anthropic_api_key: { type: 'string', description: 'API key, sent as `x-api-key`: `$ENV_VAR`, a path to a file holding it, or the key itself.' },
      anthropic_version: { type: 'string', default: DEFAULT_VERSION, description: 'Sent as the `anthropic-version` header. Default "2023-06-01".' },
      anthropic_api_base: { type: 'string', default: DEFAULT_API_BASE, description: 'Base URL (for proxies and tests). Default https://api.anthropic.com/v1.' },
    },
  },
  validate(c) {
    if (c.anthropic_api_base !== undefined) {
      try { new URL(c.anthropic_api_base); } catch { return `anthropic_api_base must be an absolute URL, got '${c.anthropic_api_base}'.`; }
    }
  },
  create(ctx): ProviderInstance {
    const { config, model } = ctx;
    const base = config.anthropic_api_base ?? DEFAULT_API_BASE;
    const urls = { messages: joinUrl(base, 'messages'), complete: joinUrl(base, 'complete') };
    const headers = {
      'x-api-key': config.anthropic_api_key,
      'anthropic-version': config.anthropic_version ?? DEFAULT_VERSION,
    };
    const send = (url: string, body: unknown, signal: AbortSignal) => ({ url, headers, body, signal, timeoutMs: ctx.timeoutMs });

    return {
      async chat(req, call) {
        const body = toAnthropicChat(req, model.name, false);
        return fromAnthropicChat(await ctx.http.json(send(urls.messages, body, call.signal)));
      },
      async *chatStream(req, call): AsyncGenerator<ChatChunk> {
        const body = toAnthropicChat(req, model.name, true);
        const res = await ctx.http.stream({ ...send(urls.messages, body, call.signal), allowJson: true });
        // A whole message where a stream was asked for is replayed as chunks.
        if (isJsonAnswer(res)) return yield* chunksOfResponse(fromAnthropicChat(await readJsonAnswer(res)));
        const mapper = new AnthropicChatStream(model.name);
        let events = 0;
        for await (const ev of sseEvents(res.body)) {
          const data = ev.data.trim();
          if (!data) continue;
          events++;
          let js: unknown;
          try { js = JSON.parse(data); } catch {
            throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'Anthropic sent a stream event that is not valid JSON.');
          }
          yield* mapper.push(js);
          if (mapper.done && (js as { type?: string }).type === 'message_stop') return;
        }
        // Complete means a message_delta (the stop reason) or message_stop came.
        if (events === 0) throw emptyStreamError('Anthropic');
        if (!mapper.done) throw truncatedStreamError('Anthropic', 'before the message was complete (no message_delta or message_stop)');
      },
      async completions(req, call) {
        const body = toAnthropicCompletions(req, model.name);
        return fromAnthropicCompletions(await ctx.http.json(send(urls.complete, body, call.signal)), model.name);
      },
    };
  },
});
