import { describe, expect, it } from 'vitest';
import { chatChunk, chatResponse, GatewayError, type ChatChunk } from '@gatehouse/sdk';
import plugin, { anthropicSurface, eventName, messageEvents, toChatBody, toMessage } from '../src/index.js';

async function* from<T>(items: T[]): AsyncGenerator<T> { for (const i of items) yield i; }
async function all<T>(it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out; }

const badRequest = (fn: () => unknown, param: string | null, message?: RegExp) => {
  try { fn(); } catch (e) {
    expect((e as GatewayError).code).toBe('GW_ERR_REQUEST_BAD');
    expect((e as GatewayError).param).toBe(param);
    if (message) expect((e as GatewayError).message).toMatch(message);
    return;
  }
  throw new Error('expected a 400');
};

const weatherTool = { name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('anthropic: request translation', () => {
  it('system, text, images, tool_use and tool_result, tools, tool_choice, stop_sequences, max_tokens', () => {
    const { chat, stream } = toChatBody({
      model: 'chat', max_tokens: 100, system: [{ type: 'text', text: 'Be brief.' }], temperature: 0.5, top_p: 0.8, stop_sequences: ['END'],
      tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' }, metadata: { user_id: 'u' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '5C' }] }, { type: 'text', text: 'And tomorrow?' }] },
      ],
    });
    expect(stream).toBe(false);
    expect(chat).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: 'Looking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '5C' },
        { role: 'user', content: 'And tomorrow?' },
      ],
      max_tokens: 100,
      temperature: 1, // Anthropic's 0-1 range on the unified 0-2 one
      top_p: 0.8,
      stop: ['END'],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weatherTool.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
  });

  it('tool_choice any/auto/none and streams asking for usage', () => {
    const base = { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], tools: [weatherTool] };
    expect(toChatBody({ ...base, tool_choice: { type: 'any' } }).chat.tool_choice).toBe('required');
    expect(toChatBody({ ...base, tool_choice: { type: 'auto', disable_parallel_tool_use: true } }).chat.tool_choice).toBe('auto');
    expect(toChatBody({ ...base, tool_choice: { type: 'none' } }).chat.tool_choice).toBe('none');
    const s = toChatBody({ ...base, stream: true });
    expect(s.stream).toBe(true);
    expect(s.chat).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('refuses what it cannot translate, naming the field', () => {
    const base = { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    badRequest(() => toChatBody({ model: 'c', messages: [{ role: 'user', content: 'x' }] }), 'max_tokens', /Field required/);
    badRequest(() => toChatBody({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), 'tools.0.type', /not supported/);
    badRequest(() => toChatBody({ ...base, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }), 'messages.0.content.0.type');
    badRequest(() => toChatBody({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } }), 'thinking');
    badRequest(() => toChatBody({ ...base, temperature: 1.5 }), 'temperature');
    badRequest(() => toChatBody({ ...base, messages: [] }), 'messages');
    badRequest(() => toChatBody({ ...base, messages: [{ role: 'system', content: 'x' }] }), 'messages.0.role');
    badRequest(() => toChatBody({ ...base, frobnicate: true }), 'frobnicate');
  });
});

describe('anthropic: answers', () => {
  it('text and tool calls become content blocks; finish reasons become stop reasons', () => {
    const msg = toMessage(chatResponse({
      model: 'gpt-x',
      choices: [{ message: { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 9, completion_tokens: 4 },
    }), 'msg_1');
    expect(msg).toEqual({
      id: 'msg_1', type: 'message', role: 'assistant', model: 'gpt-x',
      content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } }],
      stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 9, output_tokens: 4 },
    });
    const cut = toMessage(chatResponse({ model: 'm', choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'length' }] }), 'msg_2');
    expect(cut.stop_reason).toBe('max_tokens');
  });

  it('tool arguments that are not JSON are the upstream\'s fault (502)', () => {
    const fn = () => toMessage(chatResponse({ model: 'm', choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] } }] }), 'm');
    expect(fn).toThrow(GatewayError);
    try { fn(); } catch (e) { expect((e as GatewayError).status).toBe(502); }
  });
});

