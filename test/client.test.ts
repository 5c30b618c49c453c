/**
 * `@gatehouse/sdk/client`: first against a small fake gateway (every error shape, paging,
 * stream errors, early exit), then against the real gateway with the stock plugins.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError, BadRequestError, ConnectionError, GatewayClient, GatewayClientError, GatewayTimeoutError,
  NotFoundError, NotImplementedError, RateLimitError, ServerError, getDeployClient,
} from '@gatehouse/sdk/client';
import { REPO_ROOT, startTestGateway, type TestGateway } from './helpers/gateway.js';

type Handler = (req: IncomingMessage, body: any, res: ServerResponse) => void | Promise<void>;

async function fakeGateway(routes: Record<string, Handler>) {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: any }> = [];
  let closedEarly = 0;
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const body = raw ? JSON.parse(raw) : undefined;
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    res.on('close', () => { if (!res.writableFinished) closedEarly++; });
    const h = routes[`${req.method} ${req.url}`];
    if (!h) { res.writeHead(404, { 'content-type': 'application/json' }); res.end(JSON.stringify({ detail: 'Not Found' })); return; }
    await h(req, body, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    get closedEarly() { return closedEarly; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => (_req, _b, res) => {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-123', ...headers });
  res.end(JSON.stringify(body));
};
const endpoint = (name: string, type = 'llm/v1/chat') => ({ name, endpoint_type: type, model: { name: 'm', provider: 'mock' }, endpoint_url: `/gateway/${name}/invocations`, limit: null });
const chunk = (content: string | null, finish: string | null = null) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, finish_reason: finish, delta: { role: null, content, tool_calls: null } }] });

describe('client against a fake gateway', () => {
  let fake: Awaited<ReturnType<typeof fakeGateway>>;
  beforeAll(async () => {
    fake = await fakeGateway({
      'GET /api/2.0/endpoints/': json(200, { endpoints: [endpoint('chat'), endpoint('embeddings', 'llm/v1/embeddings')], next_page_token: 'eyJpbmRleCI6IDJ9' }),
      'GET /api/2.0/endpoints/?page_token=eyJpbmRleCI6IDJ9': json(200, { endpoints: [endpoint('completions', 'llm/v1/completions')], next_page_token: null }),
      'GET /api/2.0/endpoints/nope': json(404, { detail: "The endpoint 'nope' is not present or active on the server. Please verify the endpoint name." }),
      'POST /endpoints/bad/invocations': json(422, { detail: [{ type: 'missing', loc: ['body', 'messages'], msg: 'Field required', input: {} }] }),
      'POST /endpoints/limited/invocations': json(429, { error: 'Rate limit exceeded: 1 per 1 minute' }, { 'retry-after': '42' }),
      'POST /endpoints/openai-shaped/invocations': json(401, { error: { message: 'A gateway key is required.', type: 'authentication_error', param: null, code: 'GW_ERR_AUTH_MISSING' } }),
      'POST /endpoints/embeddings/invocations': json(501, { detail: 'The embeddings route is not implemented for Anthropic models.' }),
      'POST /endpoints/html/invocations': (_q, _b, res) => { res.writeHead(500, { 'content-type': 'text/plain', 'x-request-id': 'req-123' }); res.end('boom'); },
      'POST /endpoints/chat/invocations': (_req, body, res) => {
        if (!body.stream) return json(200, { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: `you said ${body.messages[0].content}`, tool_calls: null, refusal: null }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })(_req, body, res);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // Split inside an event and inside a multi-byte character.
        const text = ['Hé', 'llo ', 'wörld'].map((c) => `data: ${JSON.stringify(chunk(c))}\n\n`).join('') + `data: ${JSON.stringify(chunk(null, 'stop'))}\n\n`;
        const bytes = Buffer.from(text);
        res.write(bytes.subarray(0, 7)); res.write(bytes.subarray(7, 103)); res.end(bytes.subarray(103));
      },
      'POST /endpoints/failing/invocations': (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify(chunk('partial'))}\n\ndata: {"error": {"message": "The upstream at http://u did not answer within 5 s.", "type": "timeout_error", "code": "GW_ERR_UPSTREAM_TIMEOUT", "status": 504}}\n\n`);
      },
      'POST /endpoints/endless/invocations': async (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < 1000 && !res.destroyed; i++) { res.write(`data: ${JSON.stringify(chunk(`w${i} `))}\n\n`); await new Promise((r) => setTimeout(r, 5)); }
        res.end();
      },
      'POST /endpoints/slow/invocations': async (_req, _body, res) => { await new Promise((r) => setTimeout(r, 2000)); if (!res.destroyed) json(200, {})(_req, _body, res); },
      'GET /api/2.0/endpoints/limits/chat': json(200, { limits: [{ calls: 10, key: null, renewal_period: 'minute' }] }),
      'POST /api/2.0/endpoints/limits/': json(501, { detail: 'The set_limits API is not available yet.' }),
    });
  });
  afterAll(async () => { await fake.close(); });

  it('listEndpoints follows next_page_token across pages', async () => {
    const client = new GatewayClient(fake.url);
    expect((await client.listEndpoints()).map((e) => e.name)).toEqual(['chat', 'embeddings', 'completions']);
  });

  it('predict sends the inputs as JSON with the key and headers, and returns the typed answer', async () => {
    const client = new GatewayClient<{ chat: 'llm/v1/chat' }>({ baseUrl: `${fake.url}/`, apiKey: 'gw-key', headers: { 'x-team': 'a' } });
    const res = await client.predict('chat', { messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 });
    expect(res.choices[0]!.message.content).toBe('you said hi');
    const got = fake.seen.at(-1)!;
    expect(got.body).toEqual({ messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 });
    expect([got.headers.authorization, got.headers['x-team'], got.headers['content-type']]).toEqual(['Bearer gw-key', 'a', 'application/json']);
  });

  it('predictStream yields chunks across split events and characters', async () => {
    const client = getDeployClient<{ chat: 'llm/v1/chat' }>(fake.url);
    const parts: Array<string | null> = [];
    for await (const c of client.predictStream('chat', { messages: [{ role: 'user', content: 'Write a story' }] })) parts.push(c.choices[0]!.delta.content);
    expect(parts).toEqual(['Hé', 'llo ', 'wörld', null]);
    expect(fake.seen.at(-1)!.body.stream).toBe(true);
  });

  it.each([
    ['nope (MLflow {detail} 404)', () => new GatewayClient(fake.url).getEndpoint('nope'), NotFoundError, 404, 'HTTP_404', "The endpoint 'nope' is not present or active on the server. Please verify the endpoint name."],
    ['bad (FastAPI 422 list)', () => new GatewayClient(fake.url).predict('bad', { messages: [] }), BadRequestError, 422, 'HTTP_422', 'body.messages: Field required'],
    ['limited (slowapi {error: string})', () => new GatewayClient(fake.url).predict('limited', { messages: [] }), RateLimitError, 429, 'HTTP_429', 'Rate limit exceeded: 1 per 1 minute'],
    ['openai-shaped ({error: {...}})', () => new GatewayClient(fake.url).predict('openai-shaped', { messages: [] }), AuthenticationError, 401, 'GW_ERR_AUTH_MISSING', 'A gateway key is required.'],
    ['embeddings (501)', () => new GatewayClient(fake.url).predict('embeddings', { input: 'x' }), NotImplementedError, 501, 'HTTP_501', 'The embeddings route is not implemented for Anthropic models.'],
    ['html (text/plain 500)', () => new GatewayClient(fake.url).predict('html', { prompt: 'x' }), ServerError, 500, 'HTTP_500', 'boom'],
  ] as const)('%s becomes a typed error with status, code and message', async (_n, run, Cls, status, code, message) => {
    const err = await (run as () => Promise<unknown>)().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Cls);
    expect(err).toBeInstanceOf(GatewayClientError);
    expect([err.status, err.code, err.message, err.requestId]).toEqual([status, code, message, 'req-123']);
  });

  it('a 429 carries Retry-After in milliseconds', async () => {
    const err = await new GatewayClient(fake.url).predict('limited', { messages: [] }).catch((e) => e);
    expect(err.retryAfterMs).toBe(42_000);
  });

  it('an error event after the stream started is thrown after the chunks before it, with its status and code', async () => {
    const seen: string[] = [];
    const err = await (async () => { for await (const c of new GatewayClient<{ failing: 'llm/v1/chat' }>(fake.url).predictStream('failing', { messages: [] })) seen.push(c.choices[0]!.delta.content!); })().catch((e) => e);
    expect(seen).toEqual(['partial']);
    expect(err).toBeInstanceOf(GatewayTimeoutError);
    expect([err.status, err.code, err.type]).toEqual([504, 'GW_ERR_UPSTREAM_TIMEOUT', 'timeout_error']);
  });

  it('breaking out of a stream closes the connection', async () => {
    const before = fake.closedEarly;
    let n = 0;
    for await (const _ of new GatewayClient(fake.url).predictStream('endless', { messages: [] })) if (++n === 3) break;
    for (let i = 0; i < 100 && fake.closedEarly === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fake.closedEarly).toBe(before + 1);
  });

  it('an abort and the client timeout are typed; an unreachable gateway is a ConnectionError', async () => {
    const ctl = new AbortController();
    const p = new GatewayClient(fake.url).predict('slow', { messages: [] }, { signal: ctl.signal }).catch((e) => e);
    setTimeout(() => ctl.abort(), 20);
    const aborted = await p;
    expect(aborted).toBeInstanceOf(ConnectionError);
    expect([aborted.status, aborted.code]).toEqual([0, 'ABORTED']);
    const timedOut = await new GatewayClient({ baseUrl: fake.url, timeoutMs: 50 }).predict('slow', { messages: [] }).catch((e) => e);
    expect(timedOut).toBeInstanceOf(GatewayTimeoutError);
    expect(timedOut.code).toBe('CLIENT_TIMEOUT');
    const down = await new GatewayClient('http://127.0.0.1:9').listEndpoints().catch((e) => e);
    expect(down).toBeInstanceOf(ConnectionError);
    expect(down.code).toBe('CONNECTION_FAILED');
  });

  it('getLimits and setLimits use the MLflow limits API', async () => {
    const client = new GatewayClient(fake.url);
    expect(await client.getLimits('chat')).toEqual({ limits: [{ calls: 10, key: null, renewal_period: 'minute' }] });
    const err = await client.setLimits('chat', [{ calls: 1, renewal_period: 'minute' }]).catch((e) => e);
    expect(err).toBeInstanceOf(NotImplementedError);
    expect(fake.seen.at(-1)!.body).toEqual({ route: 'chat', limits: [{ calls: 1, renewal_period: 'minute' }] });
  });
});

describe('client against the real gateway (stock plugins, mock provider)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 0 } }, limit: { calls: 2, renewal_period: 'minute' } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'mock-cmpl' } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'mock-emb' } },
        ],
      },
      logLevel: 'error',
    });
  });
  afterAll(async () => { await gw?.close(); });

  type Endpoints = { chat: 'llm/v1/chat'; completions: 'llm/v1/completions'; embeddings: 'llm/v1/embeddings' };

  it('lists and gets endpoints, and answers each endpoint type (seed 001)', async () => {
    const client = new GatewayClient<Endpoints>(gw.url);
    expect(await client.health()).toBe(true);
    expect((await client.listEndpoints()).map((e) => [e.name, e.endpoint_type])).toEqual([
      ['chat', 'llm/v1/chat'], ['completions', 'llm/v1/completions'], ['embeddings', 'llm/v1/embeddings'],
    ]);
    const info = await client.getEndpoint('chat');
    expect([info.model.name, info.model.provider, info.limit?.calls]).toEqual(['mock-chat', 'mock', 2]);
    const cmpl = await client.predict('completions', { prompt: 'The future of AI is', max_tokens: 3 });
    expect(cmpl.choices[0]!.finish_reason).toBe('length');
    const emb = await client.predict('embeddings', { input: ['Hello world', 'MLflow AI Gateway'] });
    expect(emb.data.map((d) => d.index)).toEqual([0, 1]);
    expect((emb.data[0]!.embedding as number[]).length).toBe(8);
  });

  it('predict, predictStream, then the limit: a RateLimitError with the endpoint limit', async () => {
    const client = new GatewayClient<Endpoints>(gw.url);
    const res = await client.predict('chat', { messages: [{ role: 'user', content: 'What is MLflow?' }] });
    expect(res.choices[0]!.message.content).toBe('This is a mock response from Gatehouse. You said: What is MLflow?');
    let text = '';
    for await (const c of client.predictStream('chat', { messages: [{ role: 'user', content: 'Write a story' }] })) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('This is a mock response from Gatehouse. You said: Write a story');
    const err = await client.predict('chat', { messages: [{ role: 'user', content: 'again' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    const limits = await client.getLimits('chat');
    expect(limits.limits[0]).toMatchObject({ calls: 2, renewal_period: 'minute' });
  });

  it('gateway errors come back typed: unknown endpoint 404, wrong body 422, setLimits 501', async () => {
    const client = new GatewayClient<Endpoints>(gw.url);
    const nf = await client.getEndpoint('nope').catch((e) => e);
    expect(nf).toBeInstanceOf(NotFoundError);
    expect(nf.message).toBe("The endpoint 'nope' is not present or active on the server. Please verify the endpoint name.");
    const bad = await client.predict('completions', { prompt: 42 } as any).catch((e) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad.status).toBe(422);
    expect(Array.isArray(bad.detail)).toBe(true);
    const set = await client.setLimits('chat', [{ calls: 1, renewal_period: 'minute' }]).catch((e) => e);
    expect(set).toBeInstanceOf(NotImplementedError);
    expect(set.message).toBe('The set_limits API is not available yet.');
  });
});

describe('client module graph', () => {
  it('imports nothing from Node or undici, so it runs in browsers', () => {
    const seen = new Set<string>();
    const bare: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
        const spec = m[1] ?? m[2]!;
        if (/^import\s+type\b|^export\s+type\b/.test(m[0].trim())) continue;
        if (spec.startsWith('.')) walk(new URL(spec.replace(/\.js$/, '.ts'), `file://${file}`).pathname);
        else bare.push(spec);
      }
    };
    walk(`${REPO_ROOT}sdk/src/client/index.ts`);
    expect(bare).toEqual([]);
    expect([...seen].map((f) => f.slice(REPO_ROOT.length)).sort()).toEqual(['sdk/src/build.ts', 'sdk/src/client/index.ts', 'sdk/src/errors.ts', 'sdk/src/sse.ts']);
  });
});
