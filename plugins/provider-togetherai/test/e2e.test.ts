import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { fixture, text } from './helpers.js';

const KEY = 'together-e2e-key-0123456789';
const CFG = 'mistralai/Mixtral-8x7B-Instruct-v0.1';

async function stream(url: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, contentType: res.headers.get('content-type'), events: await readSse(res) };
}

describe('togetherai end to end through the gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const config = { togetherai_api_key: '$TEST_TOGETHER_KEY', togetherai_api_base: `${up.url}/v1` };
    gw = await startTestGateway({
      env: { TEST_TOGETHER_KEY: KEY },
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'togetherai', name: CFG, config } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'togetherai', name: CFG, config } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'togetherai', name: 'togethercomputer/m2-bert-80M-8k-retrieval', config } },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('chat, with a client model passed through (TogetherAI allows it)', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }], model: 'meta-llama/Llama-3-8b-chat-hf' });
    expect(r.status).toBe(200);
    expect(r.text).toBe(JSON.stringify({ ...fixture('chat.response.json'), provider: 'togetherai' }));
    expect(up.last().headers.authorization).toBe(`Bearer ${KEY}`);
    expect(up.last().json).toEqual({ model: 'meta-llama/Llama-3-8b-chat-hf', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('chat stream', async () => {
    up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery: 5 });
    const r = await stream(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^text\/event-stream/);
    expect(r.events.map((e) => e.choices[0].delta.content)).toEqual([' The', ' café', ' Paris']);
    expect(r.events.at(-1).choices[0].finish_reason).toBe('length');
  });

  it('completions', async () => {
    up.on('POST /v1/completions', { json: fixture('completions.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'Whats the capital of France?', max_tokens: 200 });
    expect(r.status).toBe(200);
    expect(r.text).toBe(JSON.stringify(fixture('completions.response.json')));
  });

  it('completions stream', async () => {
    up.on('POST /v1/completions', { raw: text('completions-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery: 2 });
    const r = await stream(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', max_tokens: 200, stream: true });
    expect(r.status).toBe(200);
    expect(r.events.map((e) => e.choices[0].text)).toEqual(['   ', ' "', 'name":']);
  });

  it('completions without max_tokens → 422 with MLflow message (streaming too)', async () => {
    const detail = 'max_tokens is not present in payload.It is a required parameter for TogetherAI completions.';
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p' });
    expect([r.status, r.json]).toEqual([422, { detail }]);
    const s = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', stream: true });
    expect([s.status, s.json]).toEqual([422, { detail }]);
  });

  it('embeddings', async () => {
    up.on('POST /v1/embeddings', { json: fixture('embeddings.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/embeddings/invocations`, { input: 'Our solar system' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(fixture('embeddings.response.json'));
    expect(up.last().json).toEqual({ model: 'togethercomputer/m2-bert-80M-8k-retrieval', input: 'Our solar system' });
  });

  it('an upstream 400 keeps its status with error.message as detail', async () => {
    up.on('POST /v1/completions', { status: 400, json: fixture('error-400.upstream.json') });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', max_tokens: 50000 });
    expect([r.status, r.json]).toEqual([400, { detail: fixture('error-400.upstream.json').error.message }]);
  });
});
