import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import { checkProvider, collect, rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import provider from '../src/index.js';
import { call, fixture, instance, text } from './helpers.js';

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); });

const at = <T>(seconds: number, fn: () => Promise<T>): Promise<T> => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(seconds * 1000);
  return fn().finally(() => vi.useRealTimers());
};

const NDJSON = 'application/stream+json';

describe('cohere provider definition', () => {
  it('passes the conformance checks and declares all five capabilities', () => {
    expect(checkProvider(provider, 'cohere')).toEqual([]);
    expect(provider.displayName).toBe('Cohere');
    expect(provider.capabilities).toEqual(['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings']);
    const schema = provider.configSchema as any;
    expect(schema.required).toEqual(['cohere_api_key']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(['cohere_api_key', 'cohere_api_base']);
    for (const p of Object.values<any>(schema.properties)) expect(p.description).toBeTruthy();
  });
});

describe('cohere provider against a fake upstream', () => {
  it('chat: POST /v1/chat with a Bearer key', async () => {
    const f = fixture('chat.json');
    up.on('POST /v1/chat', { json: f.upstreamResponse });
    const res = await at(1677858242, () => instance(up.url).chat!(f.request, call()));
    expect(JSON.stringify(res)).toBe(JSON.stringify(f.response));
    const r = up.last();
    expect(r.pathname).toBe('/v1/chat');
    expect(r.headers.authorization).toBe('Bearer test-key');
    expect(r.json).toEqual(f.upstreamBody);
  });

  it('chatStream: NDJSON split at awkward byte boundaries', async () => {
    const f = fixture('chat.json');
    const expected = fixture('chat-stream-chunks.json');
    for (const split of [1, 2, 3, 5, 7]) {
      up.on('POST /v1/chat', { raw: text('chat-stream.ndjson'), contentType: NDJSON, splitEvery: split });
      const chunks = await at(1677858242, () => collect(instance(up.url).chatStream!({ ...f.request, stream: true }, call())));
      expect(chunks).toEqual(expected);
      expect(up.last().json).toEqual({ ...f.upstreamBody, stream: true });
    }
  });

  it('completions: POST /v1/generate', async () => {
    const f = fixture('completions.json');
    up.on('POST /v1/generate', { json: f.upstreamResponse });
    const res = await at(1677858242, () => instance(up.url, 'llm/v1/completions').completions!(f.request, call()));
    expect(res).toEqual(f.response);
    expect(up.last().json).toEqual(f.upstreamBody);
    expect(up.last().headers.authorization).toBe('Bearer test-key');
  });

  it('completionsStream: NDJSON split at awkward byte boundaries', async () => {
    const expected = fixture('completions-stream-chunks.json');
    for (const split of [1, 4, 6]) {
      up.on('POST /v1/generate', { raw: text('completions-stream.ndjson'), contentType: NDJSON, splitEvery: split });
      const req = { prompt: 'This is a test', temperature: 0, n: 1, stream: true } as CompletionsRequest;
      const chunks = await at(1677858242, () => collect(instance(up.url, 'llm/v1/completions').completionsStream!(req, call())));
      expect(chunks).toEqual(expected);
      expect(up.last().json).toEqual({ model: 'command', prompt: 'This is a test', temperature: 0, num_generations: 1, stream: true });
    }
  });

  it('embeddings: POST /v1/embed', async () => {
    const f = fixture('embeddings.json');
    up.on('POST /v1/embed', { json: f.upstreamResponse });
    const res = await instance(up.url, 'llm/v1/embeddings', 'embed-english-light-v2.0').embeddings!(f.request, call());
    expect(res).toEqual(f.response);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('maps an upstream 4xx: status kept, Cohere\'s body as detail', async () => {
    up.on('POST /v1/chat', { status: 401, json: { message: 'invalid api token' } });
    const e = await rejection(instance(up.url).chat!(fixture('chat.json').request, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(401);
    expect(e.detail).toEqual({ message: 'invalid api token' });
  });

  it('maps an upstream 5xx, also on a stream before any chunk', async () => {
    up.on('POST /v1/generate', { status: 500, json: { message: 'internal server error' } });
    const e = await rejection(instance(up.url, 'llm/v1/completions').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()));
    expect(e.status).toBe(500);
    expect(e.detail).toEqual({ message: 'internal server error' });
    up.on('POST /v1/chat', { status: 503, json: { message: 'service unavailable' } });
    const e2 = await rejection(collect(instance(up.url).chatStream!(fixture('chat.json').request, call())));
    expect(e2.status).toBe(503);
  });

  it('a stream-error event throws after the chunks before it', async () => {
    const raw = '{"is_finished":false,"event_type":"text-generation","text":"Hi"}\n{"is_finished":true,"event_type":"stream-error","finish_reason":"ERROR","text":"internal error"}\n';
    up.on('POST /v1/generate', { raw, contentType: NDJSON });
    const got: unknown[] = [];
    const e = await rejection(async () => {
      for await (const c of instance(up.url, 'llm/v1/completions').completionsStream!({ prompt: 'x', temperature: 0, n: 1 }, call())) got.push(c);
    });
    expect(got).toHaveLength(1);
    expect(e.message).toBe('internal error');
  });

  it('rejects invalid chat parameters with 422 before any upstream call (streams too)', async () => {
    const before = up.requests.length;
    const bad = { messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 3 } as ChatRequest;
    expect((await rejection(() => instance(up.url).chatStream!(bad, call()))).status).toBe(422);
    expect((await rejection(instance(up.url).chat!(bad, call()))).status).toBe(422);
    expect(up.requests.length).toBe(before);
  });
});
