import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { fixture } from './helpers.js';

const KEY = 'ai21-e2e-key-0123456789';

describe('ai21labs end to end through the gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const config = { ai21labs_api_key: '$TEST_AI21_KEY', ai21labs_api_base: `${up.url}/studio/v1` };
    gw = await startTestGateway({
      env: { TEST_AI21_KEY: KEY },
      config: {
        endpoints: [
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'ai21labs', name: 'j2-ultra', config } },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('completions', async () => {
    up.on('POST /studio/v1/j2-ultra/complete', { json: fixture('complete.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'This is a test', temperature: 0.2, max_tokens: 1000, stop: ['foobazbardiddly'] });
    expect(r.status).toBe(200);
    expect(r.json.choices).toEqual(fixture('complete.response.json').choices);
    expect(up.last().headers.authorization).toBe(`Bearer ${KEY}`);
    // No `n` from the caller, so no `numResults` upstream (MLflow 3.11 no longer defaults it).
    expect(up.last().json).toEqual({ prompt: 'This is a test', temperature: 0.2, maxTokens: 1000, stopSequences: ['foobazbardiddly'] });
  });

  it('a native parameter name → 422', async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', maxTokens: 5000 });
    expect([r.status, r.json]).toEqual([422, { detail: 'Invalid parameter maxTokens. Use max_tokens instead.' }]);
  });

  it('streaming completions → 501', async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', stream: true });
    expect([r.status, r.json]).toEqual([501, { detail: 'The completions streaming route is not implemented for AI21Labs models.' }]);
  });

  it('a chat endpoint is refused at start-up (the provider has no chat)', async () => {
    await expect(startTestGateway({
      config: { endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'ai21labs', name: 'j2-mid', config: { ai21labs_api_key: 'k' } } }] },
    })).rejects.toThrow("The AI21Labs provider cannot serve 'llm/v1/chat' endpoints");
  });

  it('an unsupported model name fails at start-up with MLflow\'s message', async () => {
    await expect(startTestGateway({
      config: { endpoints: [{ name: 'c', endpoint_type: 'llm/v1/completions', model: { provider: 'ai21labs', name: 'j2', config: { ai21labs_api_key: 'k' } } }] },
    })).rejects.toThrow("An Unsupported AI21Labs model has been specified: 'j2'. Please see documentation for supported models.");
  });
});
