/**
 * Routes on every surface, MLflow's route read and validation messages, and seed 000's traffic
 * split running unchanged (its OpenAI calls answered by an injected HTTP client: no network).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpClient, UpstreamRequest } from '@gatehouse/sdk';
import { startFakeUpstream, startTestGateway, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import mlflow from '@gatehouse/plugin-mlflow';
import openaiCompat from '@gatehouse/plugin-openai-compat';
import routing from '@gatehouse/plugin-routing';
import openai from '@gatehouse/provider-openai';
import { answer, CHAT, chunk, streamOf as stream } from './helpers/upstream-answers.js';

const MSG = { messages: [{ role: 'user', content: 'hi' }] };

/** A seeded PRNG (mulberry32): a "real" random sequence that is the same on every run. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => { await Promise.all(open.map((o) => o.close())); open = []; });
const track = <T extends { close(): Promise<void> }>(x: T): T => { open.push(x); return x; };

const PLUGINS = [mlflow, openaiCompat, routing];

describe('seed 000: the traffic-split example, unchanged', () => {
  // The seed's YAML, as written there (with its indentation restored).
  const SEED = `
endpoints:
  - name: chat1
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-5
      config:
        openai_api_key: $OPENAI_API_KEY

  - name: chat2
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-4.1
      config:
        openai_api_key: $OPENAI_API_KEY

routes:
  - name: chat-route
    task_type: llm/v1/chat
    destinations:
      - name: chat1
        traffic_percentage: 80
      - name: chat2
        traffic_percentage: 20
    routing_strategy: TRAFFIC_SPLIT
`;
  /** Answers OpenAI's chat API in process and records which model each call asked for. */
  const fakeOpenAI = (asked: string[]): HttpClient => ({
    async json<T>(req: UpstreamRequest): Promise<T> {
      expect(req.url).toBe('https://api.openai.com/v1/chat/completions');
      const model = (req.body as { model: string }).model;
      asked.push(model);
      return { ...answer(model).json, model } as T;
    },
    async stream() { throw new Error('no streams in this test'); },
    async request() { throw new Error('no raw requests in this test'); },
    async close() {},
  });

  it('starts, and splits ~80/20 over 1,000 calls', async () => {
    const asked: string[] = [];
    const gw = track(await startTestGateway({
      config: SEED, plugins: PLUGINS, providers: [openai], http: fakeOpenAI(asked),
      env: { OPENAI_API_KEY: 'sk-seed-000' }, random: { next: mulberry32(2026) },
    }));
    const served = { chat1: 0, chat2: 0 } as Record<string, number>;
    for (let i = 0; i < 1000; i++) {
      const res = await gw.request('POST', '/gateway/chat-route/invocations', { json: MSG });
      expect(res.status).toBe(200);
      served[String(res.headers['x-gatehouse-endpoint'])]!++;
    }
    expect(served.chat1! + served.chat2!).toBe(1000);
    expect(served.chat1).toBeGreaterThanOrEqual(770);
    expect(served.chat1).toBeLessThanOrEqual(830);
    // the header tells the truth: the upstream calls went to the same models
    expect(asked.filter((m) => m === 'gpt-5')).toHaveLength(served.chat1!);
    expect(asked.filter((m) => m === 'gpt-4.1')).toHaveLength(served.chat2!);
  });

  it('splits exactly with an injected random source: 80 of 100 evenly spaced draws go to chat1, in order', async () => {
    let k = 0;
    const asked: string[] = [];
    const gw = track(await startTestGateway({
      config: SEED, plugins: PLUGINS, providers: [openai], http: fakeOpenAI(asked),
      env: { OPENAI_API_KEY: 'sk-seed-000' }, random: { next: () => (k++ % 100) / 100 },
    }));
    const order: string[] = [];
    for (let i = 0; i < 100; i++) order.push(String((await gw.request('POST', '/endpoints/chat-route/invocations', { json: MSG })).headers['x-gatehouse-endpoint']));
    expect(order).toEqual([...Array(80).fill('chat1'), ...Array(20).fill('chat2')]);
    expect(asked).toEqual([...Array(80).fill('gpt-5'), ...Array(20).fill('gpt-4.1')]);
  });

  it('GET /api/3.0/gateway/route/{name} answers as MLflow does', async () => {
    const gw = track(await startTestGateway({ config: SEED, plugins: PLUGINS, providers: [openai], env: { OPENAI_API_KEY: 'sk-seed-000' } }));
    const res = await gw.request('GET', '/api/3.0/gateway/route/chat-route');
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"name":"chat-route","task_type":"llm/v1/chat","destinations":[{"name":"chat1","traffic_percentage":80},{"name":"chat2","traffic_percentage":20}],"routing_strategy":"TRAFFIC_SPLIT"}');
    const missing = await gw.request('GET', '/api/3.0/gateway/route/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ detail: "The route 'nope' is not present or active on the server. Please verify the route name." });
    // routes are not endpoints (MLflow lists only endpoints)
    const list = await gw.request('GET', '/api/2.0/endpoints/');
    expect(list.json.endpoints.map((e: { name: string }) => e.name)).toEqual(['chat1', 'chat2']);
  });
});

