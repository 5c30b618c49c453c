import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type ChatRequest, type HttpClient } from '@gatehouse/sdk';
import { checkProvider, collect, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { call, fixture, makeInstance, newHttp, rejection, text } from './helpers.js';

const CFG = 'mistralai/Mixtral-8x7B-Instruct-v0.1';
let up: FakeUpstream;
let http: HttpClient;
const config = () => ({ togetherai_api_key: 'tg-key', togetherai_api_base: `${up.url}/v1` });
const chatReq: ChatRequest = { messages: [{ role: 'user', content: "Who's the protagonist in Metro 2033?" }], max_tokens: 200, temperature: 1, n: 1 };

beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
afterAll(async () => { await up.close(); await http.close(); });
afterEach(() => { up.reset(); });

describe('togetherai provider definition', () => {
  it('passes the conformance checks, allows the model field, has all five capabilities', () => {
    expect(checkProvider(def, 'togetherai')).toEqual([]);
    expect(def.displayName).toBe('TogetherAI');
    expect(def.allowModelField).toBe(true);
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
    for (const m of ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'] as const) expect(typeof inst[m]).toBe('function');
  });
});

describe('togetherai provider against a fake upstream', () => {
  it('chat: POST /v1/chat/completions with Bearer key and {model, ...payload}', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
    const out = await inst.chat!(chatReq, call());
    expect(up.last().headers.authorization).toBe('Bearer tg-key');
    expect(up.last().json).toEqual({ model: CFG, messages: chatReq.messages, max_tokens: 200, temperature: 1, n: 1 });
    expect(out).toEqual(fixture('chat.response.json'));
  });

  it('chat with a client model: sent upstream, response still reports the configured model (MLflow)', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
    const out = await inst.chat!({ ...chatReq, model: 'meta-llama/Llama-3-8b-chat-hf' }, call());
    expect(up.last().json.model).toBe('meta-llama/Llama-3-8b-chat-hf');
    expect(out.model).toBe(CFG);
  });

  for (const splitEvery of [1, 3, 4, 7]) {
    it(`chat stream: real TogetherAI SSE split every ${splitEvery} bytes; content from delta.content`, async () => {
      up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery });
      const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
      const chunks = await collect(inst.chatStream!({ ...chatReq, stream: true }, call()));
      expect(chunks).toEqual(fixture('chat-stream.chunks.json'));
      expect(up.last().json.stream).toBe(true);
    });
  }

  it('completions: POST /v1/completions, top_logprobs → logprobs', async () => {
    up.on('POST /v1/completions', { json: fixture('completions.upstream-response.json') });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/completions');
    const out = await inst.completions!(fixture('completions.request.json'), call());
    expect(up.last().json).toEqual(fixture('completions.upstream-request.json'));
    expect(out).toEqual(fixture('completions.response.json'));
  });

  for (const splitAt of [[1, 2, 3, 4, 5, 6], [30, 31, 250, 251, 252, 500]]) {
    it(`completions stream: real TogetherAI SSE split at ${splitAt.join(',')}`, async () => {
      up.on('POST /v1/completions', { raw: text('completions-stream.upstream.sse'), contentType: 'text/event-stream', splitAt });
      const inst = makeInstance(def, http, config(), CFG, 'llm/v1/completions');
      const chunks = await collect(inst.completionsStream!({ prompt: 'This is a test', max_tokens: 200, temperature: 1, n: 1, stream: true }, call()));
      expect(chunks).toEqual(fixture('completions-stream.chunks.json'));
      expect(up.last().json).toEqual({ model: CFG, prompt: 'This is a test', max_tokens: 200, temperature: 1, n: 1, stream: true });
    });
  }

  it('completions stream without max_tokens fails when requested, before any upstream call', () => {
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/completions');
    let err: any;
    try { inst.completionsStream!({ prompt: 'p', temperature: 0, n: 1, stream: true }, call()); } catch (e) { err = e; }
    expect(err?.status).toBe(422);
    expect(up.requests).toHaveLength(0);
  });

  it('embeddings: POST /v1/embeddings with model', async () => {
    up.on('POST /v1/embeddings', { json: fixture('embeddings.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'togethercomputer/m2-bert-80M-8k-retrieval', 'llm/v1/embeddings');
    const out = await inst.embeddings!({ input: 'Our solar system orbits the Milky Way galaxy at about 515,000 mph.' }, call());
    expect(up.last().json).toEqual({ model: 'togethercomputer/m2-bert-80M-8k-retrieval', input: 'Our solar system orbits the Milky Way galaxy at about 515,000 mph.' });
    expect(out).toEqual(fixture('embeddings.response.json'));
  });

  it('upstream 400 keeps its status with error.message as detail', async () => {
    up.on('POST /v1/completions', { status: 400, json: fixture('error-400.upstream.json') });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', max_tokens: 50000, temperature: 0, n: 1 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(400);
    expect(e.detail).toBe(fixture('error-400.upstream.json').error.message);
  });

  it('upstream 500 keeps its status', async () => {
    up.on('POST /v1/chat/completions', { status: 500, json: { error: { message: 'Internal server error', type: 'server_error' } } });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
    const e = await rejection(inst.chat!(chatReq, call()));
    expect(e.status).toBe(500);
    expect(e.detail).toBe('Internal server error');
  });

  it('an error event inside a stream throws a GatewayError after the chunks before it', async () => {
    const sse = text('chat-stream.upstream.sse').split('\n\n')[0] + '\n\n' + 'data: {"error":{"message":"model crashed","type":"server_error"}}\n\n';
    up.on('POST /v1/chat/completions', { raw: sse, contentType: 'text/event-stream' });
    const inst = makeInstance(def, http, config(), CFG, 'llm/v1/chat');
    const seen: unknown[] = [];
    const e = await rejection((async () => { for await (const c of inst.chatStream!({ ...chatReq, stream: true }, call())) seen.push(c); })());
    expect(seen).toHaveLength(1);
    expect(isGatewayError(e)).toBe(true);
    expect(e.message).toBe('model crashed');
  });
});
