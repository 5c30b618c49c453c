/**
 * The MLflow plugin without a kernel: what it registers, and each handler against a fake
 * GatewayApi (the end-to-end tests are in test/mlflow-surface.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  chatChunk, chatResponse, completionsChunk, GatewayError, isGatewayError, type EndpointInfo, type GatewayApi,
  type InvokeRequest, type InvokeResult, type Invocation, type PluginContext, type RouteDefinition, type RouteInfo,
  type RouteRequest, type SurfaceDefinition, type UnifiedChunk,
} from '@gatehouse/sdk';
import plugin, { encodePageToken, mlflowSurface, MLFLOW_VERSION } from '../src/index.js';

function registered() {
  const routes: RouteDefinition[] = [];
  const surfaces: SurfaceDefinition[] = [];
  const ctx = { route: (r: RouteDefinition) => routes.push(r), surface: (s: SurfaceDefinition) => surfaces.push(s) } as unknown as PluginContext;
  plugin.register(ctx);
  return { routes, surfaces };
}

const ep = (name: string, over: Partial<EndpointInfo> = {}): EndpointInfo => ({
  name, endpoint_type: 'llm/v1/chat', model: { name: `m-${name}`, provider: 'mock' }, limit: null, defaults: {}, slices: {}, ...over,
});

async function* gen<T>(items: T[]): AsyncGenerator<T> { for (const i of items) yield i; }

function fakeGateway(eps: EndpointInfo[], routes: RouteInfo[] = [], answer?: (r: InvokeRequest) => InvokeResult) {
  const calls: InvokeRequest[] = [];
  const gw: GatewayApi = {
    version: '0.0.0-test',
    httpRoutes: () => [],
    endpoints: () => eps,
    routes: () => routes,
    lookup: (n) => {
      const e = eps.find((x) => x.name === n);
      if (e) return { kind: 'endpoint', info: e };
      const r = routes.find((x) => x.name === n);
      return r ? { kind: 'route', info: r } : undefined;
    },
    invoke: async (r) => { calls.push(r); if (!answer) throw new Error('not expected'); return answer(r); },
    capabilities: () => [],
  };
  return { gw, calls };
}

function request(params: Record<string, string> = {}, query: Record<string, string> = {}): RouteRequest & { jsonCalls: number } {
  const req = {
    id: 'req-1', method: 'GET', path: '/', params, query, headers: {}, ip: '127.0.0.1', signal: new AbortController().signal,
    caller: null, setHeader() {}, jsonCalls: 0,
    async json() { req.jsonCalls++; return {}; },
  };
  return req;
}

const inv = (endpoint: EndpointInfo | null) => ({ endpoint, body: {} }) as unknown as Invocation;

function route(routes: RouteDefinition[], method: string, path: string): RouteDefinition {
  const r = routes.find((x) => x.method === method && x.path === path);
  if (!r) throw new Error(`no route ${method} ${path}`);
  return r;
}

async function collect(it: AsyncIterable<unknown>) { const out: any[] = []; for await (const x of it) out.push(x); return out; }

describe('what the mlflow plugin registers', () => {
  it('the surface: MLflow error shapes, the fallback for every unclaimed path', () => {
    const { surfaces } = registered();
    expect(surfaces.map((s) => [s.name, s.pathPrefix])).toEqual([['mlflow', '/']]);
    expect(surfaces[0]!.streamTerminator).toBeUndefined();
    const limited = new GatewayError('GW_ERR_RATE_LIMITED', 'Rate limit exceeded: 1 per 1 minute');
    expect(mlflowSurface.renderError(limited)).toEqual({ status: 429, body: { error: 'Rate limit exceeded: 1 per 1 minute' } });
    const detail = [{ type: 'missing', loc: ['body', 'messages'], msg: 'Field required', input: {} }];
    expect(mlflowSurface.renderError(new GatewayError('GW_ERR_REQUEST_VALIDATION', 'x', { detail }))).toEqual({ status: 422, body: { detail } });
    expect(mlflowSurface.renderError(new GatewayError('GW_ERR_INTERNAL', 'secret stack'))).toEqual({ status: 500, body: { detail: 'Internal Server Error' } });
    expect(mlflowSurface.renderStreamError!(new GatewayError('GW_ERR_UPSTREAM_STATUS', 'boom'))).toEqual({ error: { message: 'boom', type: 'upstream_error', code: 'GW_ERR_UPSTREAM_STATUS', status: 502 } });
  });

  it('the routes, who may call them, and which are in the OpenAPI document (as in MLflow\'s)', () => {
    const { routes } = registered();
    expect(routes.map((r) => `${r.method} ${r.path} ${r.access}${r.openapi ? ' openapi' : ''}`)).toEqual([
      'GET /health public openapi',
      'GET /api/2.0/endpoints/ caller openapi',
      'GET /api/2.0/endpoints/:name caller openapi',
      'GET /api/2.0/gateway/routes/ caller',
      'GET /api/2.0/gateway/routes/:name caller',
      'GET /api/3.0/gateway/endpoint/:name caller',
      'GET /api/3.0/gateway/route/:name caller',
      'POST /endpoints/:name/invocations caller openapi',
      'POST /gateway/:name/invocations caller',
    ]);
    // The limits APIs are the rate-limit plugin's.
    expect(routes.some((r) => r.path.includes('limits'))).toBe(false);
    expect(routes.every((r) => r.surface === 'mlflow')).toBe(true);
    const invocation = route(routes, 'POST', '/endpoints/:name/invocations').openapi!;
    expect(invocation['x-gatehouse-invocation']).toMatchObject({ in: 'path', param: 'name' });
    expect(Object.keys((invocation['x-components'] as any).schemas)).toEqual(['Error', 'ValidationError', 'RateLimitError']);
    expect(MLFLOW_VERSION).toBe('3.11');
  });
});

describe('invocations', () => {
  const chat = ep('chat', { model: { name: 'm-chat', provider: 'openai' } });
  const other = ep('other', { model: { name: 'm-other', provider: 'anthropic' } });
  const split: RouteInfo = { name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'other', traffic_percentage: 100 }], routing_strategy: 'TRAFFIC_SPLIT', slices: {} };

  it('an unknown name is MLflow\'s bare 404, before the body is read or the pipeline runs', async () => {
    const { routes } = registered();
    const { gw, calls } = fakeGateway([chat]);
    const req = request({ name: 'nope' });
    const e = await route(routes, 'POST', '/endpoints/:name/invocations').handler(req, gw).catch((x) => x);
    expect(isGatewayError(e) && [e.code, e.status, e.message]).toEqual(['GW_ERR_ROUTE_NOT_FOUND', 404, 'Not Found']);
    expect(calls).toHaveLength(0);
    expect(req.jsonCalls).toBe(0);
  });

  it('only the invocation routes say which names exist (MLflow has one static route per name): the edge answers 404, not 405, for the others', () => {
    const { routes } = registered();
    const { gw } = fakeGateway([chat, other], [split]);
    for (const path of ['/endpoints/:name/invocations', '/gateway/:name/invocations']) {
      const exists = route(routes, 'POST', path).exists!;
      expect([path, exists({ name: 'chat' }, gw), exists({ name: 'split' }, gw), exists({ name: 'nope' }, gw), exists({}, gw)]).toEqual([path, true, true, false, false]);
    }
    expect(routes.filter((r) => r.exists).map((r) => r.path)).toEqual(['/endpoints/:name/invocations', '/gateway/:name/invocations']);
  });

  it('hands the request to the pipeline without reading the body; chat answers end with "provider"', async () => {
    const { routes } = registered();
    const value = chatResponse({ id: 'x', created: 1, model: 'gpt', choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    const { gw, calls } = fakeGateway([chat], [], () => ({ kind: 'json', value, invocation: inv(chat) }));
    for (const path of ['/endpoints/:name/invocations', '/gateway/:name/invocations']) {
      const req = request({ name: 'chat' });
      const out = await route(routes, 'POST', path).handler(req, gw) as { json: any };
      expect(req.jsonCalls).toBe(0);
      expect(calls.at(-1)).toEqual({ req, surface: 'mlflow', target: 'chat' });
      expect(Object.keys(out.json)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'provider']);
      expect(out.json.provider).toBe('openai');
      expect(out.json.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
    }
  });

  it('chat chunks carry "usage": null and "provider"; the last usage chunk is forwarded', async () => {
    const { routes } = registered();
    const chunks: UnifiedChunk[] = [
      chatChunk({ id: 'c', created: 1, model: 'm', choices: [{ delta: { role: 'assistant', content: 'a' } }] }),
      chatChunk({ id: 'c', created: 1, model: 'm', choices: [{ delta: {}, finish_reason: 'stop' }] }),
      chatChunk({ id: 'c', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }),
    ];
    // Through a traffic route: the provider is the one of the destination that served.
    const { gw } = fakeGateway([chat, other], [split], () => ({ kind: 'stream', chunks: gen(chunks), invocation: inv(other) }));
    const out = await route(routes, 'POST', '/endpoints/:name/invocations').handler(request({ name: 'split' }), gw) as { sse: AsyncIterable<unknown>; invocation: Invocation };
    expect(out.invocation.endpoint).toBe(other);
    const events = await collect(out.sse);
    expect(events.map((e) => JSON.stringify(e))).toEqual([
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"finish_reason":null,"delta":{"role":"assistant","content":"a","tool_calls":null}}],"usage":null,"provider":"anthropic"}',
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","delta":{"role":null,"content":null,"tool_calls":null}}],"usage":null,"provider":"anthropic"}',
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"provider":"anthropic"}',
    ]);
  });

  it('completions chunks keep MLflow\'s field set; the usage chunk is forwarded with its usage', async () => {
    const { routes } = registered();
    const cmpl = ep('cmpl', { endpoint_type: 'llm/v1/completions' });
    const chunks: UnifiedChunk[] = [
      completionsChunk({ id: 'k', created: 1, model: 'm', choices: [{ text: 'a', finish_reason: 'length' }] }),
      completionsChunk({ id: 'k', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 2, completion_tokens: 1 } }),
    ];
    const { gw } = fakeGateway([cmpl], [], () => ({ kind: 'stream', chunks: gen(chunks), invocation: inv(cmpl) }));
    const out = await route(routes, 'POST', '/endpoints/:name/invocations').handler(request({ name: 'cmpl' }), gw) as { sse: AsyncIterable<unknown> };
    expect((await collect(out.sse)).map((e) => JSON.stringify(e))).toEqual([
      '{"id":"k","object":"text_completion_chunk","created":1,"model":"m","choices":[{"index":0,"finish_reason":"length","text":"a"}]}',
      '{"id":"k","object":"text_completion_chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}',
    ]);
  });
});

describe('reads', () => {
  const eps = [
    ep('a', { limit: { calls: 10, key: null, renewal_period: 'minute', burst: 20 } }),
    ep('b', { endpoint_type: 'llm/v1/embeddings', model: { name: null, provider: 'mock' } }),
  ];
  const routesInfo: RouteInfo[] = [{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 70, weight: 9 }, { name: 'b', traffic_percentage: 30 }], routing_strategy: 'TRAFFIC_SPLIT', slices: {} }];

  it('endpoint JSON in MLflow\'s field order; `limit` shows calls, key and renewal_period only', async () => {
    const { routes } = registered();
    const { gw } = fakeGateway(eps, routesInfo);
    const list = await route(routes, 'GET', '/api/2.0/endpoints/').handler(request(), gw) as { json: unknown };
    expect(JSON.stringify(list.json)).toBe(JSON.stringify({
      endpoints: [
        { name: 'a', endpoint_type: 'llm/v1/chat', model: { name: 'm-a', provider: 'mock' }, endpoint_url: '/gateway/a/invocations', limit: { calls: 10, key: null, renewal_period: 'minute' } },
        { name: 'b', endpoint_type: 'llm/v1/embeddings', model: { name: null, provider: 'mock' }, endpoint_url: '/gateway/b/invocations', limit: null },
      ],
      next_page_token: null,
    }));
    const one = await route(routes, 'GET', '/api/3.0/gateway/endpoint/:name').handler(request({ name: 'b' }), gw) as { json: unknown };
    expect(one.json).toEqual((list.json as any).endpoints[1]);
    const legacy = await route(routes, 'GET', '/api/2.0/gateway/routes/:name').handler(request({ name: 'b' }), gw) as { json: unknown };
    expect(JSON.stringify(legacy.json)).toBe('{"name":"b","route_type":"llm/v1/embeddings","model":{"name":null,"provider":"mock"},"route_url":"/gateway/b/invocations","limit":null}');
  });

  it('traffic routes: only the 3.0 route read shows them, with MLflow\'s destination fields', async () => {
    const { routes } = registered();
    const { gw } = fakeGateway(eps, routesInfo);
    const r = await route(routes, 'GET', '/api/3.0/gateway/route/:name').handler(request({ name: 'r' }), gw) as { json: unknown };
    expect(JSON.stringify(r.json)).toBe('{"name":"r","task_type":"llm/v1/chat","destinations":[{"name":"a","traffic_percentage":70},{"name":"b","traffic_percentage":30}],"routing_strategy":"TRAFFIC_SPLIT"}');
    for (const [path, message] of [
      ['/api/2.0/endpoints/:name', "The endpoint 'r' is not present or active on the server. Please verify the endpoint name."],
      ['/api/2.0/gateway/routes/:name', "The route 'r' is not present or active on the server. Please verify the route name."],
    ] as const) {
      const e = await route(routes, 'GET', path).handler(request({ name: 'r' }), gw).catch((x) => x);
      expect([e.status, e.message]).toEqual([404, message]);
    }
    const e = await route(routes, 'GET', '/api/3.0/gateway/route/:name').handler(request({ name: 'a' }), gw).catch((x) => x);
    expect([e.status, e.message]).toEqual([404, "The route 'a' is not present or active on the server. Please verify the route name."]);
  });

  it('pages with MLflow\'s tokens and refuses a token it did not issue', async () => {
    const { routes } = registered();
    const many = Array.from({ length: 3001 }, (_, i) => ep(`e${i}`));
    const { gw } = fakeGateway(many);
    const list = route(routes, 'GET', '/api/2.0/gateway/routes/');
    const first = await list.handler(request(), gw) as { json: any };
    expect([first.json.routes.length, first.json.next_page_token]).toEqual([3000, 'eyJpbmRleCI6IDMwMDB9']);
    expect(encodePageToken(3000)).toBe('eyJpbmRleCI6IDMwMDB9');
    const second = await list.handler(request({}, { page_token: first.json.next_page_token }), gw) as { json: any };
    expect([second.json.routes.map((r: any) => r.name), second.json.next_page_token]).toEqual([['e3000'], null]);
    for (const bad of ['garbage', Buffer.from('{"index": -1}').toString('base64')]) {
      const e = await list.handler(request({}, { page_token: bad }), gw).catch((x) => x);
      expect([e.code, e.status]).toEqual(['GW_ERR_REQUEST_BAD', 400]);
    }
  });

  it('a repeated page_token counts by its last value (FastAPI\'s reading of a scalar query parameter)', async () => {
    const { routes } = registered();
    const { gw } = fakeGateway(eps, routesInfo);
    const second = Buffer.from('{"index": 1}').toString('base64');
    for (const [path, key] of [['/api/2.0/endpoints/', 'endpoints'], ['/api/2.0/gateway/routes/', 'routes']] as const) {
      const query = { page_token: ['garbage', second] } as unknown as Record<string, string>;
      const out = await route(routes, 'GET', path).handler(request({}, query), gw) as { json: any };
      expect([path, out.json[key].map((e: { name: string }) => e.name)]).toEqual([path, ['b']]);
    }
  });

  it('/health', async () => {
    const { routes } = registered();
    expect(await route(routes, 'GET', '/health').handler(request(), fakeGateway([]).gw)).toEqual({ json: { status: 'OK' } });
  });
});
