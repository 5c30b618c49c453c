/**
 * Newer OpenAI SDK clients send `max_completion_tokens`. Every provider must pass it upstream as
 * its own max-tokens field (when there is no `max_tokens`; `max_tokens` wins when both are given)
 * and never send the key itself: most upstreams refuse unknown fields. `defineProvider` folds it
 * for every provider that does not accept it (all but OpenAI's), so this is checked on each
 * capability's upstream request, not in the transforms. PaLM chat has no limit, so it refuses the
 * value (422) as it refuses `max_tokens`. The mock honours it by cutting its reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type ChatRequest, type CompletionsRequest, type EndpointType, type HttpClient, type ProviderDefinition, type ProviderInstance } from '@gatehouse/sdk';
import { collect, createProviderInstance, rejection, startFakeUpstream, testCall as call, type FakeUpstream } from '@gatehouse/sdk/testing';
import ai21labs from '../plugins/provider-ai21labs/src/index.js';
import anthropic from '../plugins/provider-anthropic/src/index.js';
import bedrock from '../plugins/provider-bedrock/src/index.js';
import type { Family } from '../plugins/provider-bedrock/src/families.js';
import cohere from '../plugins/provider-cohere/src/index.js';
import gemini from '../plugins/provider-gemini/src/index.js';
import tgi from '../plugins/provider-huggingface-tgi/src/index.js';
import mistral from '../plugins/provider-mistral/src/index.js';
import mlflowServing from '../plugins/provider-mlflow-model-serving/src/index.js';
import mock from '../plugins/provider-mock/src/index.js';
import mosaicml from '../plugins/provider-mosaicml/src/index.js';
import palm from '../plugins/provider-palm/src/index.js';
import togetherai from '../plugins/provider-togetherai/src/index.js';

// ---- fixtures ----------------------------------------------------------------------------------

type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
/** Each request's limits and the max-tokens value the upstream must get. */
const CASES: Array<[Limits, number]> = [
  [{ max_completion_tokens: 7 }, 7],
  [{ max_tokens: null, max_completion_tokens: 7 }, 7],
  [{ max_tokens: 5, max_completion_tokens: 7 }, 5],
];
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;
/** Reads the provider's max-tokens field from an upstream body. */
type Field = (b: Body) => unknown;

