/**
 * An upstream's own error `type`, `code` and `param` reach OpenAI clients: an `insufficient_quota`
 * 429 is told apart from a rate limit, `context_length_exceeded` is detectable and `param` kept.
 * Errors the gateway makes keep its own codes, the MLflow routes answer exactly as before, and a
 * configured key an upstream echoes in those fields is scrubbed like the message.
 */
import OpenAI, { BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

const QUOTA = { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota', param: null } };
const CONTEXT = {
  error: {
    message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
    type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages',
  },
};
const SECRET = 'sk-upstream-codes-secret-42';
const msgs = [{ role: 'user' as const, content: 'x' }];

async function thrown(p: Promise<unknown>): Promise<any> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected the call to fail');
}

describe('upstream error codes on the OpenAI surface', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    up = await startFakeUpstream({
      'POST /quota/v1/chat/completions': { status: 429, json: QUOTA },
      'POST /quota/v1/embeddings': { status: 429, json: QUOTA },
      'POST /context/v1/chat/completions': { status: 400, json: CONTEXT },
      // Not OpenAI's shape: a numeric code is not a string, so the gateway's own code stays.
      'POST /numeric/v1/chat/completions': { status: 429, json: { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } } },
      'POST /denied/v1/chat/completions': { status: 401, json: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key', param: null } } },
      'POST /echo/v1/chat/completions': { status: 400, json: { error: { message: 'bad request', type: `t-${SECRET}`, code: `c-${SECRET}`, param: `p-${SECRET}` } } },
      'POST /claude/v1/messages': { status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } } },
    });
    const openai = (name: string, type = 'llm/v1/chat') => ({
      name, endpoint_type: type,
      model: { provider: 'openai', name: type === 'llm/v1/embeddings' ? 'text-embedding-3-small' : 'gpt-4o-mini', config: { openai_api_key: SECRET, openai_api_base: `${up.url}/${name.replace(/-emb$/, '')}/v1` } },
    });
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } },
          openai('quota'), openai('quota-emb', 'llm/v1/embeddings'), openai('context'), openai('numeric'), openai('denied'), openai('echo'),
          { name: 'claude', endpoint_type: 'llm/v1/chat', model: { provider: 'anthropic', name: 'claude-3-5-haiku-20241022', config: { anthropic_api_key: 'sk-ant-codes-secret', anthropic_api_base: `${up.url}/claude/v1` } } },
        ],
      },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused-by-the-gateway', maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('an upstream insufficient_quota 429 reaches the openai SDK with its code and type, not a plain rate limit', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'quota', messages: msgs }));
    expect(e).toBeInstanceOf(RateLimitError);
    expect([e.status, e.code, e.type, e.param]).toEqual([429, 'insufficient_quota', 'insufficient_quota', null]);
    expect(e.error).toEqual({ message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' });
  });

  it('the same before a stream starts, on embeddings, and on /v1/responses', async () => {
    const s = await thrown(client.chat.completions.create({ model: 'quota', messages: msgs, stream: true }));
    expect([s.status, s.code, s.type]).toEqual([429, 'insufficient_quota', 'insufficient_quota']);
    const emb = await thrown(client.embeddings.create({ model: 'quota-emb', input: 'x' }));
    expect([emb.status, emb.code, emb.type]).toEqual([429, 'insufficient_quota', 'insufficient_quota']);
    const r = await thrown(client.responses.create({ model: 'quota', input: 'x' }));
    expect(r).toBeInstanceOf(RateLimitError);
    expect([r.status, r.code, r.type]).toEqual([429, 'insufficient_quota', 'insufficient_quota']);
  });

  it('an upstream context_length_exceeded 400 keeps its code and param', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'context', messages: msgs }));
    expect(e).toBeInstanceOf(BadRequestError);
    expect([e.status, e.code, e.param, e.type]).toEqual([400, 'context_length_exceeded', 'messages', 'invalid_request_error']);
    expect(e.message).toContain("This model's maximum context length is 128000 tokens.");
  });

  it("an Anthropic-shaped upstream error keeps its type; the code stays the gateway's (Anthropic sends none)", async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'claude', messages: msgs, max_tokens: 5 });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: { message: 'prompt is too long: 210000 tokens > 200000 maximum', type: 'invalid_request_error', param: null, code: 'GW_ERR_UPSTREAM_STATUS' } });
  });

  it("errors the gateway makes keep the gateway's type and code", async () => {
    const nf = await thrown(client.chat.completions.create({ model: 'nope', messages: msgs }));
    expect(nf).toBeInstanceOf(NotFoundError);
    expect([nf.code, nf.type]).toEqual(['GW_ERR_ENDPOINT_NOT_FOUND', 'not_found_error']);
    const bad = await thrown(client.chat.completions.create({ model: 'chat', messages: msgs, temperature: 5 }));
    expect([bad.status, bad.code, bad.type, bad.param]).toEqual([400, 'GW_ERR_REQUEST_VALIDATION', 'invalid_request_error', 'temperature']);
  });

  it("an upstream code that is not a string is ignored: the gateway's type and code", async () => {
    const e = await thrown(client.chat.completions.create({ model: 'numeric', messages: msgs }));
    expect(e).toBeInstanceOf(RateLimitError);
    expect(e.error).toEqual({ message: 'Resource exhausted', type: 'upstream_error', param: null, code: 'GW_ERR_UPSTREAM_STATUS' });
  });

  it("an upstream 401 (the gateway's own key) does not pass on invalid_api_key: still the gateway's 502", async () => {
    const e = await thrown(client.chat.completions.create({ model: 'denied', messages: msgs }));
    expect(e).toBeInstanceOf(InternalServerError);
    expect([e.status, e.code, e.type]).toEqual([502, 'GW_ERR_UPSTREAM_STATUS', 'upstream_error']);
  });

  it('a configured key the upstream echoes in type, code or param is scrubbed', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'echo', messages: msgs });
    expect(r.status).toBe(400);
    expect(r.text).not.toContain(SECRET);
    expect(r.json).toEqual({ error: { message: 'bad request', type: 't-[REDACTED]', param: 'p-[REDACTED]', code: 'c-[REDACTED]' } });
  });

  it("the Anthropic surface keeps Anthropic's types by status: insufficient_quota is not one of them", async () => {
    const body = { max_tokens: 5, messages: msgs };
    const q = await postJson(`${gw.url}/v1/messages`, { model: 'quota', ...body });
    expect([q.status, q.json]).toEqual([429, { type: 'error', error: { type: 'rate_limit_error', message: 'You exceeded your current quota' }, request_id: q.headers.get('x-request-id') }]);
    const c = await postJson(`${gw.url}/v1/messages`, { model: 'claude', ...body });
    expect([c.status, c.json]).toEqual([400, { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' }, request_id: c.headers.get('x-request-id') }]);
  });

  it("the MLflow routes answer the same upstream errors exactly as before: the upstream's status and {detail}", async () => {
    const q = await postJson(`${gw.url}/endpoints/quota/invocations`, { messages: msgs });
    expect([q.status, q.json]).toEqual([429, { detail: 'You exceeded your current quota' }]);
    const c = await postJson(`${gw.url}/gateway/context/invocations`, { messages: msgs });
    expect([c.status, c.json]).toEqual([400, { detail: CONTEXT.error.message }]);
    const s = await postJson(`${gw.url}/endpoints/quota/invocations`, { messages: msgs, stream: true });
    expect([s.status, s.json]).toEqual([429, { detail: 'You exceeded your current quota' }]);
  });
});
