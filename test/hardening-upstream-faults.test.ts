/**
 * Issue 12 items 5–7, per provider, against the sdk's fake upstream speaking each provider's real
 * wire format: a stream that ends cleanly before it is complete is a 502
 * GW_ERR_UPSTREAM_TRUNCATED; a 200 with an empty body a 502 GW_ERR_UPSTREAM_EMPTY (stream and JSON
 * routes); a stream request answered with text/html a 502 naming the content type; and one
 * answered with a whole JSON answer is replayed as chunks (the documented decision).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type Capability, type ProviderDefinition } from '@gatehouse/sdk';
import { createProviderInstance, startFakeUpstream, type FakeResponse, type FakeUpstream } from '@gatehouse/sdk/testing';
import openai from '../plugins/provider-openai/src/index.js';
import mistral from '../plugins/provider-mistral/src/index.js';
import togetherai from '../plugins/provider-togetherai/src/index.js';
import tgi from '../plugins/provider-huggingface-tgi/src/index.js';
import anthropic from '../plugins/provider-anthropic/src/index.js';
import gemini from '../plugins/provider-gemini/src/index.js';
import cohere from '../plugins/provider-cohere/src/index.js';
import bedrock from '../plugins/provider-bedrock/src/index.js';
import ai21labs from '../plugins/provider-ai21labs/src/index.js';
import mlflowServing from '../plugins/provider-mlflow-model-serving/src/index.js';
import mosaicml from '../plugins/provider-mosaicml/src/index.js';
import palm from '../plugins/provider-palm/src/index.js';
import { encodeMessage } from '../plugins/provider-bedrock/src/eventstream.js';

type StreamCap = 'chatStream' | 'completionsStream';
type JsonCap = 'chat' | 'completions' | 'embeddings';

interface StreamCase {
  cap: StreamCap;
  route: string;
  model?: string;
  request?: Record<string, unknown>;
  /** A complete stream whose text is "Hello". */
  complete: FakeResponse;
  /** The same stream, ended cleanly before its final event. */
  truncated: FakeResponse;
  /** The content type of an empty stream answer. */
  contentType: string;
  /** A whole JSON answer (the provider's non-stream format) whose text is "Hello". */
  json: unknown;
}

interface Target {
  def: ProviderDefinition;
  config(url: string): Record<string, unknown>;
  model: string;
  streams: StreamCase[];
  json: Array<{ cap: JsonCap; route: string; model?: string; request?: Record<string, unknown> }>;
}

const sse = (events: unknown[]) => ({ sse: events });
const namedSse = (events: Array<[string, unknown]>) => events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join('');
const ndjson = (lines: unknown[]) => lines.map((l) => JSON.stringify(l) + '\n').join('');

// OpenAI wire format (OpenAI, Mistral, TogetherAI, TGI's Messages API).
const oaChat = (delta: Record<string, unknown>, finish: string | null = null) =>
  ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
const oaChatEvents = [oaChat({ role: 'assistant', content: 'Hel' }), oaChat({ content: 'lo' }), oaChat({}, 'stop')];
const oaChatJson = { id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
const oaCmpl = (text: string, finish: string | null = null) => ({ id: 'x1', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text, finish_reason: finish }] });
const oaCmplEvents = [oaCmpl('Hel'), oaCmpl('lo'), oaCmpl('', 'stop')];
const oaCmplJson = { id: 'x1', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: 'Hello', finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
const oaChatStream = (route: string, model?: string): StreamCase => ({
  cap: 'chatStream', route, model, complete: sse([...oaChatEvents, '[DONE]']), truncated: sse(oaChatEvents.slice(0, 2)), contentType: 'text/event-stream', json: oaChatJson,
});
const oaCmplStream = (route: string, request?: Record<string, unknown>): StreamCase => ({
  cap: 'completionsStream', route, request, complete: sse([...oaCmplEvents, '[DONE]']), truncated: sse(oaCmplEvents.slice(0, 2)), contentType: 'text/event-stream', json: oaCmplJson,
});

// Anthropic Messages API.
const anthropicEvents: Array<[string, unknown]> = [
  ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], usage: { input_tokens: 1, output_tokens: 0 } } }],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }],
  ['message_stop', { type: 'message_stop' }],
];

