import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';

describe('mlflow-model-serving end to end through the gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const model = (name: string) => ({ provider: 'mlflow-model-serving', name, config: { model_server_url: up.url } });
    gw = await startTestGateway({
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: model('chat-bot-9000') },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: model('text2text') },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: model('sentence-piece') },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('chat (a client model is allowed and lands in params)', async () => {
    up.on('POST /invocations', { json: { predictions: ['It is a test'] } });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'Is this a test?' }], model: 'whatever' });
    expect(r.status).toBe(200);
    expect(r.json.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'It is a test', tool_calls: null, refusal: null }, finish_reason: null }]);
    expect(r.json.model).toBe('chat-bot-9000');
    expect(up.last().json).toEqual({ inputs: ['Is this a test?'], params: { model: 'whatever' } });
  });

  it('chat with two messages → 422', async () => {
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }] });
    expect([r.status, r.json]).toEqual([422, { detail: 'MLflow chat models are only capable of processing a single query at a time. The request submitted consists of 2 queries.' }]);
  });

  it('completions', async () => {
    up.on('POST /invocations', { json: { predictions: { choices: ['a', 'b'] } } });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', temperature: 0.5 });
    expect(r.status).toBe(200);
    expect(r.json.choices.map((c: { text: string }) => c.text)).toEqual(['a', 'b']);
    // Only what the caller set: no default n (MLflow 3.11).
    expect(up.last().json).toEqual({ inputs: ['p'], params: { temperature: 0.5 } });
  });

  it('an invalid predictions answer → 502 with pydantic-style detail', async () => {
    up.on('POST /invocations', { json: { predictions: [] } });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p' });
    expect(r.status).toBe(502);
    expect(r.json.detail).toContain('ServingTextResponse\npredictions');
  });

  it('embeddings', async () => {
    up.on('POST /invocations', { json: { predictions: [[0.01, -0.1], [0.03, -0.03]] } });
    const r = await postJson(`${gw.url}/endpoints/embeddings/invocations`, { input: ['test1', 'test2'] });
    expect(r.status).toBe(200);
    expect(r.json.data.map((d: { embedding: number[] }) => d.embedding)).toEqual([[0.01, -0.1], [0.03, -0.03]]);
    expect(up.last().json).toEqual({ inputs: ['test1', 'test2'] });
  });

  it('chat streaming is not implemented → 501', async () => {
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect([r.status, r.json]).toEqual([501, { detail: 'The chat streaming route is not implemented for MLflow Model Serving models.' }]);
  });
});
