/**
 * Wire-format details of the OpenAI and Anthropic surfaces that the official SDKs read, found by
 * an audit against the SDKs' sources: Anthropic's `request-id` on error answers (the SDK's
 * `APIError.requestID`), and `/v1/models` in Anthropic's Models API shape for Anthropic's SDK
 * (`client.models.list()` / `retrieve()`), OpenAI's shape unchanged for everyone else.
 */
import Anthropic, { BadRequestError, NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

const ENDPOINTS = ['chat', 'tools', 'completions', 'embeddings', 'limited-up', 'broken-up'];

describe('surfaces audit', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let anthropic: Anthropic;

  beforeAll(async () => {
    up = await startFakeUpstream({
      'POST /limited/v1/chat/completions': {
        status: 429, headers: { 'retry-after': '7' },
        json: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' } },
      },
      'POST /broken/v1/chat/completions': { status: 500, json: { error: { message: 'The server had an error.', type: 'server_error' } } },
    });
    const upstream = (name: string, path: string) => ({
      name, endpoint_type: 'llm/v1/chat',
      model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-secret', openai_api_base: `${up.url}/${path}/v1` } },
    });
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1 } } },
          { name: 'tools', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { tool_calls: true } } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock' } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } },
          upstream('limited-up', 'limited'),
          upstream('broken-up', 'broken'),
        ],
        routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 100 }] }],
      },
    });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  describe('Anthropic: every answer of /v1/messages carries request-id, errors included', () => {
    const ask = (model: string, extra: Record<string, unknown> = {}) =>
      anthropic.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...extra } as Anthropic.MessageCreateParamsNonStreaming);

    it('the SDK\'s APIError.requestID is the request id, for gateway and upstream errors alike', async () => {
      const cases: Array<[string, Promise<unknown>, new (...a: never[]) => Error]> = [
        ['unknown model', ask('nope'), NotFoundError],
        ['bad request', ask('chat', { temperature: 3 }), BadRequestError],
        ['upstream 429', ask('limited-up'), RateLimitError],
        ['upstream 500', ask('broken-up'), Anthropic.InternalServerError],
      ];
      for (const [what, p, cls] of cases) {
        const err = await p.then(() => { throw new Error(`${what}: expected an error`); }, (e) => e);
        expect(err, what).toBeInstanceOf(cls);
        expect(err.requestID, what).toMatch(/^[0-9a-f-]{36}$/);
        expect(err.requestID, what).toBe(err.headers.get('x-request-id'));
      }
    });

    it('an upstream 429 keeps retry-after next to request-id; a stream refused before it starts has it too', async () => {
      const r = await postJson(`${gw.url}/v1/messages`, { model: 'limited-up', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.headers.get('request-id')).toBe(r.headers.get('x-request-id'));
      expect(r.json).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached for gpt-4o-mini' }, request_id: r.headers.get('x-request-id') });
      const err = await anthropic.messages.stream({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).finalMessage().catch((e) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.requestID).toBeTruthy();
    });

    it('success keeps request-id equal to the invocation id (message ids derive from it)', async () => {
      const { data, request_id } = await ask('chat').withResponse();
      expect(request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(data.id).toBe(`msg_${request_id!.replace(/-/g, '')}`);
    });
  });

  describe('/v1/models for Anthropic\'s SDK (anthropic-version) in Anthropic\'s shape', () => {
    const ALL = [...ENDPOINTS, 'split'];

    it('client.models.list(): ModelInfo items, has_more/first_id/last_id, request-id', async () => {
      const page = await anthropic.models.list();
      expect(page.data.map((m) => m.id)).toEqual(ALL);
      for (const m of page.data) {
        expect(m.type).toBe('model');
        expect(m.display_name).toBe(m.id);
        expect(new Date(m.created_at).toISOString()).toBe(m.created_at);
        expect(Math.abs(Date.parse(m.created_at) - Date.now())).toBeLessThan(10 * 60_000);
      }
      expect(page.has_more).toBe(false);
      expect([page.first_id, page.last_id]).toEqual(['chat', 'split']);
      const { response } = await anthropic.models.list().withResponse();
      expect(response.headers.get('request-id')).toBe(response.headers.get('x-request-id'));
    });

    it('pages by limit, after_id and before_id; the SDK\'s auto-pagination walks them all', async () => {
      const first = await anthropic.models.list({ limit: 3 });
      expect(first.data.map((m) => m.id)).toEqual(ALL.slice(0, 3));
      expect(first.has_more).toBe(true);
      const walked: string[] = [];
      for await (const m of anthropic.models.list({ limit: 2 })) walked.push(m.id);
      expect(walked).toEqual(ALL);
      const next = await anthropic.models.list({ limit: 3, after_id: 'completions' });
      expect(next.data.map((m) => m.id)).toEqual(ALL.slice(3, 6));
      expect(next.has_more).toBe(true);
      const before = await anthropic.models.list({ limit: 2, before_id: 'embeddings' });
      expect(before.data.map((m) => m.id)).toEqual(['tools', 'completions']);
      expect(before.has_more).toBe(true);
      const start = await anthropic.models.list({ limit: 5, before_id: 'tools' });
      expect([start.data.map((m) => m.id), start.has_more]).toEqual([['chat'], false]);
    });

    it('bad paging parameters are a 400', async () => {
      expect(await anthropic.models.list({ limit: 0 }).catch((e) => e)).toBeInstanceOf(BadRequestError);
      expect(await anthropic.models.list({ after_id: 'nope' }).catch((e) => e)).toBeInstanceOf(BadRequestError);
    });

    it('client.models.retrieve(): one ModelInfo, or NotFoundError', async () => {
      const m = await anthropic.models.retrieve('embeddings');
      expect(m).toMatchObject({ type: 'model', id: 'embeddings', display_name: 'embeddings' });
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
      const err = await anthropic.models.retrieve('nope').catch((e) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.type).toBe('not_found_error');
      expect(err.requestID).toBeTruthy();
    });

    it('without anthropic-version the answers stay OpenAI\'s', async () => {
      const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const page = await openai.models.list();
      expect(page.data.map((m) => m.id)).toEqual(ALL);
      expect(page.data[0]).toEqual({ id: 'chat', object: 'model', created: expect.any(Number), owned_by: 'mock' });
      const raw = await (await fetch(`${gw.url}/v1/models?limit=1`)).json() as Record<string, unknown>;
      expect(Object.keys(raw)).toEqual(['object', 'data']);
      expect((raw.data as unknown[]).length).toBe(ALL.length);
      expect(await openai.models.retrieve('chat')).toEqual(page.data[0]);
    });
  });
});