// Gemini generateContent / streamGenerateContent?alt=sse.
const gemEvent = (text: string, finish?: string) => ({
  candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0, ...(finish ? { finishReason: finish } : {}) }],
  ...(finish ? { usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2, totalTokenCount: 3 } } : {}),
});
const gemJson = { candidates: [{ content: { parts: [{ text: 'Hello' }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2, totalTokenCount: 3 } };

// Cohere v1 NDJSON.
const cohereChatLines = [
  { is_finished: false, event_type: 'stream-start', generation_id: 'g' },
  { is_finished: false, event_type: 'text-generation', text: 'Hel' },
  { is_finished: false, event_type: 'text-generation', text: 'lo' },
  { is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: { response_id: 'r', text: 'Hello', generation_id: 'g', meta: { tokens: { input_tokens: 1, output_tokens: 2 } } } },
];
const cohereGenLines = [
  { is_finished: false, event_type: 'text-generation', text: 'Hel' },
  { is_finished: false, event_type: 'text-generation', text: 'lo' },
  { is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: { id: 'x', generations: [{ id: 'g', text: 'Hello', finish_reason: 'COMPLETE' }] } },
];
const COHERE_STREAM = 'application/stream+json';

// TGI /generate_stream.
const tgiToken = (id: number, text: string, last = false) => ({
  index: id, token: { id, text, logprob: -0.1, special: last }, generated_text: last ? 'Hello' : null,
  details: last ? { finish_reason: 'eos_token', generated_tokens: 2, seed: null } : null,
});
const tgiGenEvents = [tgiToken(1, 'Hel'), tgiToken(2, 'lo'), tgiToken(3, '</s>', true)];

// Bedrock ConverseStream (binary AWS event stream).
const ES = 'application/vnd.amazon.eventstream';
const frames = (events: Array<[string, unknown]>) =>
  Buffer.concat(events.map(([type, payload]) => encodeMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload)));
const converseEvents: Array<[string, unknown]> = [
  ['messageStart', { role: 'assistant' }],
  ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }],
  ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo' } }],
  ['contentBlockStop', { contentBlockIndex: 0 }],
  ['messageStop', { stopReason: 'end_turn' }],
  ['metadata', { usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, metrics: { latencyMs: 5 } }],
];
const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';

