import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type ChatRequest, type HttpClient } from '@gatehouse/sdk';
import { checkProvider, collect, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { call, fixture, makeInstance, newHttp, rejection, text } from './helpers.js';

let up: FakeUpstream;
let http: HttpClient;
const config = () => ({ mistral_api_key: 'sk-test', mistral_api_base: `${up.url}/v1` });
const chatReq: ChatRequest = { messages: [{ role: 'user', content: 'What is the weather in Paris?' }], temperature: 0.7, n: 1, tools: null };

beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
afterAll(async () => { await up.close(); await http.close(); });
afterEach(() => { up.reset(); vi.restoreAllMocks(); });

describe('mistral provider definition', () => {
  it('passes the conformance checks and matches the manifest', () => {
    expect(checkProvider(def, 'mistral')).toEqual([]);
    expect(def.displayName).toBe('Mistral');
    expect(def.allowModelField).toBe(false);
  });

  it('has chat, chat stream, completions and embeddings; completions stream is absent (501)', () => {
    const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
    expect(typeof inst.chat).toBe('function');
    expect(typeof inst.chatStream).toBe('function');
    expect(typeof inst.completions).toBe('function');
    expect(typeof inst.embeddings).toBe('function');
    expect(inst.completionsStream).toBeUndefined();
  });
});

describe('mistral provider against a fake upstream', () => {
  it('chat: POST /v1/chat/completions with Bearer key, model from config, temperature not scaled', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
    const out = await inst.chat!(chatReq, call());
    const r = up.last();
    expect(r.headers.authorization).toBe('Bearer sk-test');
    expect(r.json).toEqual({ model: 'mistral-large-latest', messages: chatReq.messages, temperature: 0.7, n: 1 });
    expect(out).toEqual(fixture('chat.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('chat.response.json')));
  });

  for (const splitEvery of [1, 2, 3, 5, 7]) {
    it(`chat stream: real Mistral SSE split every ${splitEvery} bytes`, async () => {
      up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery });
      const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
      const chunks = await collect(inst.chatStream!({ ...chatReq, stream: true }, call()));
      expect(chunks).toEqual(fixture('chat-stream.chunks.json'));
      const body = up.last().json;
      expect(body.stream).toBe(true);
      expect(body).not.toHaveProperty('stream_options');
      expect(body.model).toBe('mistral-large-latest');
    });
  }

  it('chat stream: split at awkward offsets (inside "data:", inside a UTF-8 character)', async () => {
    const raw = text('chat-stream.upstream.sse');
    const bytes = Buffer.from(raw);
    const emoji = bytes.indexOf(Buffer.from('🙂'));
    up.on('POST /v1/chat/completions', { raw, contentType: 'text/event-stream', splitAt: [2, 5, 200, 201, emoji + 1, emoji + 3] });
    const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
    expect(await collect(inst.chatStream!({ ...chatReq, stream: true }, call()))).toEqual(fixture('chat-stream.chunks.json'));
  });

  it('completions: POST /v1/chat/completions with the MLflow mapping', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    up.on('POST /v1/chat/completions', { json: fixture('completions.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'mistral-tiny', 'llm/v1/completions');
    const out = await inst.completions!(fixture('completions.request.json'), call());
    expect(up.last().pathname).toBe('/v1/chat/completions');
    expect(up.last().headers.authorization).toBe('Bearer sk-test');
    expect(up.last().json).toEqual(fixture('completions.upstream-request.json'));
    expect(out).toEqual(fixture('completions.response.json'));
  });

  it('embeddings: POST /v1/embeddings with model from config', async () => {
    up.on('POST /v1/embeddings', { json: fixture('embeddings.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'mistral-embed', 'llm/v1/embeddings');
    const out = await inst.embeddings!({ input: ['a', 'b'] }, call());
    expect(up.last().json).toEqual({ model: 'mistral-embed', input: ['a', 'b'] });
    expect(out).toEqual(fixture('embeddings.response.json'));
  });

  it('default base URL is https://api.mistral.ai/v1', async () => {
    const seen: string[] = [];
    const fakeHttp = { json: async (r: { url: string }) => { seen.push(r.url); return fixture('embeddings.upstream-response.json'); } } as unknown as HttpClient;
    const inst = makeInstance(def, fakeHttp, { mistral_api_key: 'k' }, 'mistral-embed', 'llm/v1/embeddings');
    await inst.embeddings!({ input: 'x' }, call());
    expect(seen).toEqual(['https://api.mistral.ai/v1/embeddings']);
  });

  it('upstream 422 keeps its status; detail is the upstream JSON (no `error` key), like MLflow', async () => {
    up.on('POST /v1/chat/completions', { status: 422, json: fixture('error-422.upstream.json') });
    const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
    const e = await rejection(inst.chat!(chatReq, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.detail).toEqual(fixture('error-422.upstream.json'));
  });

  it('upstream 503 keeps its status (text/plain → {message})', async () => {
    up.on('POST /v1/embeddings', { status: 503, text: 'upstream connect error' });
    const inst = makeInstance(def, http, config(), 'mistral-embed', 'llm/v1/embeddings');
    const e = await rejection(inst.embeddings!({ input: 'x' }, call()));
    expect(e.status).toBe(503);
    expect(e.detail).toEqual({ message: 'upstream connect error' });
  });

  it('chat stream: an upstream 401 before the stream starts is a GatewayError with status 401', async () => {
    up.on('POST /v1/chat/completions', { status: 401, json: { message: 'Unauthorized', request_id: 'abc' } });
    const inst = makeInstance(def, http, config(), 'mistral-large-latest', 'llm/v1/chat');
    const e = await rejection(collect(inst.chatStream!({ ...chatReq, stream: true }, call())));
    expect(e.status).toBe(401);
  });
});
