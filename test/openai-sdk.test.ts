/**
 * The OpenAI-compatible surface, driven by the official `openai` npm client: an application
 * written against OpenAI's SDK works with only its base URL changed.
 */
import OpenAI, {
  APIError, BadRequestError, InternalServerError, NotFoundError, RateLimitError,
} from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';

const openaiChat = (content: string) => ({
  id: 'chatcmpl-up', object: 'chat.completion', created: 1700000000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});
const openaiChunk = (content: string | null, finish: string | null = null) => ({
  id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini',
  choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
});

async function thrown(p: Promise<unknown>): Promise<any> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected the call to fail');
}

describe('openai-compat with the official openai client', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    up = await startFakeUpstream({
      'POST /ok/v1/chat/completions': { json: openaiChat('from upstream') },
      'POST /limited/v1/chat/completions': { status: 429, json: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' } } },
      'POST /broken/v1/chat/completions': { status: 500, json: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } },
      'POST /denied/v1/chat/completions': { status: 401, json: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } } },
      'POST /hang/v1/chat/completions': { hang: true },
      'POST /tools/v1/chat/completions': {
        sse: [
          { ...openaiChunk(null), choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] },
          { ...openaiChunk(null), choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null }] },
          { ...openaiChunk(null), choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish_reason: null }] },
          openaiChunk(null, 'tool_calls'),
          { ...openaiChunk(null), choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } },
          '[DONE]',
        ],
      },
      'POST /midstream/v1/chat/completions': {
        sse: [openaiChunk('partial '), { error: { message: 'upstream overloaded mid-stream', type: 'server_error' } }],
      },
    });
    const upstream = (name: string, extra: Record<string, unknown> = {}) => ({
      name, endpoint_type: 'llm/v1/chat', ...extra,
      model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-secret', openai_api_base: `${up.url}/${name}/v1` } },
    });
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1 } } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'mock-completions', config: { chunk_delay_ms: 1 } } },
          { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'mock-embeddings', config: { dimensions: 8 } } },
          upstream('ok'), upstream('limited'), upstream('broken'), upstream('denied'), upstream('midstream'), upstream('tools'),
          upstream('hang', { timeout_seconds: 0.5 }),
        ],
        routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'chat', traffic_percentage: 100 }] }],
      },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused-by-the-gateway', maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('chat', async () => {
    const res = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello there' }] });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('mock-chat');
    expect(res.choices[0]!.message.role).toBe('assistant');
    expect(res.choices[0]!.message.content).toContain('hello there');
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage!.total_tokens).toBeGreaterThan(0);
  });

  it('chat: the x-request-id header is the invocation id', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices).toHaveLength(1);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('chat through provider-openai: the upstream never sees the gateway name as model', async () => {
    const res = await client.chat.completions.create({ model: 'ok', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBe('from upstream');
    expect(up.last().json.model).toBe('gpt-4o-mini');
    expect(up.last().headers.authorization).toBe('Bearer sk-test-secret');
  });

  it('streaming chat: content deltas, then [DONE]; no usage unless asked', async () => {
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'a b c' }], stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toContain('a b c');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');

    const raw = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(raw.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readSse(raw);
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('streaming chat with include_usage: usage null on every chunk, then one usage chunk with no choices', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat', messages: [{ role: 'user', content: 'one two three' }], stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.prompt_tokens).toBe(3);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens! + last.usage!.completion_tokens!);
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
  });

  it('the SDK\'s stream helper assembles a final completion, tool calls and usage included', async () => {
    const stream = client.chat.completions.stream({
      model: 'tools', messages: [{ role: 'user', content: 'weather in Paris?' }], stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.choices[0]!.message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
    expect(final.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
    expect(up.last().json.tools[0].function.name).toBe('get_weather');

    const mock = await client.chat.completions.stream({ model: 'chat', messages: [{ role: 'user', content: 'four five' }] }).finalChatCompletion();
    expect(mock.choices[0]!.message).toMatchObject({ role: 'assistant', content: expect.stringContaining('four five') });
  });

  it('completions', async () => {
    const res = await client.completions.create({ model: 'completions', prompt: 'say something', max_tokens: 64 });
    expect(res.choices[0]!.text).toContain('say something');
    expect(res.usage!.prompt_tokens).toBe(2);
  });

  it('streaming completions, with and without usage', async () => {
    const plain = await client.completions.create({ model: 'completions', prompt: 'p q r', stream: true });
    const texts: string[] = [];
    for await (const c of plain) { expect(c.choices).toHaveLength(1); expect('usage' in c).toBe(false); texts.push(c.choices[0]!.text); }
    expect(texts.join('')).toContain('p q r');

    const withUsage = await client.completions.create({ model: 'completions', prompt: 'p q r', stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of withUsage) chunks.push(c);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.prompt_tokens).toBe(3);
  });

  it('embeddings as floats and as base64 (the SDK asks for base64 by default and decodes it)', async () => {
    const floats = await client.embeddings.create({ model: 'embeddings', input: ['hello', 'world'], encoding_format: 'float' });
    expect(floats.object).toBe('list');
    expect(floats.data).toHaveLength(2);
    const v0 = floats.data[0]!.embedding;
    expect(Array.isArray(v0)).toBe(true);
    expect(v0).toHaveLength(8);

    const b64 = await client.embeddings.create({ model: 'embeddings', input: ['hello', 'world'], encoding_format: 'base64' });
    const s = b64.data[0]!.embedding as unknown as string;
    expect(typeof s).toBe('string');
    const decoded = Array.from(new Float32Array(new Uint8Array(Buffer.from(s, 'base64')).buffer));
    decoded.forEach((x, i) => expect(x).toBeCloseTo(v0[i]!, 6));

    const byDefault = await client.embeddings.create({ model: 'embeddings', input: 'hello' });
    const d = Array.from(byDefault.data[0]!.embedding);
    d.forEach((x, i) => expect(x).toBeCloseTo(v0[i]!, 6));
  });

  it('rejects an unknown encoding_format with 400', async () => {
    const e = await thrown(client.embeddings.create({ model: 'embeddings', input: 'x', encoding_format: 'int8' as never }));
    expect(e).toBeInstanceOf(BadRequestError);
    expect(e.param).toBe('encoding_format');
  });

  it('lists and retrieves models', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(['chat', 'completions', 'embeddings', 'ok', 'limited', 'broken', 'denied', 'midstream', 'tools', 'hang', 'split']);
    expect(page.data[0]).toEqual({ id: 'chat', object: 'model', created: expect.any(Number), owned_by: 'mock' });
    expect(page.data.find((m) => m.id === 'ok')!.owned_by).toBe('openai');
    expect(page.data.find((m) => m.id === 'split')!.owned_by).toBe('gatehouse');

    const one = await client.models.retrieve('embeddings');
    expect(one).toEqual({ id: 'embeddings', object: 'model', created: page.data[0]!.created, owned_by: 'mock' });

    const e = await thrown(client.models.retrieve('nope'));
    expect(e).toBeInstanceOf(NotFoundError);
  });

  it('unknown model: NotFoundError with an OpenAI-shaped body', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.status).toBe(404);
    expect(e.param).toBe('model');
    expect(e.code).toBe('GW_ERR_ENDPOINT_NOT_FOUND');
    expect(e.message).toContain("The model 'nope' does not exist");
  });

  it('missing model: 400', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'x' }] });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: { message: expect.stringContaining('You must provide a model parameter'), type: 'invalid_request_error', param: 'model', code: 'GW_ERR_REQUEST_BAD' } });
    const e = await thrown(client.embeddings.create({ input: 'x' } as never));
    expect(e).toBeInstanceOf(BadRequestError);
  });

  it('wrong endpoint type: BadRequestError with MLflow\'s message', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'embeddings', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(BadRequestError);
    expect(e.message).toContain("Endpoint 'embeddings' is not a chat endpoint.");
    const e2 = await thrown(client.embeddings.create({ model: 'chat', input: 'x' }));
    expect(e2).toBeInstanceOf(BadRequestError);
    expect(e2.message).toContain("Endpoint 'chat' is not an embeddings endpoint.");
    const e3 = await thrown(client.completions.create({ model: 'chat', prompt: 'x' }));
    expect(e3.message).toContain("Endpoint 'chat' is not a completions endpoint.");
  });

  it('validation errors are 400 (not 422) with a summary message and the param', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }], temperature: 5 }));
    expect(e).toBeInstanceOf(BadRequestError);
    expect(e.status).toBe(400);
    expect(e.param).toBe('temperature');
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toContain('temperature: Input should be less than or equal to 2');

    const r = await postJson(`${gw.url}/v1/completions`, '{"model": "completions", "prompt": ');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('GW_ERR_REQUEST_INVALID_JSON');
  });

  it('upstream 429 keeps its status: RateLimitError', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(RateLimitError);
    expect(e.status).toBe(429);
    expect(e.message).toContain('Rate limit reached for gpt-4o-mini');
  });

  it('upstream 500 is the gateway\'s 502: InternalServerError', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(InternalServerError);
    expect(e.status).toBe(502);
    // The upstream's own `type` (a string) is shown; it sent no `code`, so the gateway's stays.
    expect(e.error).toEqual({ message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: 'GW_ERR_UPSTREAM_STATUS' });
  });

  it('upstream 401 (the gateway\'s own key) is a 502, never the caller\'s AuthenticationError', async () => {
    const e = await thrown(client.chat.completions.create({ model: 'denied', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(InternalServerError);
    expect(e.status).toBe(502);
  });

  it('upstream timeout is a 504: InternalServerError', async () => {
    const started = Date.now();
    const e = await thrown(client.chat.completions.create({ model: 'hang', messages: [{ role: 'user', content: 'x' }] }));
    expect(e).toBeInstanceOf(InternalServerError);
    expect(e.status).toBe(504);
    expect(e.code).toBe('GW_ERR_UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an error after the stream started arrives as a last error event: APIError from the iterator', async () => {
    const stream = await client.chat.completions.create({ model: 'midstream', messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: string[] = [];
    const e = await thrown((async () => { for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? ''); })());
    expect(seen).toEqual(['partial ']);
    expect(e).toBeInstanceOf(APIError);
    expect(e.message).toContain('upstream overloaded mid-stream');

    const raw = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'midstream', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    const events = await readSse(raw);
    expect(events.at(-1)).toEqual({ error: { message: 'upstream overloaded mid-stream', type: 'upstream_error', param: null, code: 'GW_ERR_UPSTREAM_STATUS' } });
    expect(events).not.toContain('[DONE]');
  });

  it('keys never reach a response', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'denied', messages: [{ role: 'user', content: 'x' }] });
    expect(r.text).not.toContain('sk-test-secret');
  });
});

describe('openai-compat turned off', () => {
  it('`openai-compat: { enabled: false }` removes the /v1 routes and leaves the MLflow routes', async () => {
    const gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } }],
        'openai-compat': { enabled: false },
      },
    });
    try {
      expect((await fetch(`${gw.url}/v1/models`)).status).toBe(404);
      expect((await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'x' }] })).status).toBe(404);
      expect((await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'x' }] })).status).toBe(200);
      const doc = (await (await fetch(`${gw.url}/openapi.json`)).json() as any);
      // What remains under /v1 is the Anthropic surface's (another plugin).
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/'))).toEqual(['/v1/messages']);
      expect(doc.info.version).toBe(gw.gateway.current().api.version);
    } finally { await gw.close(); }
  });
});

