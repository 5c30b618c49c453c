/**
 * The official `@anthropic-ai/sdk` against the gateway's `/v1/messages`: `messages.create` and
 * `messages.stream`, plain and with a tool round trip, against endpoints on the openai and
 * anthropic providers (each in front of a fake upstream in its own wire format) and on the mock
 * provider (tool-call mode).
 */
import Anthropic, { AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

/** A fake OpenAI chat upstream: calls the first tool until it sees a tool result, then reports it. */
function openAIAnswer(req: RecordedRequest) {
  const body = req.json;
  const last = body.messages[body.messages.length - 1];
  const base = { id: 'chatcmpl-up', created: 1700000000, model: 'gpt-4o-mini' };
  const usage = { prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 };
  const call = body.tools?.length && last.role !== 'tool';
  const text = last.role === 'tool' ? `OpenAI saw the tool say: ${last.content}` : 'Hello from the OpenAI upstream.';
  if (!body.stream) {
    const message = call
      ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_oa_1', type: 'function', function: { name: body.tools[0].function.name, arguments: '{"city":"Paris"}' } }] }
      : { role: 'assistant', content: text };
    return { json: { ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: call ? 'tool_calls' : 'stop' }], usage } };
  }
  const chunk = (delta: unknown, finish: string | null = null) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  const events = call
    ? [
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_oa_1', type: 'function', function: { name: body.tools[0].function.name, arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
    ]
    : [chunk({ role: 'assistant', content: text.slice(0, 6) }), chunk({ content: text.slice(6) }), chunk({}, 'stop')];
  return { sse: [...events, { ...base, object: 'chat.completion.chunk', choices: [], usage }, '[DONE]'] };
}

