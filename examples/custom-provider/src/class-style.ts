/**
 * `house-class`: the same House provider in the class style, for authors coming from MLflow's
 * `class CustomProvider(BaseProvider)`. Override the capabilities the service has; the ones
 * left out (here completions and completions streaming) are not offered: a config binding this
 * provider to a completions endpoint is refused at start-up, and the base methods answer 501.
 */
import {
  BaseProvider, defineProvider, joinUrl, nowSeconds, type CallContext, type ChatChunk, type ChatRequest,
  type ChatResponse, type EmbeddingsRequest, type EmbeddingsResponse,
} from '@gatehouse/sdk';
import { houseStream } from './index.js';
import {
  DEFAULT_HOUSE_API_BASE, fromHouseChat, fromHouseEmbed, houseChatChunk, houseConfigSchema, houseError, toHouseChat,
  toHouseEmbed, type HouseConfig,
} from './transforms.js';

export class HouseProvider extends BaseProvider<HouseConfig> {
  private get base(): string { return this.config.house_api_base ?? DEFAULT_HOUSE_API_BASE; }
  private get modelName(): string { return this.model.name ?? 'house-default'; }
  private get headers(): Record<string, string> { return { authorization: `House ${this.config.house_api_key}` }; }

  override async chat(req: ChatRequest, call: CallContext): Promise<ChatResponse> {
    try {
      const js = await this.http.json({
        url: joinUrl(this.base, 'v1/generate'), headers: this.headers, body: toHouseChat(req, this.modelName, this.config),
        signal: call.signal, timeoutMs: this.timeoutMs,
      });
      return fromHouseChat(js, nowSeconds());
    } catch (e) { throw houseError(e); }
  }

  override async *chatStream(req: ChatRequest, call: CallContext): AsyncIterable<ChatChunk> {
    let res;
    try {
      res = await this.http.stream({
        url: joinUrl(this.base, 'v1/generate'), headers: this.headers, body: toHouseChat(req, this.modelName, this.config, true),
        signal: call.signal, timeoutMs: this.timeoutMs,
      });
    } catch (e) { throw houseError(e); }
    yield* houseStream(res.body, { id: null, created: nowSeconds(), model: this.modelName, first: true, done: false }, houseChatChunk);
  }

  override async embeddings(req: EmbeddingsRequest, call: CallContext): Promise<EmbeddingsResponse> {
    try {
      const js = await this.http.json({
        url: joinUrl(this.base, 'v1/embed'), headers: this.headers, body: toHouseEmbed(req, this.modelName),
        signal: call.signal, timeoutMs: this.timeoutMs,
      });
      return fromHouseEmbed(js);
    } catch (e) { throw houseError(e); }
  }
}

export default defineProvider<HouseConfig>({
  name: 'house-class',
  displayName: 'House (class style)',
  configSchema: houseConfigSchema,
  keyFields: ['house_api_key'],
  // capabilities are read from the class: chat, chatStream, embeddings.
  provider: HouseProvider,
});
