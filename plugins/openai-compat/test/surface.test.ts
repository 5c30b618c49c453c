import { describe, expect, it } from 'vitest';
import { chatChunk, completionsChunk, defineErrorCodes, embeddingsResponse, GatewayError, type ErrorCode, type RouteDefinition, type SurfaceDefinition, type UnifiedChunk } from '@gatehouse/sdk';
import { collect } from '@gatehouse/sdk/testing';
import plugin, { base64ToFloats, encodeEmbeddings, floatsToBase64, openAIChunks, openAISurface, type OpenAIErrorBody } from '../src/index.js';

const render = (code: ErrorCode, message = 'm', opts: ConstructorParameters<typeof GatewayError>[2] = {}) =>
  openAISurface.renderError(new GatewayError(code, message, opts));

async function* from<T>(items: T[]): AsyncGenerator<T> { for (const i of items) yield i; }

describe('openai surface: error mapping', () => {
  it.each([
    ['GW_ERR_REQUEST_INVALID_JSON', 400],
    ['GW_ERR_REQUEST_VALIDATION', 400],
    ['GW_ERR_REQUEST_PARAM', 400],
    ['GW_ERR_REQUEST_BAD', 400],
    ['GW_ERR_REQUEST_MODEL_FIELD', 400],
    ['GW_ERR_REQUEST_TOO_LARGE', 413],
    ['GW_ERR_ENDPOINT_NOT_FOUND', 404],
    ['GW_ERR_ROUTE_NOT_FOUND', 404],
    ['GW_ERR_ENDPOINT_TYPE_MISMATCH', 400],
    ['GW_ERR_METHOD_NOT_ALLOWED', 405],
    ['GW_ERR_CAPABILITY_UNSUPPORTED', 501],
    ['GW_ERR_NOT_IMPLEMENTED', 501],
    ['GW_ERR_RATE_LIMITED', 429],
    ['GW_ERR_UPSTREAM_STATUS', 502],
    ['GW_ERR_UPSTREAM_CONTENT_TYPE', 502],
    ['GW_ERR_UPSTREAM_BAD_RESPONSE', 502],
    ['GW_ERR_UPSTREAM_UNREACHABLE', 502],
    ['GW_ERR_UPSTREAM_TIMEOUT', 504],
    ['GW_ERR_INTERNAL', 500],
  ] as Array<[ErrorCode, number]>)('%s -> %i', (code, status) => {
    expect(render(code).status).toBe(status);
  });

  it('an upstream 4xx keeps its status, except the gateway\'s own credential failures', () => {
    expect(render('GW_ERR_UPSTREAM_STATUS', 'slow down', { status: 429 }).status).toBe(429);
    expect(render('GW_ERR_UPSTREAM_STATUS', 'too long', { status: 400 }).status).toBe(400);
    expect(render('GW_ERR_UPSTREAM_STATUS', 'bad key', { status: 401 }).status).toBe(502);
    expect(render('GW_ERR_UPSTREAM_STATUS', 'forbidden', { status: 403 }).status).toBe(502);
    expect(render('GW_ERR_UPSTREAM_STATUS', 'boom', { status: 500 }).status).toBe(502);
    expect(render('GW_ERR_UPSTREAM_STATUS', 'unavailable', { status: 503 }).status).toBe(502);
  });

  it('renders {"error": {message, type, param, code}}, hiding unexposed messages', () => {
    expect(render('GW_ERR_REQUEST_VALIDATION', 'temperature: Input should be less than or equal to 2', { param: 'temperature', detail: [{}] }).body).toEqual({
      error: { message: 'temperature: Input should be less than or equal to 2', type: 'invalid_request_error', param: 'temperature', code: 'GW_ERR_REQUEST_VALIDATION' },
    });
    expect(render('GW_ERR_INTERNAL', 'TypeError: x is undefined at /secret/path').body).toEqual({
      error: { message: 'Internal Server Error', type: 'internal_error', param: null, code: 'GW_ERR_INTERNAL' },
    });
    expect(openAISurface.streamTerminator).toBe('[DONE]');
    expect(openAISurface.renderStreamError!(new GatewayError('GW_ERR_UPSTREAM_TIMEOUT', 'late'))).toEqual({
      error: { message: 'late', type: 'timeout_error', param: null, code: 'GW_ERR_UPSTREAM_TIMEOUT' },
    });
  });

  it("an upstream error's own type, code and param (strings) replace the gateway's; the error's own param wins", () => {
    const errorOf = (code: ErrorCode, message: string, opts: ConstructorParameters<typeof GatewayError>[2]) => (render(code, message, opts).body as OpenAIErrorBody).error;
    const facts = (status: number, f: { type?: string | null; code?: string | null; param?: string | null }) => ({ status, headers: {}, retryAfterMs: null, ...f });
    const quota = facts(429, { type: 'insufficient_quota', code: 'insufficient_quota', param: null });
    expect(render('GW_ERR_UPSTREAM_STATUS', 'quota', { status: 429, upstream: quota })).toEqual({
      status: 429, body: { error: { message: 'quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } },
    });
    const ctx = facts(400, { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
    expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'long', { status: 400, upstream: ctx })).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'long', { status: 400, upstream: ctx, param: 'messages.0.content' }).param).toBe('messages.0.content');
    // Only a type (Anthropic): the gateway's code stays.
    expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'busy', { status: 529, upstream: facts(529, { type: 'overloaded_error' }) })).toMatchObject({ type: 'overloaded_error', code: 'GW_ERR_UPSTREAM_STATUS' });
    // Neither a type nor a code: unchanged, the upstream's param too.
    expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'x', { status: 400, upstream: facts(400, { param: 'messages' }) })).toEqual({ message: 'x', type: 'upstream_error', param: null, code: 'GW_ERR_UPSTREAM_STATUS' });
    expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'x', { status: 400, upstream: facts(400, {}) }).code).toBe('GW_ERR_UPSTREAM_STATUS');
    // The gateway's own credentials: never the upstream's invalid_api_key.
    for (const s of [401, 403, 407]) {
      expect(errorOf('GW_ERR_UPSTREAM_STATUS', 'bad key', { status: s, upstream: facts(s, { type: 'invalid_request_error', code: 'invalid_api_key' }) }), String(s)).toMatchObject({ type: 'upstream_error', code: 'GW_ERR_UPSTREAM_STATUS' });
    }
  });
});

