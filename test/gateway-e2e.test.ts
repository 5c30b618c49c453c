import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { callOnNewConnection, postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';

const KEY = 'sk-secret-test-key-0123456789';
const chatBody = { messages: [{ role: 'user', content: 'hi' }] };
const chunk = (content: string | null, finish: string | null = null) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] });

describe('gateway end to end (OpenAI provider against a fake upstream)', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startTestGateway({
      env: { TEST_OPENAI_KEY: KEY },
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$TEST_OPENAI_KEY', openai_api_base: `${up.url}/v1` } } },
          { name: 'slow', endpoint_type: 'llm/v1/chat', timeout_seconds: 0.3, model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$TEST_OPENAI_KEY', openai_api_base: `${up.url}/slow/v1` } } },
          { name: 'dead', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$TEST_OPENAI_KEY', openai_api_base: 'http://127.0.0.1:9/v1' } } },
          { name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } },
          { name: 'emb4', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', config: { dimensions: 4 } } },
          // Seed 000's shape: a default max_tokens in model.config.
          { name: 'capped', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$TEST_OPENAI_KEY', openai_api_base: `${up.url}/v1`, max_tokens: 1000 } } },
        ],
        routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 100 }] }],
      },
    });
  });
  afterAll(async () => { await gw.close(); await up.close(); });

  it('the mock\'s model.config.dimensions sizes its embeddings (it arrives as the endpoint\'s default dimensions); a request\'s own wins', async () => {
    const r = await postJson(`${gw.url}/endpoints/emb4/invocations`, { input: ['a', 'b'] });
    expect(r.json.data.map((d: { embedding: number[] }) => d.embedding.length)).toEqual([4, 4]);
    const own = await postJson(`${gw.url}/endpoints/emb4/invocations`, { input: 'a', dimensions: 6 });
    expect(own.json.data[0].embedding).toHaveLength(6);
  });

  it('an endpoint\'s default max_tokens does not apply to a request that gives max_completion_tokens (OpenAI refuses both at once)', async () => {
    const answer = { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };
    up.on('POST /v1/chat/completions', { json: answer });
    const sent = async (extra: Record<string, unknown>) => {
      const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'capped', ...chatBody, ...extra });
      expect(r.status).toBe(200);
      const { max_tokens, max_completion_tokens } = up.last().json as Record<string, unknown>;
      return { max_tokens, max_completion_tokens };
    };
    expect(await sent({ max_completion_tokens: 50 })).toEqual({ max_tokens: undefined, max_completion_tokens: 50 });
    expect(await sent({})).toEqual({ max_tokens: 1000, max_completion_tokens: undefined });
    expect(await sent({ max_tokens: 20 })).toEqual({ max_tokens: 20, max_completion_tokens: undefined });
    expect(await sent({ max_tokens: null, max_completion_tokens: 30 })).toEqual({ max_tokens: undefined, max_completion_tokens: 30 });
  });

  it('an upstream 4xx keeps its status with {"detail": message}', async () => {
    up.on('POST /v1/chat/completions', { status: 400, json: { error: { message: 'bad things', type: 'invalid_request_error' } } });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, chatBody);
    expect([r.status, r.text]).toEqual([400, '{"detail":"bad things"}']);
  });

  it('a provider key is never shown, even when the upstream echoes it', async () => {
    up.on('POST /v1/chat/completions', { status: 401, json: { error: { message: `Incorrect API key provided: ${KEY}.` } } });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, chatBody);
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(KEY);
    expect(r.json.detail).toBe('Incorrect API key provided: [REDACTED].');
    expect(up.last().headers.authorization).toBe(`Bearer ${KEY}`);
    expect(gw.logs.join('\n')).not.toContain(KEY);
  });

  it('a stream line that never ends is a 502 once it passes 16 Mi characters, and the gateway keeps serving', async () => {
    up.on('POST /v1/chat/completions', { status: 200, contentType: 'text/event-stream', raw: `data: ${'x'.repeat(17 * 1024 * 1024)}` });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
    expect(r.status).toBe(502);
    expect(r.json.detail).toBe('The upstream sent a stream event larger than 16777216 characters.');
    up.on('POST /v1/chat/completions', { sse: [chunk('fine'), chunk(null, 'stop'), '[DONE]'] });
    const ok = await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('fine');
  });

  it('an unreachable upstream is a 502 with a clear detail', async () => {
    const r = await postJson(`${gw.url}/endpoints/dead/invocations`, chatBody);
    expect(r.status).toBe(502);
    expect(r.json.detail).toMatch(/^Could not reach the upstream at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)\.$/);
  });

  it('a slow upstream is a 504 after the endpoint timeout, and the gateway keeps serving', async () => {
    up.on('POST /slow/v1/chat/completions', { hang: true });
    const t0 = Date.now();
    const r = await postJson(`${gw.url}/endpoints/slow/invocations`, chatBody);
    expect(r.status).toBe(504);
    expect(r.json.detail).toContain('did not answer within 0.3 s');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await postJson(`${gw.url}/endpoints/emb/invocations`, { input: 'x' })).status).toBe(200);
  });

  it("an upstream 429's Retry-After reaches the caller on both surfaces, streams before the first byte included", async () => {
    up.on('POST /v1/chat/completions', { status: 429, headers: { 'retry-after': '7' }, json: { error: { message: 'slow down' } } });
    const mlflow = await postJson(`${gw.url}/endpoints/chat/invocations`, chatBody);
    expect([mlflow.status, mlflow.headers.get('retry-after'), mlflow.json]).toEqual([429, '7', { detail: 'slow down' }]);
    const stream = await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
    expect([stream.status, stream.headers.get('retry-after')]).toEqual([429, '7']);
    const openai = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', ...chatBody, stream: true });
    expect([openai.status, openai.headers.get('retry-after'), openai.json.error.message]).toEqual([429, '7', 'slow down']);
  });

  it('a stream whose upstream fails before the first chunk answers with the status, not a 200', async () => {
    up.on('POST /v1/chat/completions', { status: 503, json: { error: { message: 'overloaded' } } });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
    expect([r.status, r.json]).toEqual([503, { detail: 'overloaded' }]);
  });

  it('an error after a stream started ends it with a final error event', async () => {
    up.on('POST /v1/chat/completions', { sse: [chunk('Hel'), chunk('lo'), { error: { message: 'The server had an error while processing your request.' } }] });
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chatBody, stream: true }) });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.slice(0, 2).map((e) => e.choices[0].delta.content)).toEqual(['Hel', 'lo']);
    expect(events[2]).toEqual({ error: { message: 'The server had an error while processing your request.', type: 'upstream_error', code: 'GW_ERR_UPSTREAM_STATUS', status: 502 } });
    expect(events).toHaveLength(3);
  });

  it('a client that disconnects mid-stream aborts the upstream call; others are unaffected', async () => {
    // The upstream sends three chunks and keeps its answer open (no finish, no [DONE]): only an abort can close it.
    up.on('POST /v1/chat/completions', { sse: [chunk('a'), chunk('b'), chunk('c')], holdOpen: true });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chatBody, stream: true }), signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const upstreamRequests = up.requests.length;
    const closesBefore = up.closes.length;
    ac.abort();
    // The fake upstream records the socket close of a request whose answer had not ended: the abort reached it.
    expect(await up.waitForCloses(closesBefore + 1, 3000)).toBe(true);
    expect(up.closes.at(-1)?.pathname).toBe('/v1/chat/completions');
    await vi.waitFor(() => expect(gw.gateway.current().inflight()).toBe(0), { timeout: 2000, interval: 20 });
    expect(up.requests.length).toBe(upstreamRequests);
    expect((await postJson(`${gw.url}/endpoints/emb/invocations`, { input: 'x' })).status).toBe(200);
  });

  it('streams reuse the upstream keep-alive connection: [DONE] before the end of the body does not cut it', async () => {
    // Each event its own write, [DONE] a moment before the body ends: the gateway stops reading at [DONE].
    up.on('POST /v1/chat/completions', { sse: [chunk('a'), chunk('b'), chunk(null, 'stop'), '[DONE]'], splitEvery: 64, chunkDelayMs: 5 });
    const closesBefore = up.closes.length;
    await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
    await new Promise((r) => setTimeout(r, 50));
    const connectionsBefore = up.connections;
    for (let i = 0; i < 5; i++) {
      const events = await readSse(await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chatBody, stream: true }) }));
      expect(events.map((e: any) => e.choices?.[0]?.delta?.content ?? null).join('')).toContain('ab');
      // The gateway answers at [DONE]; the upstream's last bytes follow 5 ms later, then the connection is free again.
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(up.connections - connectionsBefore).toBe(0);
    expect(up.closes.length).toBe(closesBefore);
  });

  it('a stream answer goes out with its first event in one write, not the headers alone first', async () => {
    up.on('POST /v1/chat/completions', { sse: [chunk('a'), chunk('b'), chunk(null, 'stop'), '[DONE]'] });
    // Each write the gateway makes on the connection (Node's net.Socket: one _writeGeneric call per write or writev).
    const writes: string[] = [];
    const server = gw.gateway.server!;
    const watch = (sock: import('node:net').Socket) => {
      const s = sock as unknown as { _writeGeneric(writev: boolean, data: unknown, encoding: string, cb: unknown): unknown };
      expect(typeof s._writeGeneric).toBe('function');
      const orig = s._writeGeneric;
      s._writeGeneric = function (writev, data, encoding, cb) {
        const parts = writev ? (data as Array<{ chunk: Buffer | string }>).map((d) => String(d.chunk)) : [String(data)];
        writes.push(parts.join(''));
        return orig.call(this, writev, data, encoding, cb);
      };
    };
    server.on('connection', watch);
    try {
      // A connection of its own (agent: false), so the watcher sees it from its start.
      const r = await callOnNewConnection('POST', `${gw.url}/endpoints/chat/invocations`, { ...chatBody, stream: true });
      expect(r.status).toBe(200);
      expect(r.text).toContain('"content":"a"');
    } finally { server.off('connection', watch); }
    expect(writes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n[0-9a-f]+\r\ndata: \{"id":"c1"/);
  });

  it("the 'model' field is refused on MLflow invocation paths", async () => {
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { ...chatBody, model: 'gpt-4' });
    expect([r.status, r.json.detail]).toEqual([422, "The parameter 'model' is not permitted to be passed. The route being queried already defines a model instance."]);
  });

  it('unknown names, wrong methods and trailing slashes behave like MLflow', async () => {
    expect((await postJson(`${gw.url}/endpoints/nope/invocations`, chatBody)).text).toBe('{"detail":"Not Found"}');
    const get = await fetch(`${gw.url}/endpoints/chat/invocations`);
    expect([get.status, await get.text()]).toEqual([405, '{"detail":"Method Not Allowed"}']);
    const post = await fetch(`${gw.url}/api/2.0/endpoints/chat`, { method: 'POST' });
    expect(post.status).toBe(405);
    const one = await fetch(`${gw.url}/api/2.0/endpoints/nope`);
    expect([one.status, await one.json()]).toEqual([404, { detail: "The endpoint 'nope' is not present or active on the server. Please verify the endpoint name." }]);
    const slash = await fetch(`${gw.url}/api/2.0/endpoints/chat/`, { redirect: 'manual' });
    expect([slash.status, slash.headers.get('location')]).toEqual([307, '/api/2.0/endpoints/chat']);
  });

  it('traffic routes: listed by the 3.0 route API, not as endpoints; invoked through the routing plugin', async () => {
    const r = await fetch(`${gw.url}/api/3.0/gateway/route/split`);
    expect(await r.text()).toBe('{"name":"split","task_type":"llm/v1/chat","destinations":[{"name":"chat","traffic_percentage":100}],"routing_strategy":"TRAFFIC_SPLIT"}');
    expect((await fetch(`${gw.url}/api/2.0/endpoints/split`)).status).toBe(404);
    up.on('POST /v1/chat/completions', { json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'routed' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } });
    const inv = await postJson(`${gw.url}/endpoints/split/invocations`, chatBody);
    expect([inv.status, inv.json.choices[0].message.content, inv.json.provider]).toEqual([200, 'routed', 'openai']);
  });

  it('legacy routes and the limits APIs', async () => {
    const legacy = await (await fetch(`${gw.url}/api/2.0/gateway/routes/emb`)).text();
    expect(legacy).toBe('{"name":"emb","route_type":"llm/v1/embeddings","model":{"name":null,"provider":"mock"},"route_url":"/gateway/emb/invocations","limit":null}');
    // The limits APIs are the rate-limit plugin's (get_limits shows the configured limits there).
    const lim = await fetch(`${gw.url}/api/2.0/endpoints/limits/chat`);
    expect([lim.status, Array.isArray((await lim.json() as any).limits)]).toEqual([200, true]);
    expect((await postJson(`${gw.url}/api/2.0/gateway/limits/`, { route: 'chat' })).status).toBe(422);
    expect((await postJson(`${gw.url}/api/2.0/gateway/limits/`, { route: 'chat', limits: [] })).json).toEqual({ detail: 'The set_limits API is not available yet.' });
  });
});

