/**
 * Issue 12 "must show": a bounded, deterministic fuzz of the stock gateway. A few thousand
 * requests, mutated from valid ones by a seeded PRNG, across every route the installed plugins
 * register (mock provider endpoints, a traffic route): none may answer a 5xx (the mock has no
 * upstream, so every 5xx would be of the gateway's own making), no stream may end with an
 * internal error, the process stays alive and its RSS growth stays bounded.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const SEED = 0x5eed_1212;
const REQUESTS = 2000;
const CONCURRENCY = 12;

/** mulberry32: small, fast, and the same sequence on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const config = {
  endpoints: [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat', config: { chunk_delay_ms: 0 } } },
    { name: 'chat2', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat2', config: { chunk_delay_ms: 0, reply: 'fixed reply' } } },
    { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'm-cmpl', config: { chunk_delay_ms: 0 } } },
    { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'm-emb', config: { dimensions: 4 } } },
  ],
  routes: [
    { name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 50 }, { name: 'chat2', traffic_percentage: 50 }] },
  ],
};

/** Values JSON.stringify cannot write (1e400, 2^53 + 1, ...), spliced in as raw text. */
const raw = (text: string) => `\u0001RAW:${text}\u0001`;
const unraw = (json: string) => json.replace(/"\\u0001RAW:(.*?)\\u0001"/g, '$1');

const nested = (depth: number, open: string, close: string, inner: string) => open.repeat(depth) + inner + close.repeat(depth);

function nasty(r: Rng): unknown {
  switch (r.int(24)) {
    case 0: return raw('1e400');
    case 1: return raw('-1e400');
    case 2: return raw('9007199254740993');
    case 3: return raw('-9007199254740993');
    case 4: return 2147483648;
    case 5: return r.pick([-1, 0, 1, 2, 128, 129, 0.5, -0.0001, 2.0000001]);
    case 6: return null;
    case 7: return r.chance(0.5);
    case 8: return '';
    case 9: return 'x'.repeat(r.pick([1, 100, 5000]));
    case 10: return [];
    case 11: return {};
    case 12: return raw(nested(r.pick([10, 63, 64, 65, 200, 5000]), '[', ']', '1'));
    case 13: return raw(nested(r.pick([10, 70, 3000]), '{"a":', '}', 'null'));
    case 14: return '\u0000\ud800\uffff';
    case 15: return { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } };
    case 16: return raw('{"__proto__":{"polluted":1}}');
    case 17: return [{ role: r.pick(['user', 'system', 'assistant', 'tool', 'robot', '']), content: nasty(r) }];
    case 18: return { type: r.pick(['text', 'image_url', 'input_audio', 'function', 'bogus']), text: 'x', image_url: { url: 'data:' } };
    case 19: return r.pick(['true', 'yes', 'off', 'maybe', '1']);
    case 20: return raw(r.pick(['1E+308', '-0', '0.0000000000000000000001', '123456789012345678901234567890']));
    case 21: return Array.from({ length: r.pick([1, 5, 200]) }, () => r.pick(['a', 1, null]));
    case 22: return { name: 'f', arguments: '{"a":', parameters: { type: 'object', properties: { a: { type: 'strnig' } } } };
    default: return 'héllo 🌍';
  }
}

const PARAMS = [
  'n', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stream', 'stream_options', 'stop', 'tools', 'tool_choice',
  'logit_bias', 'seed', 'frequency_penalty', 'presence_penalty', 'top_k', 'top_logprobs', 'logprobs', 'best_of', 'dimensions',
  'messages', 'prompt', 'input', 'model', 'user', 'metadata', 'instructions', 'max_output_tokens', 'system', '__proto__', 'constructor',
];