describe('openai-compat: unmatched /v1 paths', () => {
  it('answer in OpenAI\'s error shape (404 and 405), and 501s say not to retry', async () => {
    const gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' } },
          // The Anthropic provider cannot stream completions: a 501 before any upstream call.
          { name: 'legacy', endpoint_type: 'llm/v1/completions', model: { provider: 'anthropic', name: 'claude-2', config: { anthropic_api_key: 'sk-ant-unused' } } },
        ],
      },
    });
    try {
      const missing = await fetch(`${gw.url}/v1/assistants`, { method: 'POST' });
      expect([missing.status, await missing.json()]).toEqual([404, { error: { message: 'Not Found', type: 'not_found_error', param: null, code: 'GW_ERR_ROUTE_NOT_FOUND' } }]);
      const method = await fetch(`${gw.url}/v1/chat/completions`);
      expect([method.status, ((await method.json()) as any).error.code, method.headers.get('allow')]).toEqual([405, 'GW_ERR_METHOD_NOT_ALLOWED', 'POST']);
      const unsupported = await postJson(`${gw.url}/v1/completions`, { model: 'legacy', prompt: 'x', stream: true });
      expect([unsupported.status, unsupported.headers.get('x-should-retry'), unsupported.json.error.code]).toEqual([501, 'false', 'GW_ERR_CAPABILITY_UNSUPPORTED']);
      expect((await fetch(`${gw.url}/nope`)).status).toBe(404);
      expect((await (await fetch(`${gw.url}/nope`)).json() as any)).toEqual({ detail: 'Not Found' });
    } finally { await gw.close(); }
  });
});
