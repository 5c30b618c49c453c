import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';

const config = {
  endpoints: [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat', config: { chunk_delay_ms: 1 } } },
    { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'MOCK', name: 'm-cmpl' }, limit: { calls: 10, renewal_period: 'minute' } },
    { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'm-emb', config: { dimensions: 4 } } },
  ],
};

describe('MLflow surface', () => {
  let gw: TestGateway;
  beforeAll(async () => { gw = await startTestGateway({ config }); });
  afterAll(async () => { await gw.close(); });

  it('answers /health', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"status":"OK"}');
  });

  it('lists endpoints with MLflow field order and nulls', async () => {
    const res = await fetch(`${gw.url}/api/2.0/endpoints/`);
    const text = await res.text();
    expect(text).toBe(JSON.stringify({
      endpoints: [
        { name: 'chat', endpoint_type: 'llm/v1/chat', model: { name: 'm-chat', provider: 'mock' }, endpoint_url: '/gateway/chat/invocations', limit: null },
        { name: 'completions', endpoint_type: 'llm/v1/completions', model: { name: 'm-cmpl', provider: 'mock' }, endpoint_url: '/gateway/completions/invocations', limit: { calls: 10, key: null, renewal_period: 'minute' } },
        { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { name: 'm-emb', provider: 'mock' }, endpoint_url: '/gateway/embeddings/invocations', limit: null },
      ],
      next_page_token: null,
    }));
  });

  it('answers a chat invocation on both invocation paths', async () => {
    for (const base of ['endpoints', 'gateway']) {
      const r = await postJson(`${gw.url}/${base}/chat/invocations`, { messages: [{ role: 'user', content: 'hello there' }] });
      expect(r.status).toBe(200);
      expect(Object.keys(r.json)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
      expect(Object.keys(r.json.choices[0].message)).toEqual(['role', 'content', 'tool_calls', 'refusal']);
      expect(r.json.choices[0].message.content).toContain('hello there');
    }
  });

  it('streams chat as SSE without a terminator', async () => {
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'a b c' }], stream: true }) });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readSse(res);
    expect(events.every((e) => e.object === 'chat.completion.chunk' && !('usage' in e))).toBe(true);
    expect(events.at(-1).choices[0].finish_reason).toBe('stop');
    expect(events.map((e) => e.choices[0].delta.content ?? '').join('')).toContain('a b c');
  });

  it('rejects a bad body with FastAPI-shaped 422 details', async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: ['x'], temperature: 2.5, n: 0 });
    expect(r.status).toBe(422);
    expect(r.json.detail.map((d: any) => [d.type, d.loc.join('.')])).toEqual(expect.arrayContaining([
      ['string_type', 'body.prompt'], ['less_than_equal', 'body.temperature'], ['greater_than_equal', 'body.n'],
    ]));
  });
});
