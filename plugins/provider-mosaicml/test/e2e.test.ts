import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { startTestGateway } from '../../../test/helpers/gateway.js';
import { fixture } from './helpers.js';

const KEY = 'mosaic-secret-key-0123456789';
let up: FakeUpstream;
let gw: { url: string; close(): Promise<void> };

beforeAll(async () => {
  up = await startFakeUpstream();
  const config = { mosaicml_api_key: '$TEST_MOSAIC_KEY', mosaicml_api_base: up.url };
  gw = await startTestGateway({
    env: { TEST_MOSAIC_KEY: KEY },
    config: {
      endpoints: [
        { name: 'm-chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mosaicml', name: 'llama2-70b-chat', config } },
        { name: 'm-cmpl', endpoint_type: 'llm/v1/completions', model: { provider: 'mosaicml', name: 'mpt-7b-instruct', config } },
        { name: 'm-emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mosaicml', name: 'instructor-large', config } },
      ],
    },
  });
});
afterAll(async () => { await gw?.close(); await up?.close(); });

const post = (name: string, body: unknown) =>
  fetch(`${gw.url}/endpoints/${name}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('mosaicml through the gateway', () => {
  it('chat: Llama-2 prompt, Authorization: <key> resolved from $ENV', async () => {
    const f = fixture('chat.json');
    up.on('POST /llama2-70b-chat/v1/predict', { json: f.upstreamResponse });
    const res = await post('m-chat', f.cases[3].request);
    expect(res.status).toBe(200);
    expect({ ...(await res.json() as any), created: 0 }).toEqual({ ...f.response, created: 0, provider: 'mosaicml' });
    expect(up.last().headers.authorization).toBe(KEY);
    expect(up.last().json).toEqual(f.cases[3].upstreamBody);
  });

  it('completions and embeddings', async () => {
    const c = fixture('completions.json');
    up.on('POST /mpt-7b-instruct/v1/predict', { json: c.upstreamResponse });
    const res = await post('m-cmpl', c.request);
    expect(res.status).toBe(200);
    expect((await res.json() as any).choices).toEqual(c.response.choices);
    expect(up.last().json).toEqual(c.upstreamBody);

    const e = fixture('embeddings.json');
    up.on('POST /instructor-large/v1/predict', { json: e.upstreamResponse });
    expect(await (await post('m-emb', e.request)).text()).toBe(JSON.stringify(e.response));
  });

  it('a token-limit 500 is a 422 with the upstream JSON as detail; other errors keep their status', async () => {
    const body = fixture('completions.json').tokenLimitError;
    up.on('POST /mpt-7b-instruct/v1/predict', { status: 500, json: body });
    const res = await post('m-cmpl', { prompt: 'x', max_tokens: 4080 });
    expect([res.status, (await res.json() as any)]).toEqual([422, { detail: body }]);
    up.on('POST /mpt-7b-instruct/v1/predict', { status: 403, json: { message: 'Forbidden' } });
    const res2 = await post('m-cmpl', { prompt: 'x' });
    expect([res2.status, (await res2.json() as any)]).toEqual([403, { detail: { message: 'Forbidden' } }]);
  });

  it('streaming is not implemented: 501 with MLflow\'s message', async () => {
    const res = await post('m-chat', { messages: [{ role: 'user', content: 'x' }], stream: true });
    expect([res.status, (await res.json() as any)]).toEqual([501, { detail: 'The chat streaming route is not implemented for MosaicML models.' }]);
  });

  it('start-up rejects a chat endpoint whose model is not llama2*', async () => {
    const bad = startTestGateway({
      env: { TEST_MOSAIC_KEY: KEY },
      config: { endpoints: [{ name: 'bad', endpoint_type: 'llm/v1/chat', model: { provider: 'mosaicml', name: 'mpt-7b', config: { mosaicml_api_key: '$TEST_MOSAIC_KEY' } } }] },
    });
    await expect(bad).rejects.toThrow("An invalid model has been specified for the chat route. 'mpt-7b'. Ensure the model selected starts with one of: ['llama2']");
  });
});
