import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type ProviderInstance } from '@gatehouse/sdk';
import { checkProvider, collect, createProviderInstance, fixtures, rejection, startFakeUpstream, testCall as signal, type FakeUpstream } from '@gatehouse/sdk/testing';
import openai from '../src/index.js';

const fixture = fixtures(new URL('./fixtures/', import.meta.url)).json;
const chatReq = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1, ...extra });

function make(config: Record<string, unknown>, model: string | null = 'gpt-4o-mini', endpointType: any = 'llm/v1/chat', timeoutMs = 2000): ProviderInstance {
  return createProviderInstance(openai, { config: config as any, model, endpointType, timeoutMs });
}

describe('provider-openai', () => {
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); });

  it('passes the conformance checks', () => {
    expect(checkProvider(openai, 'openai')).toEqual([]);
  });

  it('chat: sends §11.1 request and maps the answer in MLflow field order', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat-completion.json') });
    const p = make({ openai_api_key: 'sk-test', openai_api_base: `${up.url}/v1`, openai_organization: 'org-1' });
    const res = await p.chat!(chatReq({ top_p: 0.5, max_tokens: null }) as any, signal());
    const got = up.last();
    expect(got.headers.authorization).toBe('Bearer sk-test');
    expect(got.headers['openai-organization']).toBe('org-1');
    expect(got.json).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1, top_p: 0.5 });
    expect(Object.keys(got.json)[0]).toBe('model');
    expect(JSON.stringify(res)).toBe(JSON.stringify({
      id: 'chatcmpl-abc123', object: 'chat.completion', created: 1677858242, model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: '\n\nThis is a test!', tool_calls: null, refusal: null }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 13, completion_tokens: 7, total_tokens: 20 },
    }));
  });

  it('chat: passes tool calls through', async () => {
    const js = fixture('chat-completion.json');
    js.choices[0].message = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    js.choices[0].finish_reason = 'tool_calls';
    up.on('POST /v1/chat/completions', { json: js });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` });
    const res = await p.chat!(chatReq({ tools: [{ type: 'function', function: { name: 'get_weather' } }] }) as any, signal());
    expect(up.last().json.tools).toEqual([{ type: 'function', function: { name: 'get_weather' } }]);
    expect(res.choices[0]!.message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('completions: uses the legacy Completions API and maps text', async () => {
    up.on('POST /v1/completions', { json: fixture('completion.json') });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` }, 'gpt-3.5-turbo-instruct', 'llm/v1/completions');
    const res = await p.completions!({ prompt: 'Say this is a test', temperature: 0, n: 1, max_tokens: 7 }, signal());
    expect(up.last().json).toEqual({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', temperature: 0, n: 1, max_tokens: 7 });
    expect(JSON.stringify(res)).toBe(JSON.stringify({
      id: 'cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7', object: 'text_completion', created: 1589478378, model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text: '\n\nThis is indeed a test', finish_reason: 'length' }],
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
    }));
  });

  it('embeddings: maps data, model and usage', async () => {
    up.on('POST /v1/embeddings', { json: fixture('embeddings.json') });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` }, 'text-embedding-3-small', 'llm/v1/embeddings');
    const res = await p.embeddings!({ input: ['a', 'b'] }, signal());
    expect(up.last().json).toEqual({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(JSON.stringify(res)).toBe(JSON.stringify({
      object: 'list',
      data: [{ object: 'embedding', embedding: [0.1, 0.2, 0.3], index: 0 }, { object: 'embedding', embedding: [0.4, 0.5, 0.6], index: 1 }],
      model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 },
    }));
  });

  it.each([1, 3, 7])('chat stream split every %i bytes: chunks in MLflow shape, usage asked for and kept', async (splitEvery) => {
    up.on('POST /v1/chat/completions', { sse: fixture('chat-stream.json'), splitEvery });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` });
    const chunks = await collect(p.chatStream!(chatReq({ stream: true }) as any, signal()));
    expect(up.last().json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? null)).toEqual(['', 'Héllo', ' wörld 🌍', null, null]);
    expect(JSON.stringify(chunks[1])).toBe(JSON.stringify({
      id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1694268190, model: 'gpt-4o-mini',
      choices: [{ index: 0, finish_reason: null, delta: { role: null, content: 'Héllo', tool_calls: null } }],
    }));
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } });
  });

  it('completions stream: real OpenAI chunks carry choices[].text (MLflow breaks on them)', async () => {
    up.on('POST /v1/completions', { sse: fixture('completion-stream.json'), splitAt: [10, 11, 200, 201] });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` }, 'gpt-3.5-turbo-instruct', 'llm/v1/completions');
    const chunks = await collect(p.completionsStream!({ prompt: 'x', temperature: 0, n: 1, stream: true }, signal()));
    expect(chunks.map((c) => c.choices[0]?.text ?? null)).toEqual(['This', ' is a test', '', null]);
    expect(JSON.stringify(chunks[0])).toBe(JSON.stringify({
      id: 'cmpl-7', object: 'text_completion_chunk', created: 1690759702, model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, finish_reason: null, text: 'This' }],
    }));
    expect(chunks[2]!.choices[0]!.finish_reason).toBe('length');
  });

  it('azure: deployment URL with api-version, api-key header, no model in the body', async () => {
    up.on('POST /openai/deployments/my-dep/chat/completions', { json: fixture('chat-completion.json') });
    const p = make({ openai_api_key: 'az-key', openai_api_type: 'Azure', openai_api_base: up.url, openai_deployment_name: 'my-dep', openai_api_version: '2024-06-01' });
    await p.chat!(chatReq() as any, signal());
    const got = up.last();
    expect(got.url).toBe('/openai/deployments/my-dep/chat/completions?api-version=2024-06-01');
    expect(got.headers['api-key']).toBe('az-key');
    expect(got.headers.authorization).toBeUndefined();
    expect(got.json).not.toHaveProperty('model');
  });

  it('azuread: bearer token instead of api-key', async () => {
    up.on('POST /openai/deployments/d/embeddings', { json: fixture('embeddings.json') });
    const p = make({ openai_api_key: 'aad-token', openai_api_type: 'azuread', openai_api_base: `${up.url}/`, openai_deployment_name: 'd', openai_api_version: 'v1' }, null, 'llm/v1/embeddings');
    await p.embeddings!({ input: 'x' }, signal());
    expect(up.last().headers.authorization).toBe('Bearer aad-token');
    expect(up.last().headers['api-key']).toBeUndefined();
  });

  it('openai with openai_api_version appends ?api-version to every request', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat-completion.json') });
    const p = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1`, openai_api_version: '2023-05-15' });
    await p.chat!(chatReq() as any, signal());
    expect(up.last().url).toBe('/v1/chat/completions?api-version=2023-05-15');
  });

  describe('upstream errors (spec §10)', () => {
    const p = () => make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` });
    it('4xx with error.message keeps the status, detail = the message', async () => {
      up.on('POST /v1/chat/completions', { status: 429, json: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' } } });
      const e = await rejection(p().chat!(chatReq() as any, signal()));
      expect(isGatewayError(e)).toBe(true);
      expect([e.status, e.detail]).toEqual([429, 'Rate limit reached for gpt-4o-mini']);
    });
    it('5xx JSON without error: detail = the whole body', async () => {
      up.on('POST /v1/chat/completions', { status: 503, json: { status: 'overloaded' } });
      const e = await rejection(p().chat!(chatReq() as any, signal()));
      expect([e.status, e.detail]).toEqual([503, { status: 'overloaded' }]);
    });
    it('text/plain error: detail = {message}', async () => {
      up.on('POST /v1/chat/completions', { status: 500, text: 'upstream exploded' });
      const e = await rejection(p().chat!(chatReq() as any, signal()));
      expect([e.status, e.detail]).toEqual([500, { message: 'upstream exploded' }]);
    });
    it('another content type, even on 200: 502 naming it', async () => {
      up.on('POST /v1/chat/completions', { status: 200, raw: '<html></html>', contentType: 'text/html' });
      const e = await rejection(p().chat!(chatReq() as any, signal()));
      expect([e.status, e.detail]).toEqual([502, 'The returned data type from the route service is not supported. Received content type: text/html']);
    });
    it('a stream whose upstream answers 4xx fails before any chunk, with the status', async () => {
      up.on('POST /v1/chat/completions', { status: 400, json: { error: { message: "Invalid value for 'temperature'" } } });
      const e = await rejection(p().chatStream!(chatReq({ stream: true }) as any, signal()));
      expect([e.status, e.detail]).toEqual([400, "Invalid value for 'temperature'"]);
    });
    it('connection reset mid-stream raises a 502 after the first chunks', async () => {
      up.on('POST /v1/chat/completions', { sse: fixture('chat-stream.json'), reset: { afterBytes: 400 } });
      const seen: unknown[] = [];
      const e = await (async () => { try { for await (const c of p().chatStream!(chatReq({ stream: true }) as any, signal())) seen.push(c); } catch (err) { return err as any; } })();
      expect(seen.length).toBeGreaterThan(0);
      expect(e?.code).toBe('GW_ERR_UPSTREAM_UNREACHABLE');
    });
    it('unreachable upstream: 502', async () => {
      const dead = make({ openai_api_key: 'k', openai_api_base: 'http://127.0.0.1:9/v1' });
      const e = await rejection(dead.chat!(chatReq() as any, signal()));
      expect([e.status, e.code]).toEqual([502, 'GW_ERR_UPSTREAM_UNREACHABLE']);
    });
    it('slow upstream: 504 after the timeout', async () => {
      up.on('POST /v1/chat/completions', { hang: true });
      const slow = make({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` }, 'm', 'llm/v1/chat', 200);
      const e = await rejection(slow.chat!(chatReq() as any, signal()));
      expect([e.status, e.code]).toEqual([504, 'GW_ERR_UPSTREAM_TIMEOUT']);
    });
  });

  describe('config rules (spec §6.3)', () => {
    const v = (c: Record<string, unknown>) => {
      const r = openai.validate!(c as any, { name: 'm', provider: 'openai' }, 'llm/v1/chat');
      return r === undefined ? [] : Array.isArray(r) ? r : [r];
    };
    it('accepts plain openai', () => expect(v({ openai_api_key: 'k' })).toEqual([]));
    it('rejects a bad type', () => expect(v({ openai_api_key: 'k', openai_api_type: 'gcp' })[0]).toMatch(/^Invalid OpenAI API type 'gcp'/));
    it('rejects a deployment name with type openai', () => expect(v({ openai_api_key: 'k', openai_deployment_name: 'd' })[0]).toMatch(/can only specify a value for 'openai_deployment_name'/));
    it('requires base, deployment and version for azure', () => expect(v({ openai_api_key: 'k', openai_api_type: 'azure' })[0]).toMatch(/must specify 'openai_api_base', 'openai_deployment_name', and 'openai_api_version'/));
    it('forbids organization for azure', () => expect(v({ openai_api_key: 'k', openai_api_type: 'azuread', openai_api_base: 'b', openai_deployment_name: 'd', openai_api_version: 'v', openai_organization: 'o' })[0]).toMatch(/openai_organization/));
  });
});