describe('every surface invokes a route', () => {
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gw: TestGateway;
  const setup = async (random: number) => {
    a = track(await startFakeUpstream({ [CHAT]: (req) => (req.json?.stream ? stream('a') : answer('a')) }));
    b = track(await startFakeUpstream({ [CHAT]: (req) => (req.json?.stream ? stream('b') : answer('b')) }));
    const ep = (name: string, up: FakeUpstream) => ({
      name, endpoint_type: 'llm/v1/chat',
      model: { provider: 'openai', name: `gpt-${name}`, config: { openai_api_key: 'sk-test', openai_api_base: `${up.url}/v1` } },
    });
    gw = track(await startTestGateway({
      config: { endpoints: [ep('a', a), ep('b', b)], routes: [{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 50 }, { name: 'b', traffic_percentage: 50 }] }] },
      plugins: PLUGINS, providers: [openai], random: { next: () => random },
    }));
  };

  it.each([
    ['/endpoints/r/invocations', 0.2, 'a'],
    ['/gateway/r/invocations', 0.7, 'b'],
  ])('MLflow: %s', async (path, r, who) => {
    await setup(r);
    const res = await gw.request('POST', path, { json: MSG });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe(`from ${who}`);
    expect(res.headers['x-gatehouse-endpoint']).toBe(who);
    expect(res.headers['x-gatehouse-route']).toBe('r');
    const s = await gw.request('POST', path, { json: { ...MSG, stream: true } });
    expect(s.status).toBe(200);
    expect(String(s.headers['content-type'])).toMatch(/^text\/event-stream/);
    expect(s.headers['x-gatehouse-endpoint']).toBe(who);
    expect(s.events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('')).toBe(`hello from ${who}`);
    expect((who === 'a' ? b : a).requests).toHaveLength(0);
  });

  it('OpenAI: /v1/chat/completions with model: <route>, plain and streamed, and /v1/models lists it', async () => {
    await setup(0.9);
    const res = await gw.request('POST', '/v1/chat/completions', { json: { model: 'r', ...MSG } });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe('from b');
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    // the client's model is never sent upstream: the destination's own model is
    expect(b.last().json.model).toBe('gpt-b');
    const s = await gw.request('POST', '/v1/chat/completions', { json: { model: 'r', stream: true, ...MSG } });
    expect(s.status).toBe(200);
    expect(s.headers['x-gatehouse-endpoint']).toBe('b');
    expect(s.events.filter((e) => typeof e === 'object').map((e) => e.choices?.[0]?.delta?.content ?? '').join('')).toBe('hello from b');
    expect(s.events.at(-1)).toBe('[DONE]');
    const models = await gw.request('GET', '/v1/models');
    expect(models.json.data.map((m: { id: string }) => m.id)).toContain('r');
    expect(a.requests).toHaveLength(0);
  });

  it('a plain endpoint call is named too', async () => {
    await setup(0);
    const res = await gw.request('POST', '/endpoints/b/invocations', { json: MSG });
    expect(res.headers['x-gatehouse-endpoint']).toBe('b');
    expect(res.headers['x-gatehouse-route']).toBeUndefined();
  });
});

