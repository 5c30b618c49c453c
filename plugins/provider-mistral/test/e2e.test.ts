import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { fixture, text } from './helpers.js';

const KEY = 'mistral-e2e-key-0123456789';

describe('mistral end to end through the gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const config = { mistral_api_key: '$TEST_MISTRAL_KEY', mistral_api_base: `${up.url}/v1` };
    gw = await startTestGateway({
      env: { TEST_MISTRAL_KEY: KEY },
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mistral', name: 'mistral-large-latest', config } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mistral', name: 'mistral-tiny', config } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mistral', name: 'mistral-embed', config } },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('chat', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(r.status).toBe(200);
    expect(r.text).toBe(JSON.stringify({ ...fixture('chat.response.json'), provider: 'mistral' }));
    expect(up.last().headers.authorization).toBe(`Bearer ${KEY}`);
    // The caller set no temperature and no n: none are sent (MLflow 3.11).
    expect(up.last().json).toEqual({ model: 'mistral-large-latest', messages: [{ role: 'user', content: 'Weather in Paris?' }] });
  });

  it('chat stream', async () => {
    up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery: 3 });
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.map((e) => e.choices[0].delta.content)).toEqual(['', 'Bonjour, ça va', ' 🙂']);
    expect(events.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('completions (MLflow mapping: prompt → chat message, temperature ×0.5)', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('completions.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'This is a test', temperature: 0.5, stop: ['x'] });
    expect(r.status).toBe(200);
    expect(r.json.choices).toEqual([{ index: 0, text: 'This is a test', finish_reason: 'length' }]);
    expect(r.json.id).toBeNull();
    expect(up.last().json).toEqual({ model: 'mistral-tiny', messages: [{ role: 'user', content: 'This is a test' }], temperature: 0.25 });
  });

  it('embeddings', async () => {
    up.on('POST /v1/embeddings', { json: fixture('embeddings.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/embeddings/invocations`, { input: ['a', 'b'] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(fixture('embeddings.response.json'));
  });

  it('completions streaming is not implemented → 501', async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', stream: true });
    expect([r.status, r.json]).toEqual([501, { detail: 'The completions streaming route is not implemented for Mistral models.' }]);
  });

  it('the key is never logged', () => {
    expect(gw.logs.join('\n')).not.toContain(KEY);
  });

  it('a client model is rejected with 422 (check_for_model_field)', async () => {
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }], model: 'x' });
    expect(r.status).toBe(422);
  });
});
