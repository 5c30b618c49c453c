import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { startTestGateway } from '../../../test/helpers/gateway.js';
import { fixture, geminiSse } from './helpers.js';

const KEY = 'gemini-secret-key-0123456789';
let up: FakeUpstream;
let gw: { url: string; close(): Promise<void> };

beforeAll(async () => {
  up = await startFakeUpstream();
  const config = { gemini_api_key: '$TEST_GEMINI_KEY', gemini_api_base: `${up.url}/v1beta/models` };
  gw = await startTestGateway({
    env: { TEST_GEMINI_KEY: KEY },
    config: {
      endpoints: [
        { name: 'g-chat', endpoint_type: 'llm/v1/chat', model: { provider: 'gemini', name: 'gemini-2.0-flash', config } },
        { name: 'g-cmpl', endpoint_type: 'llm/v1/completions', model: { provider: 'gemini', name: 'gemini-2.0-flash', config } },
        { name: 'g-emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'gemini', name: 'text-embedding-004', config } },
      ],
    },
  });
});
afterAll(async () => { await gw?.close(); await up?.close(); });

const post = (name: string, body: unknown) =>
  fetch(`${gw.url}/endpoints/${name}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const sseData = async (res: Response) =>
  (await res.text()).split('\n\n').filter((b) => b.trim()).map((b) => JSON.parse(b.replace(/^data: /, '')));

describe('gemini through the gateway', () => {
  it('chat: unified response, key resolved from $ENV and sent as x-goog-api-key', async () => {
    const f = fixture('chat.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:generateContent', { json: f.upstreamResponse });
    const res = await post('g-chat', f.request);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect({ ...body, id: 'x', created: 0 }).toEqual({ ...f.response, id: 'x', created: 0, provider: 'gemini' });
    expect(body.id).toMatch(/^gemini-chat-\d+$/);
    expect(up.last().headers['x-goog-api-key']).toBe(KEY);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('chat stream: text/event-stream with one data event per upstream event', async () => {
    const f = fixture('chat-stream.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:streamGenerateContent', { raw: geminiSse(f.events), contentType: 'text/event-stream', splitEvery: 3 });
    const res = await post('g-chat', { messages: [{ role: 'user', content: 'Tell me a joke' }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseData(res);
    expect(events.map((e) => [e.object, e.choices[0].delta.role, e.choices[0].delta.content, e.choices[0].finish_reason]))
      .toEqual([['chat.completion.chunk', 'assistant', 'a', null], ['chat.completion.chunk', 'assistant', 'b', 'stop']]);
    expect(up.last().url).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });

  it('an error event after the stream started ends it with a final error event', async () => {
    const events = [{ candidates: [{ content: { parts: [{ text: 'a' }] } }] }, { error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } }];
    up.on('POST /v1beta/models/gemini-2.0-flash:streamGenerateContent', { raw: geminiSse(events), contentType: 'text/event-stream' });
    const res = await post('g-chat', { messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(200);
    const out = await sseData(res);
    expect(out).toHaveLength(2);
    expect(out[0].choices[0].delta.content).toBe('a');
    expect(out[1].error.message).toBe('An internal error has occurred.');
  });

  it('completions (and its stream with object text_completion.chunk)', async () => {
    const f = fixture('completions.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:generateContent', { json: f.upstreamResponse });
    const res = await post('g-cmpl', { prompt: 'Tell me a joke', max_tokens: 50 });
    expect(res.status).toBe(200);
    expect((await res.json() as any).choices).toEqual(f.response.choices);

    const s = fixture('completions-stream.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:streamGenerateContent', { raw: geminiSse(s.events), contentType: 'text/event-stream' });
    const sres = await post('g-cmpl', { prompt: 'Tell me a joke', stream: true });
    const chunks = await sseData(sres);
    expect(chunks.map((c) => [c.object, c.choices[0].text, c.choices[0].finish_reason])).toEqual([
      ['text_completion.chunk', 'a', null], ['text_completion.chunk', 'b', 'stop'],
    ]);
  });

  it('embeddings', async () => {
    const f = fixture('embeddings.json');
    up.on('POST /v1beta/models/text-embedding-004:batchEmbedContents', { json: f.batch.upstreamResponse });
    const res = await post('g-emb', f.batch.request);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(f.batch.response));
  });

  it('upstream errors keep their status with {"detail": message}; provider rejections are 422', async () => {
    const f = fixture('errors.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:generateContent', { status: 400, json: f.badKey.body });
    const res = await post('g-chat', { messages: [{ role: 'user', content: 'x' }] });
    expect([res.status, (await res.json() as any)]).toEqual([400, { detail: 'API key not valid. Please pass a valid API key.' }]);

    const bad = await post('g-chat', { messages: [{ role: 'user', content: 'x' }], topK: 4 });
    expect([bad.status, (await bad.json() as any)]).toEqual([422, { detail: 'Invalid parameter topK. Use top_k instead.' }]);
    // top_p above 1 is refused by the request schema now, before the provider sees it.
    const badStream = await post('g-chat', { messages: [{ role: 'user', content: 'x' }], top_p: 1.5, stream: true });
    const detail = ((await badStream.json()) as any).detail;
    expect([badStream.status, detail[0].loc, detail[0].msg]).toEqual([422, ['body', 'top_p'], 'Input should be less than or equal to 1']);
  });

  it('stream chunks carry usage (null until Gemini reports it) and the provider, as MLflow 3.11 does', async () => {
    const f = fixture('chat-stream.json');
    up.on('POST /v1beta/models/gemini-2.0-flash:streamGenerateContent', { raw: geminiSse(f.events), contentType: 'text/event-stream' });
    const plain = await sseData(await post('g-chat', { messages: [{ role: 'user', content: 'x' }], stream: true }));
    expect(Object.keys(plain[0])).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'provider']);
    expect(plain.map((c) => [c.usage, c.provider])).toEqual([[null, 'gemini'], [{ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 }, 'gemini']]);
    // Gemini implements all five capabilities, so there is no 501 to test for this provider.
  });
});