const TARGETS: Target[] = [
  {
    def: openai, model: 'gpt-4o-mini', config: (url) => ({ openai_api_key: 'sk-fault-test', openai_api_base: `${url}/v1` }),
    streams: [oaChatStream('POST /v1/chat/completions'), oaCmplStream('POST /v1/completions')],
    json: [{ cap: 'chat', route: 'POST /v1/chat/completions' }, { cap: 'completions', route: 'POST /v1/completions' }, { cap: 'embeddings', route: 'POST /v1/embeddings' }],
  },
  {
    def: mistral, model: 'mistral-small', config: (url) => ({ mistral_api_key: 'mk-fault-test', mistral_api_base: `${url}/v1` }),
    streams: [oaChatStream('POST /v1/chat/completions')],
    json: [{ cap: 'chat', route: 'POST /v1/chat/completions' }, { cap: 'completions', route: 'POST /v1/chat/completions' }, { cap: 'embeddings', route: 'POST /v1/embeddings' }],
  },
  {
    def: togetherai, model: 'mixtral', config: (url) => ({ togetherai_api_key: 'tg-fault-test', togetherai_api_base: `${url}/v1` }),
    streams: [oaChatStream('POST /v1/chat/completions'), oaCmplStream('POST /v1/completions', { prompt: 'Hi', max_tokens: 5, stream: true })],
    json: [{ cap: 'chat', route: 'POST /v1/chat/completions' }, { cap: 'completions', route: 'POST /v1/completions', request: { prompt: 'Hi', max_tokens: 5 } }, { cap: 'embeddings', route: 'POST /v1/embeddings' }],
  },
  {
    def: tgi, model: 'tgi', config: (url) => ({ hf_server_url: url }),
    streams: [
      oaChatStream('POST /v1/chat/completions'),
      {
        cap: 'completionsStream', route: 'POST /generate_stream', complete: sse(tgiGenEvents), truncated: sse(tgiGenEvents.slice(0, 2)), contentType: 'text/event-stream',
        json: { generated_text: 'Hello', details: { finish_reason: 'eos_token', generated_tokens: 2 } },
      },
    ],
    json: [{ cap: 'chat', route: 'POST /v1/chat/completions' }, { cap: 'completions', route: 'POST /generate' }],
  },
  {
    def: anthropic, model: 'claude-3-haiku', config: (url) => ({ anthropic_api_key: 'ak-fault-test', anthropic_api_base: `${url}/v1` }),
    streams: [{
      cap: 'chatStream', route: 'POST /v1/messages', contentType: 'text/event-stream',
      complete: { raw: namedSse(anthropicEvents), contentType: 'text/event-stream' },
      truncated: { raw: namedSse(anthropicEvents.slice(0, 5)), contentType: 'text/event-stream' },
      json: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 2 } },
    }],
    json: [{ cap: 'chat', route: 'POST /v1/messages' }, { cap: 'completions', route: 'POST /v1/complete' }],
  },
  {
    def: gemini, model: 'gemini-x', config: (url) => ({ gemini_api_key: 'gk-fault-test', gemini_api_base: `${url}/v1beta/models` }),
    streams: (['chatStream', 'completionsStream'] as const).map((cap) => ({
      cap, route: 'POST /v1beta/models/gemini-x:streamGenerateContent', contentType: 'text/event-stream',
      complete: sse([gemEvent('Hel'), gemEvent('lo', 'STOP')]), truncated: sse([gemEvent('Hel'), gemEvent('lo')]), json: gemJson,
    })),
    json: [{ cap: 'chat', route: 'POST /v1beta/models/gemini-x:generateContent' }, { cap: 'completions', route: 'POST /v1beta/models/gemini-x:generateContent' }, { cap: 'embeddings', route: 'POST /v1beta/models/gemini-x:embedContent', request: { input: 'x' } }],
  },
  {
    def: cohere, model: 'command', config: (url) => ({ cohere_api_key: 'ck-fault-test', cohere_api_base: `${url}/v1` }),
    streams: [
      {
        cap: 'chatStream', route: 'POST /v1/chat', contentType: COHERE_STREAM,
        complete: { raw: ndjson(cohereChatLines), contentType: COHERE_STREAM }, truncated: { raw: ndjson(cohereChatLines.slice(0, 3)), contentType: COHERE_STREAM },
        json: { response_id: 'r', text: 'Hello', generation_id: 'g', finish_reason: 'COMPLETE' },
      },
      {
        cap: 'completionsStream', route: 'POST /v1/generate', contentType: COHERE_STREAM,
        complete: { raw: ndjson(cohereGenLines), contentType: COHERE_STREAM }, truncated: { raw: ndjson(cohereGenLines.slice(0, 2)), contentType: COHERE_STREAM },
        json: { id: 'x', generations: [{ id: 'g', text: 'Hello', finish_reason: 'COMPLETE' }] },
      },
    ],
    json: [{ cap: 'chat', route: 'POST /v1/chat' }, { cap: 'completions', route: 'POST /v1/generate' }, { cap: 'embeddings', route: 'POST /v1/embed' }],
  },
  {
    def: bedrock, model: CLAUDE3,
    config: (url) => ({ aws_config: { aws_access_key_id: 'AKIDFAULTTEST', aws_secret_access_key: 'fault-test-secret-key', aws_region: 'us-west-2' }, bedrock_endpoint_url: url }),
    streams: [{
      cap: 'chatStream', route: `POST /model/${CLAUDE3}/converse-stream`, contentType: ES,
      complete: { raw: frames(converseEvents), contentType: ES }, truncated: { raw: frames(converseEvents.slice(0, 4)), contentType: ES },
      json: { output: { message: { role: 'assistant', content: [{ text: 'Hello' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } },
    }],
    json: [{ cap: 'chat', route: `POST /model/${CLAUDE3}/converse` }, { cap: 'completions', route: 'POST /model/anthropic.claude-v2/invoke', model: 'anthropic.claude-v2' }],
  },
  { def: ai21labs, model: 'j2-ultra', config: (url) => ({ ai21labs_api_key: 'a21-fault-test', ai21labs_api_base: `${url}/studio/v1` }), streams: [], json: [{ cap: 'completions', route: 'POST /studio/v1/j2-ultra/complete' }] },
  {
    def: mlflowServing, model: 'served', config: (url) => ({ model_server_url: url }), streams: [],
    json: [{ cap: 'chat', route: 'POST /invocations' }, { cap: 'completions', route: 'POST /invocations' }, { cap: 'embeddings', route: 'POST /invocations' }],
  },
  {
    def: mosaicml, model: 'llama2-70b-chat', config: (url) => ({ mosaicml_api_key: 'mm-fault-test', mosaicml_api_base: url }), streams: [],
    json: [{ cap: 'chat', route: 'POST /llama2-70b-chat/v1/predict' }, { cap: 'completions', route: 'POST /llama2-70b-chat/v1/predict' }, { cap: 'embeddings', route: 'POST /llama2-70b-chat/v1/predict' }],
  },
  {
    def: palm, model: 'chat-bison-001', config: (url) => ({ palm_api_key: 'pk-fault-test', palm_api_base: `${url}/v1beta3/models` }), streams: [],
    json: [{ cap: 'chat', route: 'POST /v1beta3/models/chat-bison-001:generateMessage' }, { cap: 'completions', route: 'POST /v1beta3/models/chat-bison-001:generateText' }, { cap: 'embeddings', route: 'POST /v1beta3/models/chat-bison-001:batchEmbedText' }],
  },
];

const TYPE = { chat: 'llm/v1/chat', chatStream: 'llm/v1/chat', completions: 'llm/v1/completions', completionsStream: 'llm/v1/completions', embeddings: 'llm/v1/embeddings' } as const;
const REQUEST: Record<Capability, Record<string, unknown>> = {
  chat: { messages: [{ role: 'user', content: 'Hi' }] },
  chatStream: { messages: [{ role: 'user', content: 'Hi' }], stream: true },
  completions: { prompt: 'Hi' },
  completionsStream: { prompt: 'Hi', stream: true },
  embeddings: { input: ['x', 'y'] },
};

/** Drain a stream: the chunks it yielded and what it threw, if anything. */
async function drain(it: AsyncIterable<any>): Promise<{ chunks: any[]; error: any }> {
  const chunks: any[] = [];
  try { for await (const c of it) chunks.push(c); } catch (error) { return { chunks, error }; }
  return { chunks, error: undefined };
}
const textOf = (chunks: any[]) => chunks.flatMap((c) => c.choices.map((ch: any) => ch.delta?.content ?? ch.text ?? '')).join('');
const finishes = (chunks: any[]) => chunks.flatMap((c) => c.choices.map((ch: any) => ch.finish_reason)).filter((f) => f !== null);

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); });

