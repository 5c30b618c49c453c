import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type ChatRequest, type CompletionsRequest, type EndpointType, type ProviderInstance } from '@gatehouse/sdk';
import { rejection, startFakeUpstream, testCall as call, type FakeUpstream } from '@gatehouse/sdk/testing';
import def, { type BedrockConfig } from '../src/index.js';
import { toConverse } from '../src/converse.js';
import { toInvokeBody, type Family } from '../src/families.js';
import { recordingLogger } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`; Bedrock knows only each family's own
// max-tokens field (Converse's `inferenceConfig.maxTokens`) and refuses unknown ones.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, field: (b: Body) => unknown, value: number) {
  expect(field(body)).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

const FAMILY_FIELD: Record<Family, (b: Body) => unknown> = {
  anthropic: (b) => b.max_tokens_to_sample,
  amazon: (b) => b.textGenerationConfig?.maxTokenCount,
  ai21: (b) => b.maxTokens,
  cohere: (b) => b.max_tokens,
};
const FAMILY_MODEL: Record<Family, string> = {
  anthropic: 'anthropic.claude-v2:1', amazon: 'amazon.titan-text-express-v1', ai21: 'ai21.j2-mid-v1', cohere: 'cohere.command-text-v14',
};
const converseMax = (b: Body) => b.inferenceConfig?.maxTokens;

describe('max_completion_tokens: transforms', () => {
  it('Converse (chat and chat stream): inferenceConfig.maxTokens, never the key; max_tokens wins when both are given', () => {
    expectFolded(toConverse(chat(ONLY)), converseMax, 7);
    expectFolded(toConverse(chat({ max_tokens: null, max_completion_tokens: 7 })), converseMax, 7);
    expectFolded(toConverse(chat(BOTH)), converseMax, 5);
  });

  it.each(Object.keys(FAMILY_FIELD) as Family[])('InvokeModel, %s family: its max-tokens field, never the key; max_tokens wins', (family) => {
    expectFolded(toInvokeBody(family, cmpl(ONLY)), FAMILY_FIELD[family], 7);
    expectFolded(toInvokeBody(family, cmpl(BOTH)), FAMILY_FIELD[family], 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  const http = createHttpClient();
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); await http.close(); });

  function inst(modelName: string, endpoint_type: EndpointType): ProviderInstance {
    const config: BedrockConfig = {
      aws_config: { aws_access_key_id: 'AKIDEXAMPLE', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', aws_region: 'us-west-2' },
      bedrock_endpoint_url: up.url,
    };
    return def.create({ config, model: { name: modelName, provider: 'bedrock' }, endpoint: { name: 'e', endpoint_type }, http, logger: recordingLogger(), timeoutMs: 5000 });
  }

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';
  it.each<[string, string, (l: Limits) => unknown]>([
    ['chat', 'converse', (l) => inst(CLAUDE3, 'llm/v1/chat').chat!(chat(l), call())],
    ['chatStream', 'converse-stream', (l) => inst(CLAUDE3, 'llm/v1/chat').chatStream!(chat(l), call())],
  ])('%s (Converse)', async (_name, action, run) => {
    const only = await sent(() => run(ONLY));
    expect(only.path).toBe(`/model/${CLAUDE3}/${action}`);
    expectFolded(only.body, converseMax, 7);
    expectFolded((await sent(() => run(BOTH))).body, converseMax, 5);
  });

  it.each(Object.keys(FAMILY_FIELD) as Family[])('completions (InvokeModel), %s family', async (family) => {
    const run = (l: Limits) => inst(FAMILY_MODEL[family], 'llm/v1/completions').completions!(cmpl(l), call());
    const only = await sent(() => run(ONLY));
    expect(only.path).toBe(`/model/${FAMILY_MODEL[family]}/invoke`);
    expectFolded(only.body, FAMILY_FIELD[family], 7);
    expectFolded((await sent(() => run(BOTH))).body, FAMILY_FIELD[family], 5);
  });
});
