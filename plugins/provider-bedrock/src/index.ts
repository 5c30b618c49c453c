import {
  chunksOfResponse, defineProvider, discardBody, emptyStreamError, GatewayError, interpretUpstream, isGatewayError, isJsonAnswer, joinUrl,
  readJsonAnswer, type ChatChunk, type ProviderInstance, type UpstreamResponse,
} from '@gatehouse/sdk';
import { BedrockSigner, credentialProvider } from './auth.js';
import { configSchema, KEY_FIELDS, resolveRegion, validateConfig, type BedrockConfig } from './config.js';
import { ConverseChatStream, fromConverse, toConverse } from './converse.js';
import { bedrockHttpError, bedrockStreamException } from './errors.js';
import { decodeEventStream } from './eventstream.js';
import { fromInvokeBody, modelFamily, toInvokeBody, unknownFamily } from './families.js';

export type { BedrockConfig, AwsConfig } from './config.js';

const first = (h: UpstreamResponse['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

const intHeader = (h: UpstreamResponse['headers'], name: string): number | null => {
  const v = first(h, name);
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) ? n : null;
};

/**
 * Amazon Bedrock: completions through InvokeModel for the amazon, cohere, ai21 and anthropic
 * model families (spec §11.6), and chat (streaming too) through the Converse API. Every request
 * is signed with SigV4; credentials come from `aws_config` (role, keys, or the default chain).
 */
export default defineProvider<BedrockConfig>({
  name: 'bedrock',
  aliases: ['amazon-bedrock'],
  displayName: 'Amazon Bedrock',
  capabilities: ['chat', 'chatStream', 'completions'],
  configSchema,
  keyFields: KEY_FIELDS,
  validate(c, model) {
    const problems = validateConfig(c);
    if (!model.name) problems.push('Amazon Bedrock needs model.name: the Bedrock model id, e.g. anthropic.claude-3-haiku-20240307-v1:0.');
    return problems;
  },
  create(ctx): ProviderInstance {
    const { config, model, logger } = ctx;
    const modelId = model.name ?? '';
    const region = resolveRegion(config.aws_config) ?? 'us-east-1';
    const base = config.bedrock_endpoint_url ?? `https://bedrock-runtime.${region}.amazonaws.com`;
    const signer = new BedrockSigner(credentialProvider(config.aws_config, region), region);
    const url = (action: 'invoke' | 'converse' | 'converse-stream') => joinUrl(base, `model/${encodeURIComponent(modelId)}/${action}`);

    /** Sign and send; a non-2xx answer becomes a GatewayError with Bedrock's status and message. */
    async function send(target: string, body: unknown, accept: string, signal: AbortSignal): Promise<UpstreamResponse> {
      const raw = JSON.stringify(body);
      let headers: Record<string, string>;
      try {
        headers = await signer.sign({ url: target, headers: { 'content-type': 'application/json', accept }, body: raw });
      } catch (e) {
        if (isGatewayError(e)) throw e;
        // The message names the failing source (STS, chain); it carries no secret.
        logger.error('could not obtain AWS credentials for Amazon Bedrock', { error: (e as Error)?.message });
        throw new GatewayError('GW_ERR_UPSTREAM_UNREACHABLE', 'Could not obtain AWS credentials for Amazon Bedrock.', { cause: e });
      }
      const res = await ctx.http.request({ url: target, headers, rawBody: raw, signal, timeoutMs: ctx.timeoutMs });
      if (res.status < 200 || res.status >= 300) {
        throw bedrockHttpError(res.status, first(res.headers, 'x-amzn-errortype'), await res.text());
      }
      return res;
    }

    async function json(target: string, body: unknown, signal: AbortSignal): Promise<{ js: any; res: UpstreamResponse }> {
      const res = await send(target, body, 'application/json', signal);
      const js = interpretUpstream(res.status, first(res.headers, 'content-type') ?? '', await res.text());
      return { js, res };
    }

    return {
      async completions(req, call) {
        const family = modelFamily(model.name);
        if (!family) throw unknownFamily(model.name);
        const { js, res } = await json(url('invoke'), toInvokeBody(family, req), call.signal);
        return fromInvokeBody(family, js, modelId, {
          prompt_tokens: intHeader(res.headers, 'x-amzn-bedrock-input-token-count'),
          completion_tokens: intHeader(res.headers, 'x-amzn-bedrock-output-token-count'),
        });
      },
      async chat(req, call) {
        const { js, res } = await json(url('converse'), toConverse(req), call.signal);
        return fromConverse(js, modelId, first(res.headers, 'x-amzn-requestid') ?? null);
      },
      async *chatStream(req, call): AsyncGenerator<ChatChunk> {
        const res = await send(url('converse-stream'), toConverse(req), 'application/vnd.amazon.eventstream', call.signal);
        const requestId = first(res.headers, 'x-amzn-requestid') ?? null;
        // A whole Converse answer where a stream was asked for is replayed as chunks.
        if (isJsonAnswer(res)) {
          const js = await readJsonAnswer(res);
          if (!js?.output?.message) {
            throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'Amazon Bedrock answered a stream request with JSON that is not a Converse answer.');
          }
          return yield* chunksOfResponse(fromConverse(js, modelId, requestId));
        }
        const contentType = first(res.headers, 'content-type') ?? '';
        const ct = contentType.split(';')[0]!.trim().toLowerCase();
        if (ct !== 'application/vnd.amazon.eventstream') {
          await discardBody(res);
          throw new GatewayError('GW_ERR_UPSTREAM_CONTENT_TYPE',
            `Amazon Bedrock answered a stream request with content type ${contentType || 'none'}, which is not an event stream.`);
        }
        const mapper = new ConverseChatStream(modelId, requestId);
        let messages = 0;
        for await (const m of decodeEventStream(res.body)) {
          messages++;
          if (m.messageType === 'exception') throw bedrockStreamException(m.exceptionType, m.payload);
          if (m.messageType === 'error') {
            throw new GatewayError('GW_ERR_UPSTREAM_STATUS', m.errorMessage ?? `Amazon Bedrock stream error (${m.errorCode ?? 'unknown'})`, { status: 502 });
          }
          yield* mapper.push(m.eventType, m.payload);
        }
        if (messages === 0) throw emptyStreamError('Amazon Bedrock');
        yield* mapper.end();
      },
    };
  },
});