describe('anthropic: stream events', () => {
  const base = { id: 'c', created: 1, model: 'gpt-x' };
  it('message_start, ping, text and tool_use blocks, message_delta with usage, message_stop; every event named by its type', async () => {
    const chunks: ChatChunk[] = [
      chatChunk({ ...base, choices: [{ delta: { role: 'assistant', content: 'Let me ' } }] }),
      chatChunk({ ...base, choices: [{ delta: { content: 'check.' } }] }),
      chatChunk({ ...base, choices: [{ delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: {}, finish_reason: 'tool_calls' }] }),
      chatChunk({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: 7 } }),
    ];
    const events = await all(messageEvents(from(chunks), { id: 'msg_x', model: 'chat' }));
    expect(events.map(eventName)).toEqual([
      'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop',
      'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(events[0].message).toMatchObject({ id: 'msg_x', type: 'message', role: 'assistant', model: 'gpt-x', content: [], stop_reason: null });
    expect(events[2]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(events[3]).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } });
    expect(events[6]).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} } });
    expect(events[7]).toEqual({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":"Oslo"}' } });
    expect(events[9]).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 12, output_tokens: 7 } });
  });
});

describe('anthropic surface', () => {
  const render = (code: string, message = 'm', opts: ConstructorParameters<typeof GatewayError>[2] = {}) => anthropicSurface.renderError(new GatewayError(code, message, opts));
  it.each([
    ['GW_ERR_REQUEST_BAD', {}, 400, 'invalid_request_error'],
    ['GW_ERR_REQUEST_VALIDATION', {}, 400, 'invalid_request_error'],
    ['GW_ERR_ENDPOINT_NOT_FOUND', {}, 404, 'not_found_error'],
    ['GW_ERR_ROUTE_NOT_FOUND', {}, 404, 'not_found_error'],
    ['GW_ERR_REQUEST_TOO_LARGE', {}, 413, 'request_too_large'],
    ['GW_ERR_RATE_LIMITED', {}, 429, 'rate_limit_error'],
    ['GW_ERR_UPSTREAM_STATUS', { status: 429 }, 429, 'rate_limit_error'],
    ['GW_ERR_UPSTREAM_STATUS', { status: 401 }, 502, 'api_error'],
    ['GW_ERR_UPSTREAM_STATUS', { status: 500 }, 502, 'api_error'],
    ['GW_ERR_UPSTREAM_STATUS', { status: 529 }, 529, 'overloaded_error'],
    ['GW_ERR_UPSTREAM_TIMEOUT', {}, 504, 'timeout_error'],
    ['GW_ERR_INTERNAL', {}, 500, 'api_error'],
  ] as const)('%s %j -> %i %s', (code, opts, status, type) => {
    const r = render(code, 'boom', opts);
    expect(r.status).toBe(status);
    expect((r.body as { type: string; error: { type: string } }).type).toBe('error');
    expect((r.body as { error: { type: string } }).error.type).toBe(type);
  });

  it('hides messages the catalogue does not expose; a 501 is not retried; stream errors use the same shape', () => {
    expect(render('GW_ERR_INTERNAL', 'secret stack').body).toEqual({ type: 'error', error: { type: 'api_error', message: 'Internal Server Error' } });
    expect(render('GW_ERR_CAPABILITY_UNSUPPORTED').headers).toEqual({ 'x-should-retry': 'false' });
    const ev = anthropicSurface.renderStreamError!(new GatewayError('GW_ERR_UPSTREAM_TRUNCATED', 'cut')) as { event: string; data: unknown };
    expect(ev.event).toBe('error');
    expect(ev.data).toEqual({ type: 'error', error: { type: 'api_error', message: 'cut' } });
    expect(anthropicSurface.pathPrefix).toBe('/v1/messages');
  });

  it('the plugin registers the surface and POST /v1/messages on it', async () => {
    const routes: Array<{ method: string; path: string; surface?: string }> = [];
    const surfaces: string[] = [];
    await plugin.register({ route: (r: never) => { routes.push(r); }, surface: (s: { name: string }) => { surfaces.push(s.name); } } as never);
    expect(plugin.name).toBe('anthropic-compat');
    expect(surfaces).toEqual(['anthropic']);
    expect(routes.map((r) => `${r.method} ${r.path} ${r.surface}`)).toEqual(['POST /v1/messages anthropic']);
  });
});