/** Apply one to three mutations to a JSON value. */
function mutate(r: Rng, value: unknown): unknown {
  let v = structuredClone(value);
  for (let k = 1 + r.int(3); k > 0; k--) {
    const containers: Array<Record<string, unknown> | unknown[]> = [];
    const walk = (x: unknown, depth: number) => {
      if (x && typeof x === 'object' && depth < 6) {
        containers.push(x as Record<string, unknown>);
        for (const y of Object.values(x)) walk(y, depth + 1);
      }
    };
    walk(v, 0);
    if (!containers.length || r.chance(0.04)) { v = nasty(r); continue; }
    const c = r.pick(containers);
    const keys = Object.keys(c);
    const op = r.int(4);
    if (op === 0 && keys.length) delete (c as Record<string, unknown>)[r.pick(keys)];
    else if (op === 1 || !keys.length) (c as Record<string, unknown>)[Array.isArray(c) ? String(c.length) : r.pick(PARAMS)] = nasty(r);
    else (c as Record<string, unknown>)[r.pick(keys)] = nasty(r);
  }
  return v;
}

/** The valid body each POST route starts from. */
function baseBody(path: string, name: string): unknown {
  const kind = /embed/.test(name + path) ? 'embeddings' : /completions$/.test(name) || path === '/v1/completions' ? 'completions' : 'chat';
  const model = kind === 'chat' ? 'chat' : kind;
  if (path === '/v1/responses') return { model: 'chat', input: 'hi', max_output_tokens: 16 };
  if (path.startsWith('/v1/messages')) return { model: 'chat', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };
  if (path === '/v1/embeddings') return { model: 'embeddings', input: ['a', 'b'] };
  if (path === '/v1/completions') return { model: 'completions', prompt: 'hi', max_tokens: 8 };
  if (path === '/v1/chat/completions') return { model, messages: [{ role: 'user', content: 'hi' }] };
  if (kind === 'embeddings') return { input: ['a', 'b'] };
  if (kind === 'completions') return { prompt: 'hi', max_tokens: 8 };
  if (path.includes('invocations')) return { messages: [{ role: 'user', content: 'hi' }], stream: false };
  return { endpoint: 'chat', calls: 5, renewal_period: 'minute' };
}

const NAMES = ['chat', 'chat2', 'completions', 'embeddings', 'split', 'nope', '..%2F..', '%00', 'x'.repeat(300), '%E2%82%AC', 'chat%20'];

interface Req { method: string; path: string; headers: Record<string, string>; body?: string }

function makeRequest(r: Rng, routes: Array<{ method: string; path: string }>): Req & { route: number } {
  const routeIndex = r.int(routes.length);
  const route = routes[routeIndex]!;
  const name = r.pick(NAMES);
  let path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_m, p: string) => (p === 'file' ? r.pick(['app.js', 'x.css', '..%2Fpackage.json', 'nope']) : name));
  if (r.chance(0.1)) path += r.pick(['?page_token=abc', '?page_token=eyJpbmRleCI6LTF9', '?x=%zz', '?a=1&a=2', '/', '//', '?' + 'q'.repeat(500)]);
  let method = route.method;
  if (r.chance(0.05)) method = r.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'OPTIONS') return { method, path, headers, route: routeIndex };
  headers['content-type'] = r.chance(0.9) ? 'application/json' : r.pick(['text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data']);
  let value = baseBody(route.path, name);
  if (r.chance(0.3) && value && typeof value === 'object') (value as Record<string, unknown>).stream = true;
  if (r.chance(0.9)) value = mutate(r, value);
  let text = unraw(JSON.stringify(value) ?? 'null');
  if (r.chance(0.08)) {
    const at = r.int(text.length + 1);
    text = r.pick([text.slice(0, at), text.slice(0, at) + r.pick(['"', '}', ']', ',', '\\', '\u0000', 'NaN']) + text.slice(at), '', ' ', text + text]);
  }
  return { method, path, headers, body: text, route: routeIndex };
}

interface Outcome { req: Req; status: number; snippet: string }

let gw: TestGateway;
beforeAll(async () => { gw = await startTestGateway({ config, logLevel: 'error' }); });
afterAll(async () => { await gw?.close(); });