describe('endpoint list paging', () => {
  it('pages by 3000 with MLflow page tokens', async () => {
    const endpoints = Array.from({ length: 3001 }, (_, i) => ({ name: `e${i}`, endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }));
    const gw = await startTestGateway({ config: { endpoints } });
    try {
      const first = (await (await fetch(`${gw.url}/api/2.0/endpoints/`)).json() as any);
      expect(first.endpoints).toHaveLength(3000);
      expect(first.next_page_token).toBe('eyJpbmRleCI6IDMwMDB9');
      const second = (await (await fetch(`${gw.url}/api/2.0/endpoints/?page_token=${first.next_page_token}`)).json() as any);
      expect([second.endpoints.map((e: any) => e.name), second.next_page_token]).toEqual([['e3000'], null]);
      const bad = await fetch(`${gw.url}/api/2.0/endpoints/?page_token=garbage`);
      expect(bad.status).toBe(400);
    } finally { await gw.close(); }
  });
});

describe('hot reload', () => {
  it('swaps in a valid config and keeps serving the old one when the new one is invalid', async () => {
    const gw = await startTestGateway({ config: { endpoints: [{ name: 'a', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }] }, watch: true });
    try {
      writeFileSync(gw.configPath, 'endpoints:\n  - {name: b, endpoint_type: llm/v1/embeddings, model: {provider: mock}}\n');
      await expect.poll(async () => (await fetch(`${gw.url}/api/2.0/endpoints/b`)).status, { timeout: 5000 }).toBe(200);
      expect((await fetch(`${gw.url}/api/2.0/endpoints/a`)).status).toBe(404);
      writeFileSync(gw.configPath, 'endpoints:\n  - {name: c, endpoint_type: llm/v1/nope, model: {provider: mock}}\n');
      await expect.poll(() => gw.logs.some((l) => l.includes('Invalid configuration')), { timeout: 5000 }).toBe(true);
      expect((await fetch(`${gw.url}/api/2.0/endpoints/b`)).status).toBe(200);
      expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    } finally { await gw.close(); }
  });
});
