import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestSchemas, type EndpointInfo, type GatewayApi, type RouteInfo } from '@gatehouse/sdk';
import { buildOpenAPI, docsPage } from '../src/index.js';
import { startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const endpoints = [
  { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1 } } },
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

function fakeGateway(eps: EndpointInfo[], routes: RouteInfo[] = [], caps: Record<string, string[]> = {}): GatewayApi {
  return {
    version: '0.0.0-test',
    httpRoutes: () => [],
    endpoints: () => eps,
    routes: () => routes,
    lookup: () => undefined,
    invoke: () => { throw new Error('not used'); },
    capabilities: (n) => (caps[n] ?? ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings']) as never,
  };
}

describe('buildOpenAPI', () => {
  const ep = (name: string, endpoint_type: EndpointInfo['endpoint_type']): EndpointInfo => ({ name, endpoint_type, model: { name: 'm', provider: 'p' }, limit: null });

  it('describes each endpoint and route with its type\'s schemas and examples', () => {
    const doc = buildOpenAPI(fakeGateway(
      [ep('c', 'llm/v1/chat'), ep('e', 'llm/v1/embeddings'), ep('nostream', 'llm/v1/completions')],
      [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'c', traffic_percentage: 100 }], routing_strategy: 'TRAFFIC_SPLIT' }],
      { nostream: ['completions'] },
    ), { version: '9.9.9' }) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Gatehouse', version: '9.9.9' });
    expect(danglingRefs(doc)).toEqual([]);

    const chat = doc.paths['/endpoints/c/invocations'].post;
    expect(chat.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ChatRequest' });
    expect(chat.requestBody.content['application/json'].examples.basic.value).toEqual((requestSchemas['llm/v1/chat'].examples as unknown[])[0]);
    expect(chat.requestBody.content['application/json'].examples.stream.value.stream).toBe(true);
    expect(Object.keys(chat.responses[200].content)).toEqual(['application/json', 'text/event-stream']);
    expect(chat.responses[422].content['application/json'].schema.$ref).toBe('#/components/schemas/ValidationError');

    const emb = doc.paths['/endpoints/e/invocations'].post;
    expect(emb.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/EmbeddingsRequest');
    expect(Object.keys(emb.responses[200].content)).toEqual(['application/json']);

    // A provider without a streaming method: no streaming described.
    const ns = doc.paths['/endpoints/nostream/invocations'].post;
    expect(Object.keys(ns.responses[200].content)).toEqual(['application/json']);
    expect(ns.requestBody.content['application/json'].examples.stream).toBeUndefined();

    expect(doc.paths['/endpoints/split/invocations'].post.tags).toEqual(['Traffic routes']);
    expect(doc.components.schemas.ChatRequest.$id).toBeUndefined();
    expect(doc.components.schemas.ChatRequest.required).toEqual(['messages']);

    // /v1: model enumerates the names of the right type, examples name one.
    const v1 = doc.paths['/v1/chat/completions'].post.requestBody.content['application/json'];
    expect(v1.schema.allOf[1].properties.model.enum).toEqual(['c', 'split']);
    expect(v1.examples.basic.value.model).toBe('c');
    expect(doc.paths['/v1/embeddings'].post.requestBody.content['application/json'].examples.base64.value.encoding_format).toBe('base64');
    expect(doc.paths['/v1/chat/completions'].post.responses[400].content['application/json'].schema.$ref).toBe('#/components/schemas/OpenAIError');
  });

  it('leaves out the /v1 routes when asked, and copes with no endpoints', () => {
    const doc = buildOpenAPI(fakeGateway([]), { version: '1', openai: false }) as any;
    expect(Object.keys(doc.paths)).toEqual(['/health', '/api/2.0/endpoints/', '/api/2.0/endpoints/{name}']);
    expect(danglingRefs(doc)).toEqual([]);
  });

  it('escapes the page title', () => {
    expect(docsPage('<x>')).toContain('<title>&#60;x&#62;</title>');
    expect(docsPage()).not.toMatch(/https?:\/\//);
  });
});

describe('docs-ui on a running gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => { gw = await startTestGateway({ config: { endpoints }, logLevel: 'warn' }); });
  afterAll(async () => { await gw.close(); });

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
    expect(doc.paths['/endpoints/completions/invocations'].post.description).toContain('Limited to 5 calls per minute');
    expect(danglingRefs(doc)).toEqual([]);
  });

  it('the examples in the document are accepted by the gateway', async () => {
    const doc = await (await fetch(`${gw.url}/openapi.json`)).json() as any;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const examples = item.post?.requestBody?.content['application/json'].examples ?? {};
      for (const [name, ex] of Object.entries<any>(examples)) {
        const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ex.value) });
        expect(res.status, `${path} ${name}`).toBe(200);
        const ct = res.headers.get('content-type')!;
        expect(ct.startsWith(ex.value.stream ? 'text/event-stream' : 'application/json'), `${path} ${name}: ${ct}`).toBe(true);
        await res.text();
      }
    }
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
