import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import { checkProvider, rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import provider from '../src/index.js';
import { call, fixture, instance } from './helpers.js';

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); });


const at = <T>(seconds: number, fn: () => Promise<T>): Promise<T> => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(seconds * 1000);
  return fn().finally(() => vi.useRealTimers());
};

describe('palm provider definition', () => {
  it('passes the conformance checks, is deprecated, has no streaming', () => {
    expect(checkProvider(provider, 'palm')).toEqual([]);
    expect(provider.displayName).toBe('PaLM');
    expect(provider.deprecated).toMatch(/deprecated/);
    expect(provider.capabilities).toEqual(['chat', 'completions', 'embeddings']);
    const inst = instance(up.url, 'llm/v1/chat', 'chat-bison');
    expect(inst.chatStream).toBeUndefined();
    expect(inst.completionsStream).toBeUndefined();
    const schema = provider.configSchema as any;
    expect(schema.required).toEqual(['palm_api_key']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(['palm_api_key', 'palm_api_base']);
    expect(provider.validate!({ palm_api_key: 'k' }, { name: null, provider: 'palm' }, 'llm/v1/chat')).toMatch(/model\.name/);
  });
});

describe('palm provider against a fake upstream', () => {
  it('chat: POST <model>:generateMessage with x-goog-api-key', async () => {
    const f = fixture('chat.json');
    up.on('POST /v1beta3/models/chat-bison:generateMessage', { json: f.upstreamResponse });
    const res = await at(1700242674, () => instance(up.url, 'llm/v1/chat', 'chat-bison').chat!(f.cases[0].request, call()));
    expect(JSON.stringify(res)).toBe(JSON.stringify(f.response));
    const r = up.last();
    expect(r.headers['x-goog-api-key']).toBe('test-key');
    expect(r.json).toEqual(f.cases[0].upstreamBody);
  });

  it('completions: POST <model>:generateText', async () => {
    const f = fixture('completions.json');
    up.on('POST /v1beta3/models/text-bison:generateText', { json: f.upstreamResponse });
    const res = await at(1677858242, () => instance(up.url, 'llm/v1/completions', 'text-bison').completions!(f.request, call()));
    expect(res).toEqual(f.response);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('embeddings: POST <model>:batchEmbedText', async () => {
    const f = fixture('embeddings.json');
    up.on('POST /v1beta3/models/embedding-gecko:batchEmbedText', { json: f.upstreamResponse });
    const res = await instance(up.url, 'llm/v1/embeddings', 'embedding-gecko').embeddings!(f.request, call());
    expect(res).toEqual(f.response);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('maps an upstream 4xx and a 5xx (Google error bodies)', async () => {
    up.on('POST /v1beta3/models/text-bison:generateText', { status: 404, json: { error: { code: 404, message: 'models/text-bison is not found for API version v1beta3', status: 'NOT_FOUND' } } });
    const e = await rejection(instance(up.url, 'llm/v1/completions', 'text-bison').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(404);
    expect(e.detail).toBe('models/text-bison is not found for API version v1beta3');
    up.on('POST /v1beta3/models/chat-bison:generateMessage', { status: 500, json: { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } } });
    const e2 = await rejection(instance(up.url, 'llm/v1/chat', 'chat-bison').chat!({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1 }, call()));
    expect(e2.status).toBe(500);
    expect(e2.detail).toBe('Internal error encountered.');
  });
});