for (const t of TARGETS) {
  describe(`${t.def.name}: upstream faults`, () => {
    const inst = (cap: Capability, model?: string) =>
      createProviderInstance(t.def, { config: t.config(up.url), model: model ?? t.model, endpointType: TYPE[cap] }) as Record<string, any>;
    const call = () => ({ signal: new AbortController().signal });

    for (const s of t.streams) {
      const open = (answer: FakeResponse) => {
        up.reset();
        up.on(s.route, answer);
        return drain(inst(s.cap, s.model)[s.cap](s.request ?? REQUEST[s.cap], call()));
      };

      it(`${s.cap}: a complete stream passes, text and finish reason intact`, async () => {
        const { chunks, error } = await open(s.complete);
        expect(error).toBeUndefined();
        expect(textOf(chunks)).toBe('Hello');
        expect(finishes(chunks).length).toBeGreaterThan(0);
      });

      it(`${s.cap}: a stream that ends cleanly before its final event is a 502 GW_ERR_UPSTREAM_TRUNCATED after the chunks that came`, async () => {
        const { chunks, error } = await open(s.truncated);
        expect(isGatewayError(error)).toBe(true);
        expect([error.code, error.status]).toEqual(['GW_ERR_UPSTREAM_TRUNCATED', 502]);
        expect(textOf(chunks)).toMatch(/^Hel/);
        expect(finishes(chunks)).toEqual([]);
      });

      it(`${s.cap}: a 200 with an empty body is a 502 GW_ERR_UPSTREAM_EMPTY before any chunk`, async () => {
        const { chunks, error } = await open({ status: 200, raw: '', contentType: s.contentType });
        expect([error?.code, error?.status]).toEqual(['GW_ERR_UPSTREAM_EMPTY', 502]);
        expect(chunks).toEqual([]);
      });

      it(`${s.cap}: a 200 text/html answer is a 502 naming the content type, before any chunk`, async () => {
        const { chunks, error } = await open({ status: 200, text: '<html><body>Bad gateway (proxy)</body></html>', contentType: 'text/html; charset=utf-8' });
        expect([error?.code, error?.status]).toEqual(['GW_ERR_UPSTREAM_CONTENT_TYPE', 502]);
        expect(error.message).toContain('text/html');
        expect(chunks).toEqual([]);
      });

      it(`${s.cap}: a whole JSON answer is replayed as chunks (role, text, finish reason)`, async () => {
        const { chunks, error } = await open({ json: s.json });
        expect(error).toBeUndefined();
        expect(textOf(chunks)).toBe('Hello');
        expect(finishes(chunks).length).toBe(1);
        const kind = s.cap === 'chatStream' ? 'chat.completion.chunk' : /^text_completion[._]chunk$/;
        for (const c of chunks) expect(c.object).toMatch(kind);
      });

      it(`${s.cap}: a JSON answer with an error field is a 502 carrying its message, not chunks`, async () => {
        const { chunks, error } = await open({ json: { error: { message: 'upstream overloaded', type: 'server_error' } } });
        expect(chunks).toEqual([]);
        expect(error?.status).toBe(502);
        expect(error.message).toBe('upstream overloaded');
      });
    }

    for (const j of t.json) {
      const send = (answer: FakeResponse) => {
        up.reset();
        up.on(j.route, answer);
        return inst(j.cap, j.model)[j.cap](j.request ?? REQUEST[j.cap], call()).then(() => undefined, (e: unknown) => e);
      };

      it(`${j.cap}: a 200 with an empty body is a 502 GW_ERR_UPSTREAM_EMPTY`, async () => {
        const e = await send({ status: 200, raw: '', contentType: 'application/json' });
        expect([e?.code, e?.status]).toEqual(['GW_ERR_UPSTREAM_EMPTY', 502]);
        expect(up.requests.length).toBe(1);
      });

      it(`${j.cap}: a 200 with only whitespace is a 502 GW_ERR_UPSTREAM_EMPTY too`, async () => {
        const e = await send({ status: 200, raw: ' \n', contentType: 'application/json' });
        expect(e?.code).toBe('GW_ERR_UPSTREAM_EMPTY');
      });

      it(`${j.cap}: a 200 text/html answer is a 502 naming the content type`, async () => {
        const e = await send({ status: 200, text: '<html>maintenance</html>', contentType: 'text/html' });
        expect([e?.code, e?.status]).toEqual(['GW_ERR_UPSTREAM_CONTENT_TYPE', 502]);
        expect(e.message).toContain('text/html');
      });
    }
  });
}

