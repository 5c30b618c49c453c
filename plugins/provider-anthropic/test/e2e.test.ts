import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';

const KEY = 'sk-ant-e2e-secret-0123456789';
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const chatBody = { messages: [{ role: 'user', content: 'Weather in Zürich?' }] };
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('anthropic through the running gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const config = { anthropic_api_key: '$TEST_ANTHROPIC_KEY', anthropic_api_base: `${up.url}/v1` };
    gw = await startTestGateway({
      env: { TEST_ANTHROPIC_KEY: KEY },
      config: {
        endpoints: [
          { name: 'claude', endpoint_type: 'llm/v1/chat', model: { provider: 'anthropic', name: 'claude-3-haiku-20240307', config } },
          { name: 'claude-text', endpoint_type: 'llm/v1/completions', model: { provider: 'anthropic', name: 'claude-2.1', config } },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('chat: answers MLflow-shaped JSON, with the key from the environment sent as x-api-key', async () => {
    up.on('POST /v1/messages', { json: JSON.parse(fixture('chat-response.json')).upstream });
    const r = await postJson(`${gw.url}/endpoints/claude/invocations`, { ...chatBody, temperature: 0.4, max_tokens: 100 });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'provider']);
    expect(r.json.provider).toBe('anthropic');
    expect(r.json.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: "I'll check the weather.", tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Singapore","unit":"celsius"}' } }], refusal: null },
      finish_reason: 'tool_calls',
    });
    expect(r.json.usage).toEqual({ prompt_tokens: 472, completion_tokens: 89, total_tokens: 561 });
    const u = up.last();
    expect(u.headers['x-api-key']).toBe(KEY);
    expect(u.json).toEqual({ model: 'claude-3-haiku-20240307', messages: [{ role: 'user', content: 'Weather in Zürich?' }], max_tokens: 100, temperature: 0.2 });
    expect(gw.logs.join('\n')).not.toContain(KEY);
  });

  it('chat stream: text/event-stream chunks, split upstream, finish reason last', async () => {
    up.on('POST /v1/messages', { raw: fixture('chat-stream-tools.sse'), contentType: 'text/event-stream', splitEvery: 3 });
    const res = await post(`${gw.url}/endpoints/claude/invocations`, { ...chatBody, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.map((e) => e.choices[0].delta.content).filter(Boolean).join('')).toBe("Okay, let's check ☀️ in Zürich");
    expect(events.flatMap((e) => e.choices[0].delta.tool_calls ?? []).map((t: any) => t.function.arguments).join('')).toBe('{"location": "Zürich"}');
    expect(events.at(-1).choices[0].finish_reason).toBe('tool_calls');
    expect(up.last().json.stream).toBe(true);
  });

  it('chat stream: an Anthropic error event ends the stream with a final error event', async () => {
    up.on('POST /v1/messages', { raw: fixture('chat-stream-error.sse'), contentType: 'text/event-stream' });
    const events = await readSse(await post(`${gw.url}/endpoints/claude/invocations`, { ...chatBody, stream: true }));
    expect(events[0].choices[0].delta.content).toBe('Hel');
    expect(events.at(-1)).toEqual({ error: { message: 'Overloaded', type: 'upstream_error', code: 'GW_ERR_UPSTREAM_STATUS', status: 529 } });
  });

  it('an upstream 4xx keeps its status with {"detail": message}', async () => {
    up.on('POST /v1/messages', { status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: 8192 > 4096, which is the maximum allowed' } } });
    const r = await postJson(`${gw.url}/endpoints/claude/invocations`, chatBody);
    expect([r.status, r.text]).toEqual([400, '{"detail":"max_tokens: 8192 > 4096, which is the maximum allowed"}']);
  });

  it('a provider 422 (n != 1) is {"detail": message}', async () => {
    const r = await postJson(`${gw.url}/endpoints/claude/invocations`, { ...chatBody, n: 2 });
    expect([r.status, r.json]).toEqual([422, { detail: "'n' must be '1' for the Anthropic provider. Received value: '2'." }]);
  });

  it('completions use the legacy /v1/complete API', async () => {
    up.on('POST /v1/complete', { json: JSON.parse(fixture('completions.json')).response });
    const r = await postJson(`${gw.url}/endpoints/claude-text/invocations`, { prompt: 'Tell me a joke', max_tokens: 100 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: null, object: 'text_completion', model: 'claude-2.1', choices: [{ index: 0, text: ' Why did the chicken cross the road?', finish_reason: 'stop' }] });
    expect(up.last().json).toMatchObject({ model: 'claude-2.1', prompt: '\n\nHuman: Tell me a joke\n\nAssistant:', max_tokens_to_sample: 100 });
  });

  it('an embeddings endpoint is refused at start-up; a completions stream answers 501 with MLflow\'s message', async () => {
    await expect(startTestGateway({
      config: { endpoints: [{ name: 'claude-emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'anthropic', name: 'claude-2.1', config: { anthropic_api_key: 'k' } } }] },
    })).rejects.toThrow("The Anthropic provider cannot serve 'llm/v1/embeddings' endpoints");
    const cs = await postJson(`${gw.url}/endpoints/claude-text/invocations`, { prompt: 'x', stream: true });
    expect([cs.status, cs.json]).toEqual([501, { detail: 'The completions streaming route is not implemented for Anthropic models.' }]);
  });
});