describe('an embeddings route', () => {
  it('falls back on /v1/embeddings and /endpoints alike', async () => {
    const emb = (who: string) => ({ json: { object: 'list', data: [{ object: 'embedding', embedding: [who === 'a' ? 0.1 : 0.2, 0.3], index: 0 }], model: `emb-${who}`, usage: { prompt_tokens: 1, total_tokens: 1 } } });
    const a = track(await startFakeUpstream({ 'POST /v1/embeddings': { status: 500, json: { error: { message: 'boom' } } } }));
    const b = track(await startFakeUpstream({ 'POST /v1/embeddings': emb('b') }));
    const ep = (name: string, up: FakeUpstream) => ({
      name, endpoint_type: 'llm/v1/embeddings',
      model: { provider: 'openai', name: `emb-${name}`, config: { openai_api_key: 'sk-test', openai_api_base: `${up.url}/v1` } },
    });
    const gw = track(await startTestGateway({
      config: { endpoints: [ep('a', a), ep('b', b)], routes: [{ name: 'e', task_type: 'llm/v1/embeddings', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] }] },
      plugins: PLUGINS, providers: [openai],
    }));
    const v1 = await gw.request('POST', '/v1/embeddings', { json: { model: 'e', input: 'hello' } });
    expect(v1.status).toBe(200);
    expect(v1.json.data[0].embedding).toEqual([0.2, 0.3]);
    expect(v1.headers['x-gatehouse-endpoint']).toBe('b');
    const ml = await gw.request('POST', '/endpoints/e/invocations', { json: { input: ['hello'] } });
    expect(ml.status).toBe(200);
    expect(ml.headers['x-gatehouse-endpoint']).toBe('b');
    expect(a.requests).toHaveLength(2);
    // a chat call to an embeddings route is refused as for an endpoint of that type
    const wrong = await gw.request('POST', '/v1/chat/completions', { json: { model: 'e', ...MSG } });
    expect(wrong.status).toBe(400);
  });
});

describe('config rules through the kernel', () => {
  const eps = [
    { name: 'a', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'x', config: { openai_api_key: 'k' } } },
    { name: 'b', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'y', config: { openai_api_key: 'k' } } },
  ];
  const refused = async (routes: unknown[]) => {
    try {
      const gw = await startTestGateway({ config: { endpoints: eps, routes }, plugins: PLUGINS, providers: [openai] });
      await gw.close();
    } catch (e) { return String((e as Error).message ?? e); }
    throw new Error('the config was accepted');
  };

  it('refuses percentages that do not sum to 100, with MLflow’s message', async () => {
    const msg = await refused([{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 60 }, { name: 'b', traffic_percentage: 30 }] }]);
    expect(msg).toContain("For each route configuration, the traffic percentage sum of destinations must be 100, but got invalid configuration of route 'r'.");
  });

  it('refuses a percentage out of range, and FALLBACK percentages', async () => {
    expect(await refused([{ name: 'r', task_type: 'llm/v1/chat', destinations: [{ name: 'a', traffic_percentage: 120 }, { name: 'b', traffic_percentage: -20 }] }]))
      .toContain('The route destination traffic percentage must between 0 and 100.');
    expect(await refused([{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a', traffic_percentage: 50 }, { name: 'b' }] }]))
      .toContain("traffic_percentage has no meaning in the FALLBACK route 'r'");
  });

  it('refuses unknown keys in its own settings', async () => {
    expect(await refused([{ name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }], retries: { attemps: 2 } }]))
      .toMatch(/attemps/);
  });
});