describe('OpenAI-shaped streams: what counts as complete', () => {
  const inst = () => createProviderInstance(openai, { config: { openai_api_key: 'sk-x', openai_api_base: `${up.url}/v1` }, model: 'm' });
  const run = async (answer: FakeResponse) => {
    up.reset();
    up.on('POST /v1/chat/completions', answer);
    return drain(inst().chatStream!({ messages: [{ role: 'user', content: 'Hi' }] }, { signal: new AbortController().signal }));
  };

  it('[DONE] without a finish reason is complete (the protocol\'s terminator)', async () => {
    expect((await run(sse([...oaChatEvents.slice(0, 2), '[DONE]']))).error).toBeUndefined();
  });

  it('a finish reason without [DONE] is complete (servers that omit [DONE])', async () => {
    expect((await run(sse(oaChatEvents))).error).toBeUndefined();
  });

  it('a stream of keep-alive comments only is empty, not a success', async () => {
    const { chunks, error } = await run({ raw: ': keep-alive\n\n: keep-alive\n\n', contentType: 'text/event-stream' });
    expect([error?.code, chunks.length]).toEqual(['GW_ERR_UPSTREAM_EMPTY', 0]);
  });

  it('a stream cut after the usage-less finish chunk but before [DONE] is still complete', async () => {
    const { chunks, error } = await run(sse([...oaChatEvents, { ...oaChat({}), choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }]));
    expect(error).toBeUndefined();
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });
});