describe('provider-openai: max_completion_tokens', () => {
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); });

  // o-series models require `max_completion_tokens` (and refuse `max_tokens`): OpenAI and Azure get it unchanged.
  it.each<[string, () => Record<string, unknown>, string]>([
    ['openai', () => ({ openai_api_key: 'k', openai_api_base: `${up.url}/v1` }), '/v1/chat/completions'],
    ['azure', () => ({ openai_api_key: 'k', openai_api_type: 'azure', openai_api_base: up.url, openai_deployment_name: 'o3', openai_api_version: '2024-12-01-preview' }),
      '/openai/deployments/o3/chat/completions'],
  ])('%s: chat and chat stream forward it as-is, without adding max_tokens', async (_type, config, path) => {
    const p = make(config(), 'o3-mini');
    up.reset();
    await rejection(p.chat!(chatReq({ max_completion_tokens: 7 }) as any, signal()));
    expect(up.last().pathname).toBe(path);
    expect(up.last().json.max_completion_tokens).toBe(7);
    expect(up.last().json).not.toHaveProperty('max_tokens');
    up.reset();
    await rejection(p.chatStream!(chatReq({ max_tokens: 5, max_completion_tokens: 7 }) as any, signal()));
    expect(up.last().json).toMatchObject({ max_tokens: 5, max_completion_tokens: 7, stream: true });
  });
});