describe('openai surface: stream chunks', () => {
  const base = { id: 'c1', created: 1, model: 'm' };
  const chat: UnifiedChunk[] = [
    chatChunk({ ...base, choices: [{ delta: { role: 'assistant', content: 'hi' } }] }),
    chatChunk({ ...base, choices: [{ finish_reason: 'stop', delta: {} }] }),
    chatChunk({ ...base, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
  ];

  it('without include_usage: drops usage-only chunks and usage fields', async () => {
    const withUsageOnContent = [chatChunk({ ...base, choices: [{ delta: { content: 'x' } }], usage: { prompt_tokens: 1, completion_tokens: 1 } }), ...chat];
    const out = await collect(openAIChunks(from(withUsageOnContent), false)) as any[];
    expect(out).toHaveLength(3);
    expect(out.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
  });

  it('with include_usage: usage null on content chunks, one last usage chunk', async () => {
    const out = await collect(openAIChunks(from(chat), true)) as any[];
    expect(out.map((c) => c.usage)).toEqual([null, null, { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }]);
    expect(out[2]).toEqual({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  });

  it('with include_usage: usage carried on a content chunk moves to the last chunk', async () => {
    const chunks = [
      completionsChunk({ ...base, choices: [{ text: 'a' }] }),
      completionsChunk({ ...base, choices: [{ text: '', finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 3 } }),
    ];
    const out = await collect(openAIChunks(from(chunks), true)) as any[];
    expect(out).toHaveLength(3);
    expect(out[1].usage).toBeNull();
    expect(out[2]).toMatchObject({ object: 'text_completion_chunk', choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
  });

  it('with include_usage and a provider that reports none: a last chunk with null usage', async () => {
    const out = await collect(openAIChunks(from(chat.slice(0, 2)), true)) as any[];
    expect(out.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: null, completion_tokens: null, total_tokens: null } });
  });
});

describe('openai surface: OpenAI\'s own codes for limits and the gateway\'s keys', () => {
  // The auth plugin defines these; here they are defined as it does, to render them.
  defineErrorCodes('auth', {
    GW_ERR_AUTH_MISSING: { status: 401, expose: true, type: 'authentication_error' },
    GW_ERR_AUTH_INVALID: { status: 401, expose: true, type: 'authentication_error' },
    GW_ERR_AUTH_FORBIDDEN: { status: 403, expose: true, type: 'permission_error' },
  });

  it('a rate limit reads as OpenAI\'s rate_limit_exceeded', () => {
    const r = render('GW_ERR_RATE_LIMITED', 'Rate limit exceeded for endpoint chat.');
    expect(r.status).toBe(429);
    expect(r.body).toEqual({ error: { message: 'Rate limit exceeded for endpoint chat.', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  });

  it('a missing or wrong gateway key reads as invalid_api_key (401), a forbidden one as a permission error (403)', () => {
    for (const code of ['GW_ERR_AUTH_MISSING', 'GW_ERR_AUTH_INVALID']) {
      const r = render(code, 'A gateway key is required.');
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { message: 'A gateway key is required.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    const f = render('GW_ERR_AUTH_FORBIDDEN', "This key may not call 'chat'.");
    expect(f.status).toBe(403);
    expect(f.body).toEqual({ error: { message: "This key may not call 'chat'.", type: 'permission_error', param: null, code: 'insufficient_permissions' } });
  });
});

describe('openai surface: embeddings encoding', () => {
  it('encodes float32 little-endian base64, as OpenAI does', () => {
    expect(floatsToBase64([1, -2, 0.5])).toBe(Buffer.from(new Float32Array([1, -2, 0.5]).buffer).toString('base64'));
    expect(floatsToBase64([1, -2, 0.5])).toBe('AACAPwAAAMAAAAA/');
    expect(base64ToFloats('AACAPwAAAMAAAAA/')).toEqual([1, -2, 0.5]);
  });

  it('converts whole responses either way, leaving the rest untouched', () => {
    const res = embeddingsResponse({ model: 'm', data: [[1, 2], [3, 4]], usage: { prompt_tokens: 2, total_tokens: 2 } });
    const b64 = encodeEmbeddings(res, 'base64');
    expect(b64.data.map((d) => typeof d.embedding)).toEqual(['string', 'string']);
    expect(Object.keys(b64)).toEqual(Object.keys(res));
    expect(encodeEmbeddings(b64, 'float')).toEqual(res);
    expect(encodeEmbeddings(res, 'float')).toEqual(res);
  });
});

describe('openai-compat plugin', () => {
  it('registers the openai surface and the /v1 routes', async () => {
    const routes: Array<{ method: string; path: string; surface?: string }> = [];
    const surfaces: string[] = [];
    await plugin.register({
      name: 'openai-compat', config: {}, logger: undefined as never, gateway: undefined as never,
      provide() {}, resolve: () => undefined as never, resolveAll: () => [], use() {}, onClose() {},
      route: (r: RouteDefinition) => { routes.push(r); }, surface: (s: SurfaceDefinition) => { surfaces.push(s.name); },
      keep: (_key: string, make: () => unknown) => make(),
    } as never);
    expect(plugin.name).toBe('openai-compat');
    expect(surfaces).toEqual(['openai', 'openai-responses']);
    expect(routes.map((r) => `${r.method} ${r.path} ${r.surface}`)).toEqual([
      'POST /v1/chat/completions openai', 'POST /v1/completions openai', 'POST /v1/embeddings openai',
      'POST /v1/responses openai-responses', 'GET /v1/models openai', 'GET /v1/models/:id openai',
    ]);
  });
});