/** A fake Anthropic Messages upstream, in Anthropic's own wire format (events with `event:` lines). */
function anthropicAnswer(req: RecordedRequest) {
  const body = req.json;
  const last = body.messages[body.messages.length - 1];
  const result = Array.isArray(last.content) ? last.content.find((b: any) => b.type === 'tool_result') : undefined;
  const call = body.tools?.length && !result;
  const text = result ? `Claude saw the tool say: ${typeof result.content === 'string' ? result.content : result.content.map((b: any) => b.text).join('')}` : 'Hello from the Anthropic upstream.';
  const message = { id: 'msg_up_1', type: 'message', role: 'assistant', model: 'claude-3-5-haiku-20241022', stop_sequence: null };
  if (!body.stream) {
    const content = call ? [{ type: 'tool_use', id: 'toolu_up_1', name: body.tools[0].name, input: { city: 'Paris' } }] : [{ type: 'text', text }];
    return { json: { ...message, content, stop_reason: call ? 'tool_use' : 'end_turn', usage: { input_tokens: 30, output_tokens: 9 } } };
  }
  const ev = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}`;
  const block = call
    ? [
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_up_1', name: body.tools[0].name, input: {} } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city": ' } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
    ]
    : [
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(0, 8) } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(8) } }),
    ];
  return {
    sse: [
      ev('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 30, output_tokens: 1 } } }),
      ev('ping', { type: 'ping' }),
      ...block,
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: call ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }),
      ev('message_stop', { type: 'message_stop' }),
    ],
  };
}

const tools: Anthropic.Tool[] = [{
  name: 'get_weather', description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

describe('Anthropic SDK against /v1/messages', () => {
  let openaiUp: FakeUpstream;
  let anthropicUp: FakeUpstream;
  let gw: TestGateway;
  let client: Anthropic;

  beforeAll(async () => {
    openaiUp = await startFakeUpstream({
      'POST /v1/chat/completions': openAIAnswer,
      'POST /mid/v1/chat/completions': {
        sse: [
          { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { role: 'assistant', content: 'partial ' }, finish_reason: null }] },
          { error: { message: 'upstream overloaded mid-stream', type: 'server_error' } },
        ],
      },
    });
    anthropicUp = await startFakeUpstream({ 'POST /v1/messages': anthropicAnswer });
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'mock', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1, tool_calls: true, tool_arguments: { city: 'Paris' } } } },
          { name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-openai-secret', openai_api_base: `${openaiUp.url}/v1` } } },
          { name: 'claude', endpoint_type: 'llm/v1/chat', model: { provider: 'anthropic', name: 'claude-3-5-haiku-20241022', config: { anthropic_api_key: 'sk-ant-test-secret', anthropic_api_base: `${anthropicUp.url}/v1` } } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock' } },
          { name: 'mid', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-openai-secret', openai_api_base: `${openaiUp.url}/mid/v1` } } },
        ],
        routes: [{ name: 'split', task_type: 'llm/v1/chat', destinations: [{ name: 'mock', traffic_percentage: 100 }] }],
      },
    });
    client = new Anthropic({ baseURL: gw.url, apiKey: 'unused-by-the-gateway', maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    await gw?.close();
    await openaiUp?.close();
    await anthropicUp?.close();
  });

  const greeting: Record<string, string> = {
    mock: 'This is a mock response from Gatehouse. You said: Hello there',
    gpt: 'Hello from the OpenAI upstream.',
    claude: 'Hello from the Anthropic upstream.',
  };
  const afterTool: Record<string, string> = {
    mock: 'This is a mock response from Gatehouse. The tool returned: 18C and sunny',
    gpt: 'OpenAI saw the tool say: 18C and sunny',
    claude: 'Claude saw the tool say: 18C and sunny',
  };

  describe.each(['mock', 'gpt', 'claude'])('endpoint %s', (model) => {
    it('messages.create: text', async () => {
      const msg = await client.messages.create({ model, max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there' }] });
      expect(msg.type).toBe('message');
      expect(msg.role).toBe('assistant');
      expect(msg.content).toEqual([{ type: 'text', text: greeting[model] }]);
      expect(msg.stop_reason).toBe('end_turn');
      expect(msg.usage.input_tokens).toBeGreaterThan(0);
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
      expect(msg._request_id).toBeTruthy();
    });

    it('messages.create: a tool round trip', async () => {
      const question: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
      const first = await client.messages.create({ model, max_tokens: 64, tools, tool_choice: { type: 'auto' }, messages: [question] });
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
      const second = await client.messages.create({
        model, max_tokens: 64, tools,
        messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: '18C and sunny' }] }],
      });
      expect(second.content).toEqual([{ type: 'text', text: afterTool[model] }]);
      expect(second.stop_reason).toBe('end_turn');
    });

    it('messages.stream: text arrives as text deltas; the final message is assembled', async () => {
      const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello there' }] });
      let text = '';
      stream.on('text', (t) => { text += t; });
      const final = await stream.finalMessage();
      expect(text).toBe(greeting[model]);
      expect(final.content).toHaveLength(1);
      expect(final.content[0]).toMatchObject({ type: 'text', text: greeting[model] });
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage.output_tokens).toBeGreaterThan(0);
      expect(final.usage.input_tokens).toBeGreaterThan(0);
    });

    it('messages.stream: a tool round trip', async () => {
      const question: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
      const first = await client.messages.stream({ model, max_tokens: 64, tools, messages: [question] }).finalMessage();
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
      const second = await client.messages.stream({
        model, max_tokens: 64, tools,
        messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: [{ type: 'text', text: '18C and sunny' }] }] }],
      }).finalMessage();
      expect(second.content.map((b) => (b.type === 'text' ? b.text : b.type))).toEqual([afterTool[model]]);
    });
  });

  it('the anthropic provider receives the caller\'s own temperature, tools and tool results', async () => {
    // `temperature` is no longer in the SDK's types (deprecated by Anthropic), but older callers send it.
    await client.messages.create({ model: 'claude', max_tokens: 32, tools, messages: [{ role: 'user', content: 'Weather?' }], ...{ temperature: 0.4 } } as Anthropic.MessageCreateParamsNonStreaming);
    const sent = anthropicUp.last().json;
    expect(sent.temperature).toBeCloseTo(0.4);
    expect(sent.tools).toEqual([{ name: 'get_weather', description: 'Weather of a city', input_schema: tools[0]!.input_schema }]);
    expect(sent.model).toBe('claude-3-5-haiku-20241022');
    expect(anthropicUp.last().headers['x-api-key']).toBe('sk-ant-test-secret');
  });

  it('`model` may name a traffic route', async () => {
    const res = await client.messages.create({ model: 'split', max_tokens: 64, messages: [{ role: 'user', content: 'Routed' }] }).withResponse();
    expect(res.data.content).toEqual([{ type: 'text', text: 'This is a mock response from Gatehouse. You said: Routed' }]);
    expect(res.response.headers.get('x-gatehouse-endpoint')).toBe('mock');
  });

  it('stream events have `event:` lines equal to their type', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'mock', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const blocks = (await res.text()).split('\n\n').filter((b) => b.trim());
    const names = blocks.map((b) => /^event: (.+)$/m.exec(b)?.[1]);
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
    for (const b of blocks) expect(JSON.parse(/^data: (.+)$/m.exec(b)![1]!).type).toBe(/^event: (.+)$/m.exec(b)![1]);
  });

  it('errors are in Anthropic\'s shape and map to the SDK\'s classes', async () => {
    const missing = await client.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const noMax = await postJson(`${gw.url}/v1/messages`, { model: 'mock', messages: [{ role: 'user', content: 'x' }] });
    expect(noMax.status).toBe(400);
    expect(noMax.json).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' }, request_id: noMax.headers.get('x-request-id') });
    const notJson = await postJson(`${gw.url}/v1/messages`, '{"model": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const builtIn = await client.messages.create({ model: 'mock', max_tokens: 5, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(builtIn).toBeInstanceOf(BadRequestError);
    const wrongType = await client.messages.create({ model: 'completions', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(wrongType).toBeInstanceOf(BadRequestError);
    const unmatched = await postJson(`${gw.url}/v1/messages/count_tokens`, { model: 'mock', messages: [] });
    expect(unmatched.status).toBe(404);
    expect(unmatched.json).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    // The rest of /v1 stays OpenAI's.
    const openai = await postJson(`${gw.url}/v1/nothing-here`, {});
    expect(openai.json.error.code).toBe('GW_ERR_ROUTE_NOT_FOUND');
  });

  it('a failure after the stream started ends it with an `error` event the SDK raises', async () => {
    const stream = client.messages.stream({ model: 'mid', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const err = await stream.finalMessage().catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'upstream overloaded mid-stream' } });
    expect(text).toBe('partial ');
  });

  it('no provider key reaches an answer', async () => {
    const r = await postJson(`${gw.url}/v1/messages`, { model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(r.text).not.toContain('sk-ant-test-secret');
    expect(r.text).not.toContain('sk-test-openai-secret');
  });
});

describe('Anthropic surface: the gateway\'s own keys (x-api-key) and limits in Anthropic\'s words', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { renewal_period: 'minute', calls: 1 } },
          { name: 'other', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' } },
        ],
        auth: { keys: [{ name: 'app', key: 'gk-test-app', endpoints: ['chat'] }] },
      },
    });
  });
  afterAll(async () => { await gw?.close(); });

  it('the SDK\'s x-api-key is the gateway key; refusals read as authentication, permission and rate-limit errors', async () => {
    const ask = (client: Anthropic, model: string) => client.messages.create({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    const bad = await ask(new Anthropic({ baseURL: gw.url, apiKey: 'gk-wrong', maxRetries: 0 }), 'chat').catch((e) => e);
    expect(bad).toBeInstanceOf(AuthenticationError);
    expect(bad.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const client = new Anthropic({ baseURL: gw.url, apiKey: 'gk-test-app', maxRetries: 0 });
    const forbidden = await ask(client, 'other').catch((e) => e);
    expect(forbidden).toBeInstanceOf(PermissionDeniedError);
    expect(forbidden.error.error.type).toBe('permission_error');
    expect((await ask(client, 'chat')).content[0]).toMatchObject({ type: 'text' });
    const limited = await ask(client, 'chat').catch((e) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.error.error.type).toBe('rate_limit_error');
  });
});
