/**
 * The MLflow surface (plugin `mlflow`) on a running gateway: MLflow 3.11's field sets and order,
 * the `provider` field, `"usage": null` and the forwarded usage chunk on streams, error shapes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointInfo, GatewayApi, HttpRouteInfo, RouteInfo } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { mlflowRoutes } from '@gatehouse/plugin-mlflow';
import { buildOpenAPI } from '@gatehouse/plugin-docs-ui';
import { postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';

const KEY = 'sk-mlflow-surface-test-0123456789';

const upstreamChunk = (content: string | null, finish: string | null = null) =>
  ({ id: 'up-1', object: 'chat.completion.chunk', created: 7, model: 'gpt-4o', system_fingerprint: 'fp', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] });

const streamPost = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('MLflow surface', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const openai = { openai_api_key: '$TEST_OPENAI_KEY', openai_api_base: `${up.url}/v1` };
    gw = await startTestGateway({
      env: { TEST_OPENAI_KEY: KEY },
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat', config: { chunk_delay_ms: 1 } } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'MOCK', name: 'm-cmpl' }, limit: { calls: 10, renewal_period: 'minute' } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'm-emb', config: { dimensions: 4 } } },
          { name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: openai } },
          { name: 'tight', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'm-emb' }, limit: { calls: 1, renewal_period: 'minute' } },
        ],
        routes: [{ name: 'to-gpt', task_type: 'llm/v1/chat', destinations: [{ name: 'gpt', traffic_percentage: 100 }] }],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

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
        { name: 'gpt', endpoint_type: 'llm/v1/chat', model: { name: 'gpt-4o', provider: 'openai' }, endpoint_url: '/gateway/gpt/invocations', limit: null },
        { name: 'tight', endpoint_type: 'llm/v1/embeddings', model: { name: 'm-emb', provider: 'mock' }, endpoint_url: '/gateway/tight/invocations', limit: { calls: 1, key: null, renewal_period: 'minute' } },
      ],
      next_page_token: null,
    }));
  });

  it('answers a chat invocation on both invocation paths, with "provider" last', async () => {
    for (const base of ['endpoints', 'gateway']) {
      const r = await postJson(`${gw.url}/${base}/chat/invocations`, { messages: [{ role: 'user', content: 'hello there' }] });
      expect(r.status).toBe(200);
      expect(Object.keys(r.json)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'provider']);
      expect(r.json.provider).toBe('mock');
      expect(Object.keys(r.json.choices[0].message)).toEqual(['role', 'content', 'tool_calls', 'refusal']);
      expect(r.json.choices[0].message.content).toContain('hello there');
    }
  });

  it('completions and embeddings answers keep MLflow\'s field sets', async () => {
    const c = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'a b', max_tokens: 3 });
    expect(Object.keys(c.json)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    const e = await postJson(`${gw.url}/endpoints/embeddings/invocations`, { input: 'x' });
    expect(Object.keys(e.json)).toEqual(['object', 'data', 'model', 'usage']);
  });

  it('streams chat as SSE without a terminator: "usage": null, "provider", and the last usage chunk', async () => {
    const res = await streamPost(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'a b c' }], stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readSse(res);
    expect(events.every((e) => e.object === 'chat.completion.chunk' && e.provider === 'mock')).toBe(true);
    expect(events.every((e) => JSON.stringify(Object.keys(e)) === '["id","object","created","model","choices","usage","provider"]')).toBe(true);
    const usage = events.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
    const content = events.slice(0, -1);
    expect(content.every((e) => e.usage === null)).toBe(true);
    expect(content.at(-1).choices[0].finish_reason).toBe('stop');
    expect(content.map((e) => e.choices[0].delta.content ?? '').join('')).toContain('a b c');
    expect(events.filter((e) => typeof e === 'string')).toEqual([]);
  });

  it('streams completions with MLflow\'s chunk fields, and forwards the usage chunk', async () => {
    const res = await streamPost(`${gw.url}/endpoints/completions/invocations`, { prompt: 'one two three', stream: true });
    const events = await readSse(res);
    const text = events.slice(0, -1);
    expect(text.length).toBeGreaterThan(0);
    expect(text.every((e) => JSON.stringify(Object.keys(e)) === '["id","object","created","model","choices"]')).toBe(true);
    expect(Object.keys(events.at(-1))).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(events.at(-1).choices).toEqual([]);
  });

  it('an OpenAI upstream: "provider" is the served endpoint\'s, the upstream\'s extra fields are dropped, its usage chunk is forwarded', async () => {
    up.on('POST /v1/chat/completions', { json: { id: 'up-1', object: 'chat.completion', created: 7, model: 'gpt-4o', system_fingerprint: 'fp', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } } });
    for (const target of ['gpt', 'to-gpt']) {
      const r = await postJson(`${gw.url}/endpoints/${target}/invocations`, { messages: [{ role: 'user', content: 'hi' }] });
      expect(r.text).toBe('{"id":"up-1","object":"chat.completion","created":7,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":null,"refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"provider":"openai"}');
    }
    // MLflow 3.x leaves temperature out when the caller did.
    expect('temperature' in up.last().json).toBe(false);

    up.on('POST /v1/chat/completions', {
      sse: [upstreamChunk('Hel'), upstreamChunk('lo'), upstreamChunk(null, 'stop'),
        { id: 'up-1', object: 'chat.completion.chunk', created: 7, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }, '[DONE]'],
    });
    const res = await streamPost(`${gw.url}/gateway/to-gpt/invocations`, { messages: [{ role: 'user', content: 'hi' }], stream: true });
    const raw = await res.text();
    expect(raw).not.toContain('[DONE]');
    expect(raw).not.toContain('system_fingerprint');
    const events = raw.split('\n\n').filter(Boolean).map((b) => JSON.parse(b.slice('data: '.length)));
    expect(events.map((e) => [e.choices[0]?.delta.content ?? null, e.usage, e.provider])).toEqual([
      ['Hel', null, 'openai'],
      ['lo', null, 'openai'],
      [null, null, 'openai'],
      [null, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, 'openai'],
    ]);
  });

  it('an unknown name is a 404 before the body is read, even when the body is not JSON', async () => {
    const r = await postJson(`${gw.url}/endpoints/nope/invocations`, '{not json');
    expect([r.status, r.text]).toEqual([404, '{"detail":"Not Found"}']);
    const bad = await postJson(`${gw.url}/endpoints/chat/invocations`, '{not json');
    expect(bad.status).toBe(422);
  });

  it('rejects a bad body with FastAPI-shaped 422 details', async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: ['x'], temperature: 2.5, n: 0 });
    expect(r.status).toBe(422);
    expect(r.json.detail.map((d: any) => [d.type, d.loc.join('.')])).toEqual(expect.arrayContaining([
      ['string_type', 'body.prompt'], ['less_than_equal', 'body.temperature'], ['greater_than_equal', 'body.n'],
    ]));
  });

  it('a rate limit is {"error": message}, as slowapi writes it', async () => {
    expect((await postJson(`${gw.url}/endpoints/tight/invocations`, { input: 'x' })).status).toBe(200);
    const r = await postJson(`${gw.url}/endpoints/tight/invocations`, { input: 'x' });
    expect(r.status).toBe(429);
    expect(Object.keys(r.json)).toEqual(['error']);
    expect(r.json.error).toMatch(/^Rate limit exceeded: 1 per 1 minute/);
  });

  it('/openapi.json has the routes in MLflow\'s schema, with the provider field on chat answers', async () => {
    const own = gw.gateway.current().api.httpRoutes().filter((r) => r.owner === 'mlflow');
    expect(own.filter((r) => r.openapi).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /health', 'GET /api/2.0/endpoints/', 'GET /api/2.0/endpoints/:name', 'POST /endpoints/:name/invocations',
    ]);
    expect(own.filter((r) => r.access === 'public').map((r) => r.path)).toEqual(['/health']);
    const doc = await (await fetch(`${gw.url}/openapi.json`)).json() as any;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/health', '/api/2.0/endpoints/', '/api/2.0/endpoints/{name}',
      ...['chat', 'completions', 'embeddings', 'gpt', 'tight', 'to-gpt'].map((n) => `/endpoints/${n}/invocations`),
    ]));
    for (const p of ['/gateway/chat/invocations', '/api/2.0/gateway/routes/', '/api/2.0/gateway/routes/{name}', '/api/3.0/gateway/endpoint/{name}', '/api/3.0/gateway/route/{name}']) {
      expect(doc.paths[p], p).toBeUndefined();
    }
    const ok = doc.paths['/endpoints/gpt/invocations'].post.responses[200].content;
    expect(ok['application/json'].schema.allOf[1].properties.provider).toBeDefined();
    expect(ok['text/event-stream']['x-chunk-schema'].allOf[1].properties).toHaveProperty('usage');
    expect(doc.paths['/endpoints/to-gpt/invocations'].post.tags).toEqual(['Traffic routes']);
    expect(doc.paths['/endpoints/chat/invocations'].post.description).toContain('Also at `/gateway/chat/invocations`');
  });
});

describe('the MLflow operations in the docs-ui document', () => {
  const eps: EndpointInfo[] = [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { name: 'm', provider: 'mock' }, limit: null, defaults: { temperature: 0.3 }, slices: {} },
    { name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { name: null, provider: 'mock' }, limit: null, defaults: {}, slices: {} },
  ];
  const routes: RouteInfo[] = [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 100 }], routing_strategy: 'TRAFFIC_SPLIT', slices: {} }];
  const httpRoutes: HttpRouteInfo[] = mlflowRoutes().map((r) => ({ method: r.method, path: r.path, surface: r.surface ?? 'mlflow', access: r.access ?? 'caller', openapi: r.openapi ?? null, owner: 'mlflow' }));
  const gw: GatewayApi = {
    version: '1.0.0', httpRoutes: () => httpRoutes, endpoints: () => eps, routes: () => routes, lookup: () => undefined,
    invoke: () => { throw new Error('not used'); }, capabilities: () => ['chat', 'chatStream', 'embeddings'],
  };

  it('lists the routes of MLflow\'s own schema, one invocation per endpoint and route, with no dangling $ref', () => {
    const doc = buildOpenAPI(gw, { version: '1.0.0' }) as any;
    expect(Object.keys(doc.paths)).toEqual(['/health', '/api/2.0/endpoints/', '/api/2.0/endpoints/{name}', '/endpoints/chat/invocations', '/endpoints/emb/invocations', '/endpoints/split/invocations']);
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z]+/g)!.map((r) => r.split('/').pop()!);
    expect(refs.filter((r) => !doc.components.schemas[r])).toEqual([]);
    expect(JSON.stringify(doc)).not.toMatch(/"x-(gatehouse|components)/);
    const chat = doc.paths['/endpoints/chat/invocations'].post;
    expect(chat.operationId).toBe('invoke_chat');
    expect(chat.description).toContain('Default parameters: `temperature` 0.3');
    expect(chat.responses[200].content['application/json'].schema.allOf[1].properties).toHaveProperty('provider');
    expect(Object.keys(chat.responses)).toEqual(['200', '404', '422', '429', '501', '502', '504']);
    expect(chat.responses[429].content['application/json'].schema.$ref).toBe('#/components/schemas/RateLimitError');
    expect(doc.paths['/endpoints/emb/invocations'].post.responses[200].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/EmbeddingsResponse' });
    expect(doc.paths['/api/2.0/endpoints/{name}'].get.parameters[0].schema.enum).toEqual(['chat', 'emb']);
    expect(doc.tags.map((t: any) => t.name)).toEqual(['Gateway', 'Endpoints', 'Traffic routes']);
    expect(doc.tags.every((t: any) => t.description)).toBe(true);
  });
});