describe('fuzz: every route of the stock gateway', () => {
  it(`${REQUESTS} seeded mutated requests: no 5xx, no internal stream error, the process alive, RSS bounded`, async () => {
    const routes = gw.gateway.current().api.httpRoutes().map((x) => ({ method: x.method, path: x.path }));
    expect(routes.length).toBeGreaterThan(10);
    const r = prng(SEED);
    const requests = Array.from({ length: REQUESTS }, () => makeRequest(r, routes));
    // Every route is exercised.
    expect(new Set(requests.map((q) => q.route)).size).toBe(routes.length);

    const bad: Outcome[] = [];
    const statuses = new Map<number, number>();
    const rss0 = process.memoryUsage().rss;
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const { route: _route, ...req } = requests[next++]!;
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), 30_000);
        try {
          const res = await fetch(`${gw.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, signal: ac.signal, redirect: 'manual' });
          const text = req.method === 'HEAD' ? '' : await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          let failed = res.status >= 500;
          if (!failed && /event-stream/.test(res.headers.get('content-type') ?? '')) {
            // A stream that started may end with an error event: never an internal one.
            failed = /"(code|type)":"(GW_ERR_INTERNAL|internal_error|api_error)"|"status":5\d\d/.test(text) && /"error"/.test(text);
          }
          if (failed) bad.push({ req: { ...req, body: req.body?.slice(0, 300) }, status: res.status, snippet: text.slice(0, 300) });
        } catch (e) {
          bad.push({ req: { ...req, body: req.body?.slice(0, 300) }, status: -1, snippet: String((e as Error)?.message ?? e) });
        } finally {
          clearTimeout(timer);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const growthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;

    expect(bad, JSON.stringify(bad.slice(0, 5), null, 1)).toEqual([]);
    // The fuzz reached both success and refusal paths.
    const count = (pred: (s: number) => boolean) => [...statuses].filter(([s]) => pred(s)).reduce((a, [, n]) => a + n, 0);
    expect(count((s) => s >= 200 && s < 300)).toBeGreaterThan(REQUESTS * 0.05);
    expect(count((s) => s >= 400 && s < 500)).toBeGreaterThan(REQUESTS * 0.2);
    expect(count(() => true)).toBe(REQUESTS);
    expect(growthMb, `RSS grew by ${growthMb.toFixed(0)} MB`).toBeLessThan(300);

    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
    const ok = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"still here"}]}' });
    expect(ok.status).toBe(200);
    expect(({}) as Record<string, unknown>).not.toHaveProperty('polluted');
  }, 120_000);
});

describe('fuzz: raw request lines and headers', () => {
  /** Send raw bytes; return the status line and body of the answer (the connection may also just close). */
  const rawRequest = (text: string) => new Promise<{ status: number | null; body: string }>((resolve) => {
    const s = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let out = '';
    const done = () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(out);
      resolve({ status: m ? Number(m[1]) : null, body: out.split('\r\n\r\n').slice(1).join('\r\n\r\n') });
    };
    s.on('data', (d) => { out += d.toString('latin1'); if (/\r\n\r\n/.test(out)) s.end(); });
    s.on('close', done);
    s.on('error', () => undefined);
    s.write(text);
    setTimeout(() => s.destroy(), 3000);
  });

  const cases: Array<[string, boolean]> = [
    // Koa's `ctx.path` (parseurl → url.parse) throws ERR_INVALID_URL on an absolute-form target with a
    // malformed IPv6 host; the kernel's edge answers 400 and never reads it again (issue 12 item 2).
    ['GET http://[::1/health HTTP/1.1\r\nHost: x\r\n\r\n', false],
    ['POST http://[::1/endpoints/chat/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', false],
    ['GET http://[zz::1]:80/health HTTP/1.1\r\nHost: x\r\n\r\n', false],
    ['GET http://a:b@[::1]:99999/health HTTP/1.1\r\nHost: x\r\n\r\n', false],
    ['GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n', false],
    ['GET /api/2.0/endpoints/%zz HTTP/1.1\r\nHost: x\r\n\r\n', false],
    ['POST /endpoints/chat/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":', false],
  ];
  for (const [text, malformedTarget] of cases) {
    it(`${JSON.stringify(text.split('\r\n')[0])} is never a 5xx`, async () => {
      const r = await rawRequest(text);
      if (malformedTarget) expect([r.status, r.body]).toEqual([400, '{"detail":"The request target is not a valid URL."}']);
      if (r.status !== null) expect(r.status, r.body).toBeLessThan(500);
      expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    });
  }
});
