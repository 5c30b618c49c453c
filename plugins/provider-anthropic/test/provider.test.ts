import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, isGatewayError, type EndpointType, type Logger } from '@gatehouse/sdk';
import { checkProvider, collect, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def, { type AnthropicConfig } from '../src/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
const http = createHttpClient();
const call = () => ({ signal: new AbortController().signal });

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); await http.close(); });
beforeEach(() => up.reset());

function instance(endpoint_type: EndpointType = 'llm/v1/chat', config: Partial<AnthropicConfig> = {}) {
  return def.create({
    config: { anthropic_api_key: 'sk-ant-test', anthropic_api_base: `${up.url}/v1`, ...config },
    model: { name: 'claude-3-haiku-20240307', provider: 'anthropic' },
    endpoint: { name: 'e', endpoint_type },
    http, logger, timeoutMs: 5000,
  });
}

const message = {
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-3-haiku-20240307',
  content: [{ type: 'text', text: 'Hello!' }], stop_reason: 'end_turn', stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 6 },
};

describe('definition', () => {
  it('passes the sdk conformance checks and lacks embeddings and completions streaming', () => {
    expect(checkProvider(def, 'anthropic')).toEqual([]);
    expect(def.displayName).toBe('Anthropic');
    const inst = instance();
    expect(typeof inst.chat).toBe('function');
    expect(typeof inst.chatStream).toBe('function');
    expect(typeof inst.completions).toBe('function');
    expect(inst.embeddings).toBeUndefined();
    expect(inst.completionsStream).toBeUndefined();
  });

  it('validates the base URL', () => {
    expect(def.validate?.({ anthropic_api_key: 'k', anthropic_api_base: 'not a url' }, { name: 'x', provider: 'anthropic' }, 'llm/v1/chat'))
      .toBe("anthropic_api_base must be an absolute URL, got 'not a url'.");
  });
});

describe('chat', () => {
  it('posts to {base}/messages with x-api-key and anthropic-version', async () => {
    up.on('POST /v1/messages', { json: message });
    const res = await instance().chat!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call());
    const r = up.last();
    expect(r.pathname).toBe('/v1/messages');
    expect(r.headers['x-api-key']).toBe('sk-ant-test');
    expect(r.headers['anthropic-version']).toBe('2023-06-01');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({ model: 'claude-3-haiku-20240307', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8192, temperature: 0 });
    expect(res).toMatchObject({
      id: 'msg_1', object: 'chat.completion', model: 'claude-3-haiku-20240307',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', tool_calls: null, refusal: null }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
    });
  });

  it('sends a configured anthropic_version', async () => {
    up.on('POST /v1/messages', { json: message });
    await instance('llm/v1/chat', { anthropic_version: '2024-01-01' }).chat!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call());
    expect(up.last().headers['anthropic-version']).toBe('2024-01-01');
  });

  it('maps an upstream 4xx error body to its status and message', async () => {
    up.on('POST /v1/messages', { status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: 'messages: field required' } } });
    const e = await instance().chat!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(400);
    expect(e.detail).toBe('messages: field required');
  });

  it('maps an upstream 5xx (overloaded 529) to its status', async () => {
    up.on('POST /v1/messages', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const e = await instance().chat!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(e.status).toBe(529);
    expect(e.detail).toBe('Overloaded');
  });

  it('answers 500 upstream errors with their status', async () => {
    up.on('POST /v1/messages', { status: 500, json: { type: 'error', error: { type: 'api_error', message: 'Internal server error' } } });
    const e = await instance().chat!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(e.status).toBe(500);
    expect(e.detail).toBe('Internal server error');
  });
});

describe('chat stream', () => {
  const sse = fixture('chat-stream-tools.sse');
  const expected = JSON.parse(fixture('chat-stream-tools.expected.json'));
  const strip = (cs: any[]) => cs.map(({ created, ...rest }) => rest);

  it.each([1, 2, 3, 5, 7])('gives the same chunks when the upstream splits every %i bytes', async (n) => {
    up.on('POST /v1/messages', { raw: sse, contentType: 'text/event-stream', splitEvery: n });
    const chunks = await collect(instance().chatStream!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call()));
    expect(strip(chunks)).toEqual(strip(expected));
    expect(up.last().json.stream).toBe(true);
  });

  it('survives splits inside multi-byte characters and event separators', async () => {
    const bytes = Buffer.from(sse);
    const zurich = bytes.indexOf(Buffer.from('ü'));
    const sun = bytes.indexOf(Buffer.from('☀'));
    const sep = bytes.indexOf(Buffer.from('\n\n'));
    up.on('POST /v1/messages', { raw: bytes, contentType: 'text/event-stream', splitAt: [zurich + 1, sun + 1, sun + 2, sep + 1] });
    const chunks = await collect(instance().chatStream!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call()));
    expect(strip(chunks)).toEqual(strip(expected));
  });

  it('throws a GatewayError on an error event after some chunks', async () => {
    up.on('POST /v1/messages', { raw: fixture('chat-stream-error.sse'), contentType: 'text/event-stream', splitEvery: 3 });
    const seen: unknown[] = [];
    const e = await (async () => {
      try { for await (const c of instance().chatStream!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call())) seen.push(c); } catch (err) { return err as any; }
    })();
    expect(seen).toHaveLength(1);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(529);
    expect(e.message).toBe('Overloaded');
  });

  it('throws GW_ERR_UPSTREAM_TRUNCATED (502) when the stream ends cleanly before message_delta / message_stop', async () => {
    const cut = sse.slice(0, sse.indexOf('event: message_delta'));
    up.on('POST /v1/messages', { raw: cut, contentType: 'text/event-stream' });
    const e = await collect(instance().chatStream!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call())).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect([e.code, e.status]).toEqual(['GW_ERR_UPSTREAM_TRUNCATED', 502]);
  });

  it('maps a non-2xx answer before the stream starts', async () => {
    up.on('POST /v1/messages', { status: 401, json: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } });
    const e = await collect(instance().chatStream!({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 }, call())).catch((x) => x);
    expect(e.status).toBe(401);
    expect(e.detail).toBe('invalid x-api-key');
  });
});

describe('completions', () => {
  it('posts the legacy body to {base}/complete', async () => {
    up.on('POST /v1/complete', { json: { type: 'completion', id: 'compl_1', completion: ' Hi there', stop_reason: 'max_tokens', model: 'claude-2.1' } });
    const res = await instance('llm/v1/completions').completions!({ prompt: 'Hello', temperature: 1, n: 1, max_tokens: 20 }, call());
    const r = up.last();
    expect(r.pathname).toBe('/v1/complete');
    expect(r.headers['x-api-key']).toBe('sk-ant-test');
    expect(r.json).toEqual({ model: 'claude-3-haiku-20240307', prompt: '\n\nHuman: Hello\n\nAssistant:', max_tokens_to_sample: 20, temperature: 0.5 });
    expect(res).toMatchObject({ id: null, object: 'text_completion', model: 'claude-2.1', choices: [{ index: 0, text: ' Hi there', finish_reason: 'length' }] });
  });

  it('rejects n != 1 before calling upstream', async () => {
    const e = await instance('llm/v1/completions').completions!({ prompt: 'Hello', temperature: 0, n: 2 }, call()).catch((x) => x);
    expect(e.status).toBe(422);
    expect(up.requests).toHaveLength(0);
  });
});
