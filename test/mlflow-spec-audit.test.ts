/**
 * Divergences from MLflow's wire behaviour found by auditing the MLflow surface against the spec
 * (../shared/reference/mlflow-gateway-spec.md), each checked on a running gateway:
 *
 * - §2 routing: MLflow registers one invocation route per configured name, so a path naming no
 *   endpoint or traffic route is a 404 for every method (not a 405), and is never redirected.
 * - §2 trailing slashes: Starlette's `redirect_slashes` strips every trailing slash (or adds one)
 *   and redirects when a route matches the other form for any method (a POST-only path's GET too).
 * - §5 list paging: FastAPI reads a repeated scalar query parameter as its last value.
 * - §7/§10 upstream errors: an `error` object without `message` gives aiohttp's reason phrase.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

const chatBody = { messages: [{ role: 'user', content: 'hi' }] };
const manual = (url: string, method = 'GET') => fetch(url, { method, redirect: 'manual' });

describe('MLflow surface: audit against the spec', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat' } },
          { name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } },
          { name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: 'sk-audit-test-0123456789', openai_api_base: `${up.url}/v1` } } },
        ],
        routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 100 }] }],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('§2: an invocation path naming no endpoint or route is a 404 for every method; a known name is a 405 (Allow: POST)', async () => {
    for (const base of ['endpoints', 'gateway']) {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const unknown = await manual(`${gw.url}/${base}/nope/invocations`, method);
        expect([base, method, unknown.status, await unknown.text()]).toEqual([base, method, 404, '{"detail":"Not Found"}']);
        for (const name of ['chat', 'split']) {
          const known = await manual(`${gw.url}/${base}/${name}/invocations`, method);
          expect([base, method, name, known.status, known.headers.get('allow'), await known.text()])
            .toEqual([base, method, name, 405, 'POST', '{"detail":"Method Not Allowed"}']);
        }
      }
      const head = await manual(`${gw.url}/${base}/nope/invocations`, 'HEAD');
      expect(head.status).toBe(404);
      // The POST itself is unchanged: the bare 404.
      expect((await postJson(`${gw.url}/${base}/nope/invocations`, chatBody)).text).toBe('{"detail":"Not Found"}');
    }
  });

  it('§2: paths match case-sensitively, as Starlette\'s routes do (/HEALTH is a 404)', async () => {
    for (const path of ['/HEALTH', '/Health', '/API/2.0/endpoints/', '/V1/models']) {
      const r = await manual(`${gw.url}${path}`, 'GET');
      expect([path, r.status, await r.text()]).toEqual([path, 404, '{"detail":"Not Found"}']);
    }
    expect((await postJson(`${gw.url}/ENDPOINTS/chat/invocations`, chatBody)).status).toBe(404);
    expect((await manual(`${gw.url}/health`, 'GET')).status).toBe(200);
  });

  it('§2: trailing slashes are redirected as Starlette does', async () => {
    // No redirect to an invocation path that names nothing: MLflow has no route there.
    for (const path of ['/endpoints/nope/invocations/', '/gateway/nope/invocations/']) {
      const r = await manual(`${gw.url}${path}`, 'POST');
      expect([path, r.status, await r.text()]).toEqual([path, 404, '{"detail":"Not Found"}']);
    }
    // A route for the other form with another method still redirects (then answers 405).
    const cases: Array<[string, string, string]> = [
      ['POST', '/endpoints/chat/invocations/', '/endpoints/chat/invocations'],
      ['GET', '/endpoints/chat/invocations/', '/endpoints/chat/invocations'],
      ['GET', '/gateway/split/invocations/', '/gateway/split/invocations'],
      ['POST', '/api/3.0/gateway/route/split/', '/api/3.0/gateway/route/split'],
      ['POST', '/api/2.0/endpoints', '/api/2.0/endpoints/'],
      // Every trailing slash is stripped (`path.rstrip("/")`).
      ['GET', '/health//', '/health'],
      ['GET', '/api/2.0/endpoints/chat///', '/api/2.0/endpoints/chat'],
    ];
    for (const [method, path, location] of cases) {
      const r = await manual(`${gw.url}${path}`, method);
      expect([method, path, r.status, r.headers.get('location')]).toEqual([method, path, 307, location]);
    }
    const followed = await manual(`${gw.url}/endpoints/chat/invocations`, 'GET');
    expect(followed.status).toBe(405);
    // `/api/2.0/endpoints//` strips to `/api/2.0/endpoints`, which no route matches.
    const doubled = await manual(`${gw.url}/api/2.0/endpoints//`);
    expect([doubled.status, await doubled.text()]).toEqual([404, '{"detail":"Not Found"}']);
    // The query string goes along.
    const q = await manual(`${gw.url}/api/2.0/endpoints?page_token=abc`);
    expect([q.status, q.headers.get('location')]).toEqual([307, '/api/2.0/endpoints/?page_token=abc']);
  });

  it('§5: a repeated page_token counts by its last value, as FastAPI reads a scalar query parameter', async () => {
    const second = Buffer.from('{"index": 1}').toString('base64');
    for (const [path, key] of [['/api/2.0/endpoints/', 'endpoints'], ['/api/2.0/gateway/routes/', 'routes']] as const) {
      const r = await fetch(`${gw.url}${path}?page_token=garbage&page_token=${second}`);
      const body = await r.json() as any;
      expect([path, r.status, body[key].map((e: { name: string }) => e.name), body.next_page_token]).toEqual([path, 200, ['emb', 'gpt'], null]);
      const bad = await fetch(`${gw.url}${path}?page_token=${second}&page_token=garbage`);
      expect([path, bad.status]).toEqual([path, 400]);
    }
  });

  it('§7: an upstream error object without a message gives the reason phrase, as aiohttp\'s does', async () => {
    up.on('POST /v1/chat/completions', { status: 429, json: { error: { type: 'requests', code: 'rate_limit' } } });
    const r = await postJson(`${gw.url}/endpoints/gpt/invocations`, chatBody);
    expect([r.status, r.text]).toEqual([429, '{"detail":"Too Many Requests"}']);
    up.on('POST /v1/chat/completions', { status: 503, json: { error: {} } });
    const r2 = await postJson(`${gw.url}/endpoints/gpt/invocations`, chatBody);
    expect([r2.status, r2.text]).toEqual([503, '{"detail":"Service Unavailable"}']);
  });
});
