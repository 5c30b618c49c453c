import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requestSchemas, type EndpointInfo, type GatewayApi, type HttpRouteInfo, type OpenAPIOperation, type PluginContext,
  type RouteDefinition, type RouteInfo,
} from '@gatehouse/sdk';
import plugin, { buildOpenAPI, docsPage, openAPIPath, pageLinks } from '../src/index.js';
import { startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const endpoints = [
  { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1, temperature: 0.2, max_tokens: 50 } } },
  { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'mock-completions' }, limit: { calls: 5, renewal_period: 'minute' } },
  { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'mock-embeddings' } },
];

/** Every `$ref` in the document points at a schema that exists. */
function danglingRefs(doc: any): string[] {
  const out: string[] = [];
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === '$ref' && typeof v === 'string') {
          const name = v.replace('#/components/schemas/', '');
          if (!v.startsWith('#/components/schemas/') || !doc.components.schemas[name]) out.push(v);
        } else walk(v);
      }
    }
  };
  walk(doc);
  return out;
}

/** Keys starting with `x-gatehouse` or `x-components` anywhere in the document. */
function leftoverExtensions(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) { if (/^x-(gatehouse|components)/.test(k)) out.push(k); walk(v); }
  };
  walk(doc);
  return out;
}

// Operations as a surface plugin writes them (docs-ui knows no plugin: these are fixtures).
const errorSchema = { type: 'object', properties: { detail: {} } };
const openAIError = { type: 'object', properties: { error: { type: 'object' } } };
const mlflowInvoke: OpenAPIOperation = {
  tags: ['Endpoints'], operationId: 'invoke',
  responses: { 404: { description: 'No such endpoint.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
  'x-gatehouse-invocation': {
    in: 'path', param: 'name', routeTag: 'Traffic routes', aliases: ['/gateway/{name}/invocations'],
    responseProperties: { 'llm/v1/chat': { provider: { type: ['string', 'null'] } } },
  },
  'x-components': { schemas: { Error: errorSchema }, tags: [{ name: 'Endpoints', description: 'One per endpoint.' }, { name: 'Traffic routes', description: 'Routes.' }] },
};
const v1 = (type: string, extra: Record<string, unknown> = {}): OpenAPIOperation => ({
  tags: ['OpenAI-compatible'], operationId: `openai_${type.slice(7)}`,
  responses: { 400: { description: 'Bad request.', content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenAIError' } } } } },
  'x-gatehouse-invocation': { in: 'body', param: 'model', type, terminator: '[DONE]', usageExample: true, ...extra },
  'x-components': { schemas: { OpenAIError: openAIError } },
});

const fixtureRoutes: HttpRouteInfo[] = [
  { method: 'GET', path: '/health', surface: 'mlflow', access: 'public', owner: 'mlflow', openapi: { tags: ['Gateway'], operationId: 'health', responses: { 200: { description: 'up' } } } },
  { method: 'GET', path: '/api/2.0/endpoints/', surface: 'mlflow', access: 'caller', owner: 'mlflow', openapi: { tags: ['Gateway'], operationId: 'list_endpoints', responses: { 200: { description: 'list' } } } },
  {
    method: 'GET', path: '/api/2.0/endpoints/:name', surface: 'mlflow', access: 'caller', owner: 'mlflow',
    openapi: { tags: ['Gateway'], operationId: 'get_endpoint', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' }, 'x-gatehouse-names': 'endpoints' }], responses: { 200: { description: 'one' } } },
  },
  { method: 'GET', path: '/api/3.0/gateway/route/:name', surface: 'mlflow', access: 'caller', owner: 'mlflow', openapi: null },
  { method: 'POST', path: '/endpoints/:name/invocations', surface: 'mlflow', access: 'caller', owner: 'mlflow', openapi: mlflowInvoke },
  { method: 'POST', path: '/gateway/:name/invocations', surface: 'mlflow', access: 'caller', owner: 'mlflow', openapi: null },
  { method: 'POST', path: '/v1/chat/completions', surface: 'openai', access: 'caller', owner: 'openai-compat', openapi: v1('llm/v1/chat') },
  {
    method: 'POST', path: '/v1/embeddings', surface: 'openai', access: 'caller', owner: 'openai-compat',
    openapi: v1('llm/v1/embeddings', {
      requestProperties: { encoding_format: { enum: ['float', 'base64'] } },
      examples: { base64: { summary: 'Embeddings as base64 float32', value: { encoding_format: 'base64' } } },
    }),
  },
  {
    method: 'GET', path: '/v1/models/:id', surface: 'openai', access: 'caller', owner: 'openai-compat',
    openapi: { operationId: 'openai_get_model', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, 'x-gatehouse-names': 'targets' }], responses: { 200: { description: 'model' } } },
  },
  { method: 'GET', path: '/docs', surface: 'mlflow', access: 'public', owner: 'docs-ui', openapi: null },
];

function fakeGateway(eps: EndpointInfo[], routes: RouteInfo[] = [], caps: Record<string, string[]> = {}, httpRoutes = fixtureRoutes): GatewayApi {
  return {
    version: '0.0.0-test',
    httpRoutes: () => httpRoutes,
    endpoints: () => eps,
    routes: () => routes,
    lookup: () => undefined,
    invoke: () => { throw new Error('not used'); },
    capabilities: (n) => (caps[n] ?? ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings']) as never,
  };
}

const ep = (name: string, endpoint_type: EndpointInfo['endpoint_type'], over: Partial<EndpointInfo> = {}): EndpointInfo =>
  ({ name, endpoint_type, model: { name: 'm', provider: 'p' }, limit: null, defaults: {}, slices: {}, ...over });

describe('buildOpenAPI', () => {
  it('describes each endpoint and route with its type\'s schemas and examples', () => {
    const doc = buildOpenAPI(fakeGateway(
      [
        ep('c', 'llm/v1/chat', { defaults: { temperature: 0.2, max_tokens: 100 } }),
        ep('e', 'llm/v1/embeddings', { limit: { calls: 5, key: null, renewal_period: 'minute' } }),
        ep('nostream', 'llm/v1/completions'),
      ],
      [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'c', traffic_percentage: 100 }], routing_strategy: 'TRAFFIC_SPLIT', slices: {} }],
      { nostream: ['completions'] },
    ), { version: '9.9.9' }) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Gatehouse', version: '9.9.9' });
    expect(doc.info.description).not.toMatch(/traces|metrics/);
    expect(danglingRefs(doc)).toEqual([]);
    expect(leftoverExtensions(doc)).toEqual([]);

    const chat = doc.paths['/endpoints/c/invocations'].post;
    expect([chat.operationId, chat.summary, chat.tags]).toEqual(['invoke_c', 'Chat: c', ['Endpoints']]);
    expect(chat.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ChatRequest' });
    expect(chat.requestBody.content['application/json'].examples.basic.value).toEqual((requestSchemas['llm/v1/chat'].examples as unknown[])[0]);
    expect(chat.requestBody.content['application/json'].examples.stream.value.stream).toBe(true);
    expect(Object.keys(chat.responses[200].content)).toEqual(['application/json', 'text/event-stream']);
    expect(chat.responses[200].content['application/json'].schema).toEqual({ allOf: [{ $ref: '#/components/schemas/ChatResponse' }, { type: 'object', properties: { provider: { type: ['string', 'null'] } } }] });
    expect(chat.responses[200].content['text/event-stream'].schema.description).toContain('no terminator');
    expect(chat.responses[404].content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
    // The endpoint's default parameters (model.config) and its alias are in its description.
    expect(chat.description).toContain('Default parameters: `temperature` 0.2, `max_tokens` 100');
    expect(chat.description).toContain('Also at `/gateway/c/invocations`');

    const emb = doc.paths['/endpoints/e/invocations'].post;
    expect(emb.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/EmbeddingsRequest');
    expect(Object.keys(emb.responses[200].content)).toEqual(['application/json']);
    expect(emb.responses[200].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/EmbeddingsResponse' });
    expect(emb.description).toContain('Limited to 5 calls per minute.');
    expect(emb.description).not.toContain('Default parameters');

    // A provider without a streaming method: no streaming described.
    const ns = doc.paths['/endpoints/nostream/invocations'].post;
    expect(Object.keys(ns.responses[200].content)).toEqual(['application/json']);
    expect(ns.requestBody.content['application/json'].examples.stream).toBeUndefined();

    const split = doc.paths['/endpoints/split/invocations'].post;
    expect([split.tags, split.operationId]).toEqual([['Traffic routes'], 'invoke_split']);
    expect(split.description).toContain('`c` 100%');
    expect(doc.components.schemas.ChatRequest.$id).toBeUndefined();
    expect(doc.components.schemas.ChatRequest.required).toEqual(['messages']);

    // Body-named invocations: the field enumerates the names of the right type, examples name one.
    const v1chat = doc.paths['/v1/chat/completions'].post;
    const body = v1chat.requestBody.content['application/json'];
    expect(body.schema.allOf[1].properties.model.enum).toEqual(['c', 'split']);
    expect(body.schema.allOf[1].required).toEqual(['model']);
    expect(body.examples.basic.value.model).toBe('c');
    expect(body.examples.stream_usage.value.stream_options).toEqual({ include_usage: true });
    expect(v1chat.responses[200].content['text/event-stream'].schema.description).toContain('then `data: [DONE]`');
    expect(v1chat.responses[400].content['application/json'].schema.$ref).toBe('#/components/schemas/OpenAIError');
    const v1emb = doc.paths['/v1/embeddings'].post.requestBody.content['application/json'];
    expect(v1emb.examples.base64.value).toEqual({ model: 'e', ...(requestSchemas['llm/v1/embeddings'].examples as any[])[0], encoding_format: 'base64' });
    expect(v1emb.schema.allOf[1].properties.encoding_format).toEqual({ enum: ['float', 'base64'] });

    // Path parameters: named lists filled in from the running configuration.
    expect(doc.paths['/api/2.0/endpoints/{name}'].get.parameters[0].schema.enum).toEqual(['c', 'e', 'nostream']);
    expect(doc.paths['/v1/models/{id}'].get.parameters[0].schema.enum).toEqual(['c', 'e', 'nostream', 'split']);
    // No tags given: the owning plugin's name.
    expect(doc.paths['/v1/models/{id}'].get.tags).toEqual(['openai-compat']);
    expect(doc.tags).toEqual([
      { name: 'Gateway' }, { name: 'Endpoints', description: 'One per endpoint.' }, { name: 'Traffic routes', description: 'Routes.' },
      { name: 'OpenAI-compatible' }, { name: 'openai-compat' },
    ]);
  });

  it('describes only routes that carry an operation, and copes with no endpoints', () => {
    const mlflowOnly = fixtureRoutes.filter((r) => r.owner !== 'openai-compat');
    const doc = buildOpenAPI(fakeGateway([], [], {}, mlflowOnly), { version: '1' }) as any;
    expect(Object.keys(doc.paths)).toEqual(['/health', '/api/2.0/endpoints/', '/api/2.0/endpoints/{name}']);
    expect(doc.paths['/api/2.0/endpoints/{name}'].get.parameters[0].schema).toEqual({ type: 'string' });
    expect(danglingRefs(doc)).toEqual([]);
    expect(leftoverExtensions(doc)).toEqual([]);
  });

  it('does not change the operations the plugins gave', () => {
    const before = JSON.stringify(fixtureRoutes);
    buildOpenAPI(fakeGateway([ep('c', 'llm/v1/chat')]), { version: '1' });
    expect(JSON.stringify(fixtureRoutes)).toBe(before);
  });

  it('turns koa paths into OpenAPI paths', () => {
    expect(openAPIPath('/a/:name/b/:id?')).toBe('/a/{name}/b/{id}');
  });
});

describe('the page', () => {
  it('escapes the title and names no other host', () => {
    expect(docsPage('<x>')).toContain('<title>&#60;x&#62;</title>');
    expect(docsPage()).not.toMatch(/https?:\/\//);
    expect(docsPage()).not.toContain('<header');
  });

  it('links the trace browser in its header when the tracing plugin mounts GET /docs/traces', () => {
    const without = fakeGateway([]);
    expect(pageLinks(without)).toEqual([]);
    const traces: HttpRouteInfo = { method: 'GET', path: '/docs/traces', surface: 'mlflow', access: 'public', owner: 'tracing', openapi: null };
    const links = pageLinks(fakeGateway([], [], {}, [...fixtureRoutes, traces]));
    expect(links).toEqual([{ href: 'docs/traces', text: 'Traces' }]);
    const html = docsPage({ links });
    expect(html).toContain('<header class="gatehouse"><nav><a href="docs/traces">Traces</a></nav></header>');
    expect(html).not.toMatch(/https?:\/\//);
  });
});

describe('the routes docs-ui adds', () => {
  const register = (config: Record<string, unknown>) => {
    const routes: RouteDefinition[] = [];
    plugin.register({ name: 'docs-ui', config, route: (r: RouteDefinition) => routes.push(r) } as unknown as PluginContext);
    return routes;
  };

  it('are public by default, and none is in the document', () => {
    const routes = register({});
    expect(routes.map((r) => `${r.method} ${r.path} ${r.access}`)).toEqual([
      'GET / public', 'GET /docs public', 'GET /docs/assets/:file public', 'GET /favicon.ico public', 'GET /openapi.json public',
    ]);
    expect(routes.every((r) => r.openapi === undefined)).toBe(true);
  });

  it('`docs-ui: {access: caller}` puts them behind the guard', () => {
    expect(register({ access: 'caller' }).every((r) => r.access === 'caller')).toBe(true);
    expect((plugin.config?.section as any).properties.access.enum).toEqual(['public', 'caller']);
  });
});

describe('docs-ui on a running gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => { gw = await startTestGateway({ config: { endpoints }, logLevel: 'warn' }); });
  afterAll(async () => { await gw?.close(); });

  it('redirects / to /docs', async () => {
    const res = await fetch(`${gw.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe('/docs');
  });

  it('serves the Swagger UI page and its files from swagger-ui-dist, no CDN', async () => {
    const res = await fetch(`${gw.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<title>Gatehouse</title>');
    expect(html).not.toMatch(/https?:\/\//);
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const r = await fetch(new URL(src[1]!, `${gw.url}/docs`));
      expect(r.status, src[1]).toBe(200);
      expect((await r.arrayBuffer()).byteLength, src[1]).toBeGreaterThan(100);
    }
    // The header links the trace browser exactly when something serves it.
    const traces = await fetch(`${gw.url}/docs/traces`);
    await traces.arrayBuffer();
    expect(html.includes('href="docs/traces"')).toBe(traces.status === 200);
    const css = await fetch(`${gw.url}/docs/assets/swagger-ui.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${gw.url}/favicon.ico`)).headers.get('content-type')).toBe('image/png');
  });

  it('serves only the files it knows', async () => {
    for (const p of ['package.json', 'index.html', '..%2Fpackage.json', '%2E%2E%2F%2E%2E%2Fpackage.json', 'absolute-path.js']) {
      expect((await fetch(`${gw.url}/docs/assets/${p}`)).status, p).toBe(404);
    }
  });

  it('describes the live gateway in /openapi.json', async () => {
    const res = await fetch(`${gw.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json() as any;
    expect(doc.info).toMatchObject({ title: 'Gatehouse', version: pkg.version });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/endpoints/chat/invocations', '/endpoints/completions/invocations', '/endpoints/embeddings/invocations',
      '/health', '/api/2.0/endpoints/', '/api/2.0/endpoints/{name}',
      '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/v1/models/{id}',
    ]));
    // Not in MLflow's document, so not in ours.
    for (const p of ['/gateway/chat/invocations', '/api/2.0/gateway/routes/', '/api/3.0/gateway/endpoint/{name}', '/docs', '/openapi.json', '/']) {
      expect(doc.paths[p], p).toBeUndefined();
    }
    expect(doc.paths['/endpoints/completions/invocations'].post.description).toContain('Limited to 5 calls per minute');
    expect(doc.paths['/endpoints/chat/invocations'].post.description).toContain('Default parameters: `temperature` 0.2, `max_tokens` 50');
    expect(doc.paths['/api/2.0/endpoints/{name}'].get.parameters[0].schema.enum).toEqual(['chat', 'completions', 'embeddings']);
    expect(danglingRefs(doc)).toEqual([]);
    expect(leftoverExtensions(doc)).toEqual([]);
  });

  it('the examples in the document are accepted by the gateway', async () => {
    const doc = await (await fetch(`${gw.url}/openapi.json`)).json() as any;
    let tried = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const examples = item.post?.requestBody?.content['application/json'].examples ?? {};
      for (const [name, ex] of Object.entries<any>(examples)) {
        const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ex.value) });
        expect(res.status, `${path} ${name}`).toBe(200);
        const ct = res.headers.get('content-type')!;
        expect(ct.startsWith(ex.value.stream ? 'text/event-stream' : 'application/json'), `${path} ${name}: ${ct}`).toBe(true);
        await res.text();
        tried++;
      }
    }
    // At least the MLflow invocations: chat and completions (basic, stream), embeddings (basic).
    expect(tried).toBeGreaterThanOrEqual(5);
  });

  it('follows a config reload without a restart', async () => {
    writeFileSync(gw.configPath, stringify({
      endpoints: [...endpoints, { name: 'chat-2', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat-2' } }],
    }));
    expect(await gw.gateway.reload()).toBe(true);
    const doc = await (await fetch(`${gw.url}/openapi.json`)).json() as any;
    expect(doc.paths['/endpoints/chat-2/invocations'].post.summary).toBe('Chat: chat-2');
  });
});

describe('docs-ui behind the guard', () => {
  const KEY = 'gh-docs-ui-test-key-0123456789';
  const open = (gw: TestGateway, path: string, key?: string) =>
    fetch(`${gw.url}${path}`, { redirect: 'manual', headers: key ? { authorization: `Bearer ${key}` } : {} }).then(async (r) => { await r.arrayBuffer(); return r.status; });

  it('is public by default while the API asks for a key; `access: caller` asks for one too', async () => {
    const auth = { keys: [{ name: 'tester', key: '$DOCS_UI_TEST_KEY' }] };
    const byDefault = await startTestGateway({ config: { endpoints, auth }, env: { DOCS_UI_TEST_KEY: KEY }, logLevel: 'warn' });
    try {
      for (const p of ['/', '/docs', '/docs/assets/swagger-ui.css', '/favicon.ico', '/openapi.json']) expect(await open(byDefault, p), p).toBeLessThan(400);
      expect(await open(byDefault, '/api/2.0/endpoints/')).toBe(401);
      expect(await open(byDefault, '/health')).toBe(200);
    } finally { await byDefault.close(); }

    const guarded = await startTestGateway({ config: { endpoints, auth, 'docs-ui': { access: 'caller' } }, env: { DOCS_UI_TEST_KEY: KEY }, logLevel: 'warn' });
    try {
      for (const p of ['/', '/docs', '/docs/assets/swagger-ui.css', '/favicon.ico', '/openapi.json']) {
        expect(await open(guarded, p), p).toBe(401);
        expect(await open(guarded, p, KEY), p).toBeLessThan(400);
      }
      expect(await open(guarded, '/health')).toBe(200);
    } finally { await guarded.close(); }
  });
});
