import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type ChatRequest, type HttpClient } from '@gatehouse/sdk';
import { checkProvider, collect, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { call, fixture, makeInstance, newHttp, rejection, text } from './helpers.js';

let up: FakeUpstream;
let http: HttpClient;
const config = () => ({ hf_server_url: up.url });
const chatReq: ChatRequest = { messages: [{ role: 'user', content: 'What is deep learning?' }], temperature: 0, n: 1, max_tokens: 20 };

beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
afterAll(async () => { await up.close(); await http.close(); });
afterEach(() => { up.reset(); vi.restoreAllMocks(); });

describe('TGI provider definition', () => {
  it('passes the conformance checks with MLflow display name', () => {
    expect(checkProvider(def, 'huggingface-text-generation-inference')).toEqual([]);
    expect(def.displayName).toBe('Hugging Face Text Generation Inference');
    expect(def.allowModelField).toBe(false);
  });

  it('has completions (+stream) and chat (+stream); embeddings are absent (501)', () => {
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    for (const m of ['chat', 'chatStream', 'completions', 'completionsStream'] as const) expect(typeof inst[m]).toBe('function');
    expect(inst.embeddings).toBeUndefined();
  });
});

describe('TGI provider against a fake upstream', () => {
  it('completions: POST <hf_server_url>/generate, Content-Type only, MLflow body', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    up.on('POST /generate', { json: fixture('generate.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    const out = await inst.completions!({ prompt: 'This is a test', n: 1, max_tokens: 1000, temperature: 0 }, call());
    const r = up.last();
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.authorization).toBeUndefined();
    expect(r.json).toEqual({ inputs: 'This is a test', parameters: { max_new_tokens: 1000, temperature: 0.001, details: true, decoder_input_details: true } });
    expect(out).toEqual(fixture('generate.response.json'));
  });

  it('a base URL with a path prefix is kept', async () => {
    up.on('POST /tgi/generate', { json: fixture('generate.upstream-response.json') });
    const inst = makeInstance(def, http, { hf_server_url: `${up.url}/tgi/` }, 'hf-tgi', 'llm/v1/completions');
    await inst.completions!({ prompt: 'p', n: 1, temperature: 0 }, call());
    expect(up.last().pathname).toBe('/tgi/generate');
  });

  for (const splitEvery of [1, 2, 5, 7]) {
    it(`completions stream: POST /generate_stream, TGI SSE split every ${splitEvery} bytes`, async () => {
      vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
      up.on('POST /generate_stream', { raw: text('generate-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery });
      const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
      const chunks = await collect(inst.completionsStream!({ prompt: 'What is', n: 1, max_tokens: 3, temperature: 0, stream: true }, call()));
      expect(chunks).toEqual(fixture('generate-stream.chunks.json'));
      expect(up.last().json).toEqual({ inputs: 'What is', parameters: { max_new_tokens: 3, temperature: 0.001, details: true } });
    });
  }

  it('completions stream: split inside the UTF-8 of "—"', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    const raw = text('generate-stream.upstream.sse');
    const at = Buffer.from(raw).indexOf(Buffer.from('—'));
    up.on('POST /generate_stream', { raw, contentType: 'text/event-stream', splitAt: [at + 1, at + 2, at + 150] });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    expect(await collect(inst.completionsStream!({ prompt: 'x', n: 1, temperature: 0, stream: true }, call()))).toEqual(fixture('generate-stream.chunks.json'));
  });

  it('completions stream: an error event after a token throws a GatewayError with TGI status', async () => {
    const raw = text('generate-stream.upstream.sse').split('\n\n')[0] + '\n\n' + 'data:{"error":"Request failed during generation: CUDA out of memory","error_type":"generation"}\n\n';
    up.on('POST /generate_stream', { raw, contentType: 'text/event-stream' });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    const seen: unknown[] = [];
    const e = await rejection((async () => { for await (const c of inst.completionsStream!({ prompt: 'x', n: 1, temperature: 0, stream: true }, call())) seen.push(c); })());
    expect(seen).toHaveLength(1);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(424);
    expect(e.message).toContain('CUDA out of memory');
  });

  it('completions stream with n=2 fails when requested, before any upstream call', () => {
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    let err: any;
    try { inst.completionsStream!({ prompt: 'p', n: 2, temperature: 0, stream: true }, call()); } catch (e) { err = e; }
    expect(err?.status).toBe(422);
    expect(up.requests).toHaveLength(0);
  });

  it('chat: POST /v1/chat/completions (Messages API)', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/chat');
    const out = await inst.chat!(chatReq, call());
    expect(up.last().json).toEqual({ model: 'hf-tgi', messages: chatReq.messages, temperature: 0, n: 1, max_tokens: 20 });
    expect(out).toEqual(fixture('chat.response.json'));
  });

  for (const splitEvery of [1, 3, 6]) {
    it(`chat stream: TGI SSE split every ${splitEvery} bytes, usage chunk kept`, async () => {
      up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery });
      const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/chat');
      const chunks = await collect(inst.chatStream!({ ...chatReq, stream: true }, call()));
      expect(chunks).toEqual(fixture('chat-stream.chunks.json'));
      expect(up.last().json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    });
  }

  it('upstream 422 (TGI validation error) keeps its status, error string as detail', async () => {
    up.on('POST /generate', { status: 422, json: fixture('error-422.upstream.json') });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', n: 1, temperature: 0 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.detail).toBe(fixture('error-422.upstream.json').error);
  });

  it('upstream 500 keeps its status', async () => {
    up.on('POST /v1/chat/completions', { status: 500, json: { error: 'Incomplete generation', error_type: 'incomplete_generation' } });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/chat');
    const e = await rejection(inst.chat!(chatReq, call()));
    expect(e.status).toBe(500);
    expect(e.detail).toBe('Incomplete generation');
  });

  it('chat stream: upstream 503 before the stream starts → GatewayError 503', async () => {
    up.on('POST /v1/chat/completions', { status: 503, text: 'Service Unavailable' });
    const inst = makeInstance(def, http, config(), 'hf-tgi', 'llm/v1/chat');
    const e = await rejection(collect(inst.chatStream!({ ...chatReq, stream: true }, call())));
    expect(e.status).toBe(503);
  });
});
