import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { startTestGateway } from '../../../test/helpers/gateway.js';
import { fixture, text } from './helpers.js';

const KEY = 'cohere-secret-key-0123456789';
const NDJSON = 'application/stream+json';
let up: FakeUpstream;
let gw: { url: string; close(): Promise<void> };

beforeAll(async () => {
  up = await startFakeUpstream();
  const config = { cohere_api_key: '$TEST_COHERE_KEY', cohere_api_base: `${up.url}/v1` };
  gw = await startTestGateway({
    env: { TEST_COHERE_KEY: KEY },
    config: {
      endpoints: [
        { name: 'c-chat', endpoint_type: 'llm/v1/chat', model: { provider: 'cohere', name: 'command', config } },
        { name: 'c-cmpl', endpoint_type: 'llm/v1/completions', model: { provider: 'cohere', name: 'command', config } },
        { name: 'c-emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'cohere', name: 'embed-english-light-v2.0', config } },
      ],
    },
  });
});
afterAll(async () => { await gw?.close(); await up?.close(); });

const post = (name: string, body: unknown) =>
  fetch(`${gw.url}/endpoints/${name}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const sseData = async (res: Response) =>
  (await res.text()).split('\n\n').filter((b) => b.trim()).map((b) => JSON.parse(b.replace(/^data: /, '')));

describe('cohere through the gateway', () => {
  it('chat: unified response, Bearer key resolved from $ENV', async () => {
    const f = fixture('chat.json');
    up.on('POST /v1/chat', { json: f.upstreamResponse });
    const res = await post('c-chat', { messages: f.request.messages, temperature: 0.5 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect({ ...body, created: 0 }).toEqual({ ...f.response, created: 0, provider: 'cohere' });
    expect(up.last().headers.authorization).toBe(`Bearer ${KEY}`);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('chat stream: NDJSON upstream -> text/event-stream, COMPLETE mapped to stop', async () => {
    up.on('POST /v1/chat', { raw: text('chat-stream.ndjson'), contentType: NDJSON, splitEvery: 5 });
    const res = await post('c-chat', { messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseData(res);
    expect(events.map((e) => [e.id, e.choices[0].delta.content, e.choices[0].finish_reason])).toEqual([
      [null, ' Hi', null], [null, ' there ☃', null], ['test-id1', null, 'stop'],
    ]);
    expect(up.last().json.stream).toBe(true);
  });

  it('completions and completions stream', async () => {
    const f = fixture('completions.json');
    up.on('POST /v1/generate', { json: f.upstreamResponse });
    const res = await post('c-cmpl', f.request);
    expect(res.status).toBe(200);
    expect({ ...(await res.json() as any), created: 0 }).toEqual({ ...f.response, created: 0 });
    expect(up.last().json).toEqual(f.upstreamBody);

    up.on('POST /v1/generate', { raw: text('completions-stream.ndjson'), contentType: NDJSON });
    const chunks = await sseData(await post('c-cmpl', { prompt: 'This is a test', stream: true }));
    expect(chunks.map((c) => [c.object, c.choices[0].text, c.choices[0].finish_reason])).toEqual([
      ['text_completion_chunk', ' Hi', null], ['text_completion_chunk', ' there', null], ['text_completion_chunk', null, 'stop'],
    ]);
  });

  it('embeddings', async () => {
    const f = fixture('embeddings.json');
    up.on('POST /v1/embed', { json: f.upstreamResponse });
    const res = await post('c-emb', f.request);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(f.response));
  });

  it('errors: upstream 4xx keeps its status; MLflow\'s 422 and 400 rejections', async () => {
    up.on('POST /v1/chat', { status: 401, json: { message: 'invalid api token' } });
    const res = await post('c-chat', { messages: [{ role: 'user', content: 'x' }] });
    expect([res.status, (await res.json() as any)]).toEqual([401, { detail: { message: 'invalid api token' } }]);

    const n2 = await post('c-chat', { messages: [{ role: 'user', content: 'x' }], n: 2 });
    expect([n2.status, (await n2.json() as any)]).toEqual([422, { detail: 'Parameter n must be 1 for Cohere chat, got 2.' }]);
    const native = await post('c-cmpl', { prompt: 'x', stop_sequences: ['y'] });
    expect([native.status, (await native.json() as any)]).toEqual([400, { detail: 'Invalid parameter stop_sequences. Use stop instead.' }]);
    // Cohere implements all five capabilities, so there is no 501 to test for this provider.
  });
});
