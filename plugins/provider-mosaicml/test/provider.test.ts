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

describe('mosaicml provider definition', () => {
  it('passes the conformance checks, is deprecated, has no streaming', () => {
    expect(checkProvider(provider, 'mosaicml')).toEqual([]);
    expect(provider.displayName).toBe('MosaicML');
    expect(provider.deprecated).toBe('MosaicML provider is deprecated and will be removed in a future MLflow version.');
    expect(provider.capabilities).toEqual(['chat', 'completions', 'embeddings']);
    const inst = instance(up.url, 'llm/v1/chat', 'llama2-70b-chat');
    expect(inst.chatStream).toBeUndefined();
    expect(inst.completionsStream).toBeUndefined();
    const schema = provider.configSchema as any;
    expect(schema.required).toEqual(['mosaicml_api_key']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(['mosaicml_api_key', 'mosaicml_api_base']);
  });

  it('validate(): chat needs a llama2 model (case-insensitive), with MLflow\'s message', () => {
    const v = (name: string | null, type: any) => provider.validate!({ mosaicml_api_key: 'k' }, { name, provider: 'mosaicml' }, type);
    expect(v('unsupported', 'llm/v1/chat')).toEqual([
      "An invalid model has been specified for the chat route. 'unsupported'. Ensure the model selected starts with one of: ['llama2']",
    ]);
    expect(v('Llama2-70b-chat', 'llm/v1/chat')).toEqual([]);
    expect(v('llama2-70b-chat', 'llm/v1/chat')).toEqual([]);
    expect(v('mpt-7b-instruct', 'llm/v1/completions')).toEqual([]);
  });
});

describe('mosaicml provider against a fake upstream', () => {
  it('chat: POST <base>/<model>/v1/predict with Authorization: <key> (no Bearer)', async () => {
    const f = fixture('chat.json');
    up.on('POST /llama2-70b-chat/v1/predict', { json: f.upstreamResponse });
    const res = await at(1700242674, () => instance(up.url, 'llm/v1/chat', 'llama2-70b-chat').chat!(f.cases[3].request, call()));
    expect(JSON.stringify(res)).toBe(JSON.stringify(f.response));
    expect(up.last().headers.authorization).toBe('test-key');
    expect(up.last().json).toEqual(f.cases[3].upstreamBody);
  });

  it('completions and embeddings', async () => {
    const c = fixture('completions.json');
    up.on('POST /mpt-7b-instruct/v1/predict', { json: c.upstreamResponse });
    expect(await at(1677858242, () => instance(up.url, 'llm/v1/completions', 'mpt-7b-instruct').completions!(c.request, call()))).toEqual(c.response);
    expect(up.last().json).toEqual(c.upstreamBody);
    const e = fixture('embeddings.json');
    up.on('POST /instructor-large/v1/predict', { json: e.upstreamResponse });
    expect(await instance(up.url, 'llm/v1/embeddings', 'instructor-large').embeddings!(e.request, call())).toEqual(e.response);
    expect(up.last().json).toEqual(e.upstreamBody);
  });

  it('a token-limit 500 becomes a 422 with the upstream JSON as detail', async () => {
    const body = fixture('completions.json').tokenLimitError;
    up.on('POST /mpt-7b-instruct/v1/predict', { status: 500, json: body });
    const e = await rejection(instance(up.url, 'llm/v1/completions', 'mpt-7b-instruct').completions!({ prompt: 'x', temperature: 0, n: 1, max_tokens: 4080 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.detail).toEqual(body);
    const chatBody = { message: 'Error: max output tokens is limited to 4096 but 5000 was requested. Please use a lower token count.\n' };
    up.on('POST /llama2-70b-chat/v1/predict', { status: 500, json: chatBody });
    const e2 = await rejection(instance(up.url, 'llm/v1/chat', 'llama2-70b-chat').chat!({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, max_tokens: 5000 }, call()));
    expect(e2.status).toBe(422);
    expect(e2.detail).toEqual(chatBody);
  });

  it('other upstream errors keep their status: a 4xx and a plain 5xx', async () => {
    up.on('POST /mpt-7b-instruct/v1/predict', { status: 401, json: { message: 'Unauthorized' } });
    const e = await rejection(instance(up.url, 'llm/v1/completions', 'mpt-7b-instruct').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()));
    expect(e.status).toBe(401);
    expect(e.detail).toEqual({ message: 'Unauthorized' });
    up.on('POST /mpt-7b-instruct/v1/predict', { status: 500, json: { message: 'Internal Server Error' } });
    const e2 = await rejection(instance(up.url, 'llm/v1/completions', 'mpt-7b-instruct').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()));
    expect(e2.status).toBe(500);
  });
});
