import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { startTestGateway } from '../../../test/helpers/gateway.js';
import { fixture } from './helpers.js';

const KEY = 'palm-secret-key-0123456789';
let up: FakeUpstream;
let gw: { url: string; close(): Promise<void> };

beforeAll(async () => {
  up = await startFakeUpstream();
  const config = { palm_api_key: '$TEST_PALM_KEY', palm_api_base: `${up.url}/v1beta3/models/` };
  gw = await startTestGateway({
    env: { TEST_PALM_KEY: KEY },
    config: {
      endpoints: [
        { name: 'p-chat', endpoint_type: 'llm/v1/chat', model: { provider: 'palm', name: 'chat-bison', config } },
        { name: 'p-cmpl', endpoint_type: 'llm/v1/completions', model: { provider: 'palm', name: 'text-bison', config } },
        { name: 'p-emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'palm', name: 'embedding-gecko', config } },
      ],
    },
  });
});
afterAll(async () => { await gw?.close(); await up?.close(); });

const post = (name: string, body: unknown) =>
  fetch(`${gw.url}/endpoints/${name}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('palm through the gateway', () => {
  it('chat: unified response, key resolved from $ENV and sent as x-goog-api-key', async () => {
    const f = fixture('chat.json');
    up.on('POST /v1beta3/models/chat-bison:generateMessage', { json: f.upstreamResponse });
    const res = await post('p-chat', f.cases[0].request);
    expect(res.status).toBe(200);
    expect({ ...(await res.json() as any), created: 0 }).toEqual({ ...f.response, created: 0, provider: 'palm' });
    expect(up.last().headers['x-goog-api-key']).toBe(KEY);
    expect(up.last().json).toEqual(f.cases[0].upstreamBody);
  });

  it('completions and embeddings', async () => {
    const c = fixture('completions.json');
    up.on('POST /v1beta3/models/text-bison:generateText', { json: c.upstreamResponse });
    const res = await post('p-cmpl', c.request);
    expect(res.status).toBe(200);
    expect((await res.json() as any).choices).toEqual(c.response.choices);
    expect(up.last().json).toEqual(c.upstreamBody);

    const e = fixture('embeddings.json');
    up.on('POST /v1beta3/models/embedding-gecko:batchEmbedText', { json: e.upstreamResponse });
    const er = await post('p-emb', e.request);
    expect(await er.text()).toBe(JSON.stringify(e.response));
  });

  it('errors: an upstream 5xx keeps its status; max_tokens on chat is a 422', async () => {
    up.on('POST /v1beta3/models/chat-bison:generateMessage', { status: 503, json: { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } });
    const res = await post('p-chat', { messages: [{ role: 'user', content: 'x' }] });
    expect([res.status, (await res.json() as any)]).toEqual([503, { detail: 'The service is currently unavailable.' }]);
    const bad = await post('p-chat', { messages: [{ role: 'user', content: 'x' }], max_tokens: 10 });
    expect([bad.status, (await bad.json() as any)]).toEqual([422, { detail: 'Max tokens is not supported for PaLM chat.' }]);
  });

  it('streaming is not implemented: 501 with MLflow\'s message', async () => {
    const res = await post('p-chat', { messages: [{ role: 'user', content: 'x' }], stream: true });
    expect([res.status, (await res.json() as any)]).toEqual([501, { detail: 'The chat streaming route is not implemented for PaLM models.' }]);
    const res2 = await post('p-cmpl', { prompt: 'x', stream: true });
    expect([res2.status, (await res2.json() as any)]).toEqual([501, { detail: 'The completions streaming route is not implemented for PaLM models.' }]);
  });
});