function expectFolded(body: Body, field: Field, value: number) {
  expect(field(body)).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

// ---- the table ---------------------------------------------------------------------------------

type Cap = 'chat' | 'chatStream' | 'completions' | 'completionsStream';
interface Wire {
  cap: Cap;
  /** The upstream path the call must reach; absent for a call refused before any request. */
  path?: string;
  model?: string;
  field?: Field;
  /** The call fails with this status and message, and sends nothing. */
  refused?: { status: number; message: string };
}
interface Row {
  provider: string;
  field: Field;
  /** An instance whose upstream is the fake one at `url`. */
  instance(url: string, endpointType: EndpointType, model?: string): ProviderInstance;
  wire: Wire[];
}

let http: HttpClient;
/** Binds a definition and its config (pointed at the fake upstream) to a default model name. */
const maker = <C>(def: ProviderDefinition<C>, config: (url: string) => C, defaultModel: string) =>
  (url: string, endpointType: EndpointType, model = defaultModel): ProviderInstance =>
    createProviderInstance(def, { config: config(url), model, endpointType, http });

const BEDROCK_FAMILIES: Array<[Family, string, Field]> = [
  ['anthropic', 'anthropic.claude-v2:1', (b) => b.max_tokens_to_sample],
  ['amazon', 'amazon.titan-text-express-v1', (b) => b.textGenerationConfig?.maxTokenCount],
  ['ai21', 'ai21.j2-mid-v1', (b) => b.maxTokens],
  ['cohere', 'cohere.command-text-v14', (b) => b.max_tokens],
];
const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const generateMax: Field = (b) => b.parameters?.max_new_tokens;
const anthropicCompletionsMax: Field = (b) => b.max_tokens_to_sample;

const ROWS: Row[] = [
  {
    provider: 'ai21labs',
    field: (b) => b.maxTokens,
    instance: maker(ai21labs, (u) => ({ ai21labs_api_key: 'k', ai21labs_api_base: `${u}/studio/v1` }), 'j2-ultra'),
    wire: [{ cap: 'completions', path: '/studio/v1/j2-ultra/complete' }],
  },
  {
    provider: 'anthropic',
    field: (b) => b.max_tokens,
    instance: maker(anthropic, (u) => ({ anthropic_api_key: 'k', anthropic_api_base: `${u}/v1` }), 'claude-3'),
    wire: [
      { cap: 'chat', path: '/v1/messages' },
      { cap: 'chatStream', path: '/v1/messages' },
      { cap: 'completions', path: '/v1/complete', field: anthropicCompletionsMax },
    ],
  },
  {
    provider: 'bedrock',
    field: (b) => b.inferenceConfig?.maxTokens, // Converse
    instance: maker(bedrock, (u) => ({
      aws_config: { aws_access_key_id: 'AKIDEXAMPLE', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', aws_region: 'us-west-2' },
      bedrock_endpoint_url: u,
    }), CLAUDE3),
    wire: [
      { cap: 'chat', path: `/model/${CLAUDE3}/converse` },
      { cap: 'chatStream', path: `/model/${CLAUDE3}/converse-stream` },
      ...BEDROCK_FAMILIES.map(([, model, field]): Wire => ({ cap: 'completions', model, path: `/model/${model}/invoke`, field })),
    ],
  },
  {
    provider: 'cohere',
    field: (b) => b.max_tokens,
    instance: maker(cohere, (u) => ({ cohere_api_key: 'test-key', cohere_api_base: `${u}/v1` }), 'command'),
    wire: [
      { cap: 'chat', path: '/v1/chat' },
      { cap: 'chatStream', path: '/v1/chat' },
      { cap: 'completions', path: '/v1/generate' },
      { cap: 'completionsStream', path: '/v1/generate' },
    ],
  },
  {
    provider: 'gemini',
    field: (b) => b.generationConfig?.maxOutputTokens,
    instance: maker(gemini, (u) => ({ gemini_api_key: 'test-key', gemini_api_base: `${u}/v1beta/models` }), 'gemini-2.0-flash'),
    wire: [
      { cap: 'chat', path: '/v1beta/models/gemini-2.0-flash:generateContent' },
      { cap: 'chatStream', path: '/v1beta/models/gemini-2.0-flash:streamGenerateContent' },
      { cap: 'completions', path: '/v1beta/models/gemini-2.0-flash:generateContent' },
      { cap: 'completionsStream', path: '/v1beta/models/gemini-2.0-flash:streamGenerateContent' },
    ],
  },
  {
    provider: 'huggingface-tgi',
    field: (b) => b.max_tokens, // the Messages API
    instance: maker(tgi, (u) => ({ hf_server_url: u }), 'hf-tgi'),
    wire: [
      { cap: 'completions', path: '/generate', field: generateMax },
      { cap: 'completionsStream', path: '/generate_stream', field: generateMax },
      { cap: 'chat', path: '/v1/chat/completions' },
      { cap: 'chatStream', path: '/v1/chat/completions' },
    ],
  },
  {
    provider: 'mistral',
    field: (b) => b.max_tokens,
    instance: maker(mistral, (u) => ({ mistral_api_key: 'k', mistral_api_base: `${u}/v1` }), 'mistral-small'),
    wire: [
      { cap: 'chat', path: '/v1/chat/completions' },
      { cap: 'chatStream', path: '/v1/chat/completions' },
      { cap: 'completions', path: '/v1/chat/completions' },
    ],
  },
  {
    provider: 'mlflow-model-serving',
    field: (b) => b.params?.max_tokens,
    instance: maker(mlflowServing, (u) => ({ model_server_url: u }), 'm'),
    wire: [
      { cap: 'chat', path: '/invocations' },
      { cap: 'completions', path: '/invocations' },
    ],
  },
  {
    provider: 'mosaicml',
    field: (b) => b.parameters?.max_new_tokens,
    instance: maker(mosaicml, (u) => ({ mosaicml_api_key: 'test-key', mosaicml_api_base: u }), 'llama2-70b-chat'),
    wire: [
      { cap: 'chat', path: '/llama2-70b-chat/v1/predict' },
      { cap: 'completions', path: '/llama2-70b-chat/v1/predict' },
    ],
  },
  {
    provider: 'palm',
    field: (b) => b.maxOutputTokens,
    instance: maker(palm, (u) => ({ palm_api_key: 'test-key', palm_api_base: `${u}/v1beta3/models/` }), 'text-bison-001'),
    wire: [
      { cap: 'completions', path: '/v1beta3/models/text-bison-001:generateText' },
      { cap: 'chat', model: 'chat-bison-001', refused: { status: 422, message: 'Max tokens is not supported for PaLM chat.' } },
    ],
  },
  {
    provider: 'togetherai',
    field: (b) => b.max_tokens,
    instance: maker(togetherai, (u) => ({ togetherai_api_key: 'k', togetherai_api_base: `${u}/v1` }), 'm'),
    wire: [
      { cap: 'chat', path: '/v1/chat/completions' },
      { cap: 'chatStream', path: '/v1/chat/completions' },
      { cap: 'completions', path: '/v1/completions' },
      { cap: 'completionsStream', path: '/v1/completions' },
    ],
  },
];

// ---- the checks --------------------------------------------------------------------------------

const isChat = (cap: Cap): cap is 'chat' | 'chatStream' => cap.startsWith('chat');
/** Calls one capability of an instance with a request carrying the limits. */
const invoke = (p: ProviderInstance, cap: Cap, l: Limits): unknown =>
  isChat(cap) ? p[cap]!(chat(l), call()) : p[cap]!(cmpl(l), call());

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); http = createHttpClient(); });
afterAll(async () => { await up.close(); await http.close(); });

/** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
  up.reset();
  await rejection(run);
  expect(up.requests).toHaveLength(1);
  return { path: up.last().pathname, body: up.last().json };
}

describe.each(ROWS.map((r) => [r.provider, r] as const))('max_completion_tokens: %s', (_provider, row) => {
  it.each(row.wire.map((w) => [`${w.cap}${w.model ? ` (${w.model})` : ''} on the wire`, w] as const))('%s', async (_name, w) => {
    const run = (l: Limits) => () => invoke(row.instance(up.url, isChat(w.cap) ? 'llm/v1/chat' : 'llm/v1/completions', w.model), w.cap, l);
    for (const [limits, value] of CASES) {
      if (w.refused !== undefined) {
        up.reset();
        const e = await rejection(run(limits));
        expect([e.status, e.message]).toEqual([w.refused.status, w.refused.message]);
        expect(up.requests).toHaveLength(0);
        continue;
      }
      const req = await sent(run(limits));
      expect(req.path).toBe(w.path);
      expectFolded(req.body, w.field ?? row.field, value);
    }
    // A null limit is absent: a call that refuses any limit goes through, without the key.
    if (w.refused !== undefined) expect(JSON.stringify((await sent(run({ max_completion_tokens: null }))).body)).not.toContain('max_completion_tokens');
  });
});

// ---- the mock: no upstream, so its answer shows the limit ---------------------------------------

describe('max_completion_tokens: mock', () => {
  const REPLY = 'one two three four five six seven eight nine ten';
  const words = (n: number) => REPLY.split(' ').slice(0, n).join(' ');
  type Answer = { text: string; finish: string | null; completion: number | null };

  /** The mock's reply text, finish_reason and completion-token count for one capability. */
  async function answer(cap: Cap, l: Limits): Promise<Answer> {
    const p = createProviderInstance(mock, { config: { reply: REPLY, chunk_delay_ms: 0 }, model: 'm' });
    if (cap === 'chat') {
      const r = await p.chat!(chat(l), call());
      return { text: r.choices[0]!.message.content as string, finish: r.choices[0]!.finish_reason, completion: r.usage.completion_tokens };
    }
    if (cap === 'completions') {
      const r = await p.completions!(cmpl(l), call());
      return { text: r.choices[0]!.text, finish: r.choices[0]!.finish_reason, completion: r.usage.completion_tokens };
    }
    const chunks = cap === 'chatStream'
      ? (await collect(p.chatStream!(chat(l), call()))).map((c) => ({ text: c.choices[0]?.delta.content ?? '', finish: c.choices[0]?.finish_reason, usage: c.usage }))
      : (await collect(p.completionsStream!(cmpl(l), call()))).map((c) => ({ text: c.choices[0]?.text ?? '', finish: c.choices[0]?.finish_reason, usage: c.usage }));
    return {
      text: chunks.map((c) => c.text).join(''),
      finish: chunks.map((c) => c.finish).find((f) => f) ?? null,
      completion: chunks[chunks.length - 1]!.usage?.completion_tokens ?? null,
    };
  }

  it.each<Cap>(['chat', 'chatStream', 'completions', 'completionsStream'])('%s: cuts the reply like max_tokens; max_tokens wins when both are given', async (cap) => {
    for (const [limits, value] of CASES) expect(await answer(cap, limits)).toEqual({ text: words(value), finish: 'length', completion: value });
    // Same as max_tokens: a limit above the reply's length leaves it whole.
    expect(await answer(cap, { max_completion_tokens: 50 })).toEqual({ text: REPLY, finish: 'stop', completion: 10 });
  });
});
