import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import { checkProvider, collect, rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import provider from '../src/index.js';
import { call, fixture, geminiSse, instance } from './helpers.js';

const P = '/v1beta/models/gemini-2.0-flash';
let up: FakeUpstream;

beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); });

describe('gemini provider definition', () => {
  it('passes the conformance checks and declares all five capabilities', () => {
    expect(checkProvider(provider, 'gemini')).toEqual([]);
    expect(provider.displayName).toBe('Gemini');
    expect(provider.deprecated).toBeUndefined();
    expect(provider.capabilities).toEqual(['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings']);
    const inst = instance(up.url);
    for (const m of ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'] as const) expect(typeof inst[m]).toBe('function');
  });

  it('requires gemini_api_key and rejects unknown config keys', () => {
    const schema = provider.configSchema as any;
    expect(schema.required).toEqual(['gemini_api_key']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(['gemini_api_key', 'gemini_api_base']);
    for (const p of Object.values<any>(schema.properties)) expect(p.description).toBeTruthy();
    expect(provider.validate!({ gemini_api_key: 'k' }, { name: null, provider: 'gemini' }, 'llm/v1/chat')).toMatch(/model\.name/);
    expect(provider.validate!({ gemini_api_key: 'k' }, { name: 'gemini-2.0-flash', provider: 'gemini' }, 'llm/v1/chat')).toBeUndefined();
  });
});

describe('gemini provider against a fake upstream', () => {
  it('chat: POSTs generateContent with x-goog-api-key and maps the answer', async () => {
    const f = fixture('chat.json');
    up.on(`POST ${P}:generateContent`, { json: f.upstreamResponse });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1234567890 * 1000);
    try {
      const res = await instance(up.url).chat!(f.request, call());
      expect(JSON.stringify(res)).toBe(JSON.stringify(f.response));
    } finally { vi.useRealTimers(); }
    const r = up.last();
    expect(r.method).toBe('POST');
    expect(r.pathname).toBe(`${P}:generateContent`);
    expect(r.headers['x-goog-api-key']).toBe('test-key');
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(r.headers.authorization).toBeUndefined();
    expect(r.json).toEqual(f.upstreamBody);
  });

  it('chat with tools round-trips function calls', async () => {
    const f = fixture('chat-tools.json');
    up.on(`POST ${P}:generateContent`, { json: f.upstreamResponse });
    const res = await instance(up.url).chat!(f.request, call());
    expect(res.choices[0]!.message.tool_calls).toEqual(f.response.choices[0].message.tool_calls);
    expect(up.last().json).toEqual(f.upstreamBody);
  });

  it('chatStream: streamGenerateContent?alt=sse, split at awkward byte boundaries', async () => {
    const f = fixture('chat-stream.json');
    const expected = f.chunks.map((c: any) => ({ ...c, id: expect.stringMatching(/^gemini-chat-stream-\d+$/), created: expect.any(Number) }));
    for (const split of [1, 2, 3, 5, 7]) {
      up.on(`POST ${P}:streamGenerateContent`, { raw: geminiSse(f.events), contentType: 'text/event-stream', splitEvery: split });
      const req = { ...fixture('chat.json').request, stream: true } as ChatRequest;
      const chunks = await collect(instance(up.url).chatStream!(req, call()));
      expect(chunks).toEqual(expected);
      const r = up.last();
      expect(r.url).toBe(`${P}:streamGenerateContent?alt=sse`);
      expect(r.query).toEqual({ alt: 'sse' });
      expect(r.headers['x-goog-api-key']).toBe('test-key');
      expect(r.json).toEqual(fixture('chat.json').upstreamBody);
    }
  });

  it('chatStream: multi-byte characters split inside a character survive', async () => {
    const events = [{ candidates: [{ content: { parts: [{ text: 'héllo wörld 😀' }] }, finishReason: 'STOP' }] }];
    const raw = geminiSse(events);
    const bytes = Buffer.from(raw);
    const emoji = bytes.indexOf(Buffer.from('😀'));
    up.on(`POST ${P}:streamGenerateContent`, { raw, contentType: 'text/event-stream', splitAt: [emoji + 1, emoji + 2, emoji + 3, 9, 10] });
    const chunks = await collect(instance(up.url).chatStream!({ temperature: 0, n: 1, messages: [{ role: 'user', content: 'x' }] }, call()));
    expect(chunks.map((c) => c.choices[0]!.delta.content)).toEqual(['héllo wörld 😀']);
  });

  it('completions and completionsStream', async () => {
    const f = fixture('completions.json');
    up.on(`POST ${P}:generateContent`, { json: f.upstreamResponse });
    const inst = instance(up.url, 'llm/v1/completions');
    const res = await inst.completions!(f.request, call());
    expect({ ...res, created: 0 }).toEqual({ ...f.response, created: 0 });
    expect(up.last().json).toEqual(f.upstreamBody);

    const s = fixture('completions-stream.json');
    up.on(`POST ${P}:streamGenerateContent`, { raw: geminiSse(s.events), contentType: 'text/event-stream', splitEvery: 4 });
    const chunks = await collect(inst.completionsStream!({ prompt: 'Tell me a joke', temperature: 0, n: 1, stream: true } as CompletionsRequest, call()));
    expect(chunks.map((c) => ({ ...c, id: 'x', created: 0 }))).toEqual(s.chunks.map((c: any) => ({ ...c, id: 'x', created: 0 })));
    expect(chunks[0]!.id).toMatch(/^gemini-completions-stream-\d+$/);
    expect(up.last().url).toBe(`${P}:streamGenerateContent?alt=sse`);
  });

  it('embeddings: embedContent for one text, batchEmbedContents for several', async () => {
    const f = fixture('embeddings.json');
    const path = '/v1beta/models/text-embedding-004';
    const inst = instance(up.url, 'llm/v1/embeddings', 'text-embedding-004');
    up.on(`POST ${path}:embedContent`, { json: f.single.upstreamResponse });
    expect(await inst.embeddings!(f.single.request, call())).toEqual(f.single.response);
    expect(up.last().json).toEqual(f.single.upstreamBody);
    up.on(`POST ${path}:batchEmbedContents`, { json: f.batch.upstreamResponse });
    expect(await inst.embeddings!(f.batch.request, call())).toEqual(f.batch.response);
    expect(up.last().pathname).toBe(`${path}:batchEmbedContents`);
    expect(up.last().json).toEqual(f.batch.upstreamBody);
  });

  it('maps an upstream 4xx to a GatewayError with the upstream status and error.message', async () => {
    const f = fixture('errors.json');
    up.on(`POST ${P}:generateContent`, { status: f.badKey.status, json: f.badKey.body });
    const e = await rejection(instance(up.url).chat!(fixture('chat.json').request, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(400);
    expect(e.detail).toBe('API key not valid. Please pass a valid API key.');
  });

  it('maps an upstream 5xx, also on a stream before any chunk', async () => {
    const f = fixture('errors.json');
    up.on(`POST ${P}:generateContent`, { status: f.overloaded.status, json: f.overloaded.body });
    const e = await rejection(instance(up.url).chat!(fixture('chat.json').request, call()));
    expect(e.status).toBe(503);
    expect(e.detail).toBe('The model is overloaded. Please try again later.');

    up.on(`POST ${P}:streamGenerateContent`, { status: 500, json: { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } } });
    const e2 = await rejection(collect(instance(up.url).chatStream!(fixture('chat.json').request, call())));
    expect(e2.status).toBe(500);
    expect(e2.detail).toBe('Internal error encountered.');
  });

  it('an error event inside a stream throws after the chunks before it', async () => {
    const events = [
      { candidates: [{ content: { parts: [{ text: 'a' }] } }] },
      { error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } },
    ];
    up.on(`POST ${P}:streamGenerateContent`, { raw: geminiSse(events), contentType: 'text/event-stream' });
    const got: unknown[] = [];
    const e = await rejection(async () => { for await (const c of instance(up.url).chatStream!(fixture('chat.json').request, call())) got.push(c); });
    expect(got).toHaveLength(1);
    expect(isGatewayError(e)).toBe(true);
    expect(e.message).toBe('An internal error has occurred.');
  });

  it('rejects invalid parameters with 422 before any upstream call (streams too)', async () => {
    const before = up.requests.length;
    const bad = { temperature: 0, n: 1, messages: [{ role: 'user', content: 'x' }], topK: 3 } as ChatRequest;
    const e = await rejection(() => instance(up.url).chatStream!(bad, call()));
    expect(e.status).toBe(422);
    const e2 = await rejection(instance(up.url).chat!(bad, call()));
    expect(e2.status).toBe(422);
    expect(up.requests.length).toBe(before);
  });
});
