/**
 * The clients people use against the OpenAI surface, as they use them: the official `openai`
 * SDK's Responses API and completions with a list prompt, the Vercel AI SDK's default
 * `openai('<model>')` model (the Responses API) with a tool, and LangChain's `ChatOpenAI` (with and
 * without `useResponsesApi`) and `OpenAI` completions class. Endpoints on the mock provider (with
 * its tool-call mode) and on provider-openai in front of a fake OpenAI upstream.
 */
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { ChatOpenAI, OpenAI as LangChainOpenAI } from '@langchain/openai';
import { tool as lcTool } from '@langchain/core/tools';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '@gatehouse/sdk/testing';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

/**
 * A fake OpenAI chat upstream that behaves like a model with tools: offered tools and no tool
 * result yet, it calls the first tool with `{"city":"Paris"}`; after a tool result it says what
 * the tool returned; otherwise it greets. Streams when asked, usage last.
 */
function openAIUpstreamAnswer(req: RecordedRequest) {
  const body = req.json;
  const messages: any[] = body.messages;
  const last = messages[messages.length - 1];
  const base = { id: 'chatcmpl-up', created: 1700000000, model: 'gpt-4o-mini' };
  const usage = { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 };
  const toolCall = body.tools?.length && last.role !== 'tool' && body.tool_choice !== 'none';
  const text = last.role === 'tool' ? `The tool said: ${last.content}` : 'Hello from the OpenAI upstream.';
  if (!body.stream) {
    const message = toolCall
      ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_up_1', type: 'function', function: { name: body.tools[0].function.name, arguments: '{"city":"Paris"}' } }] }
      : { role: 'assistant', content: text };
    return { json: { ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: toolCall ? 'tool_calls' : 'stop' }], usage } };
  }
  const chunk = (delta: unknown, finish: string | null = null) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  const events: unknown[] = toolCall
    ? [
      chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_up_1', type: 'function', function: { name: body.tools[0].function.name, arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
    ]
    : [chunk({ role: 'assistant', content: text.slice(0, 9) }), chunk({ content: text.slice(9) }), chunk({}, 'stop')];
  return { sse: [...events, { ...base, object: 'chat.completion.chunk', choices: [], usage }, '[DONE]'] };
}

const weatherParams = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } as const;

describe('OpenAI-surface clients', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  let base: string;

  beforeAll(async () => {
    up = await startFakeUpstream({
      'POST /v1/chat/completions': openAIUpstreamAnswer,
      'POST /mid/v1/chat/completions': {
        sse: [
          { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { role: 'assistant', content: 'partial ' }, finish_reason: null }] },
          { error: { message: 'upstream overloaded mid-stream', type: 'server_error' } },
        ],
      },
    });
    gw = await startTestGateway({
      logLevel: 'warn',
      config: {
        endpoints: [
          { name: 'mock', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat', config: { chunk_delay_ms: 1, tool_calls: true, tool_arguments: { city: 'Paris' } } } },
          { name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-secret', openai_api_base: `${up.url}/v1` } } },
          { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'mock-completions', config: { chunk_delay_ms: 1 } } },
          { name: 'mid', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-secret', openai_api_base: `${up.url}/mid/v1` } } },
        ],
      },
    });
    base = `${gw.url}/v1`;
    client = new OpenAI({ baseURL: base, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  describe('openai SDK: responses', () => {
    it('responses.create with text, instructions and metadata', async () => {
      const res = await client.responses.create({ model: 'mock', input: 'Hello gateway', instructions: 'Be brief.', metadata: { run: '1' }, max_output_tokens: 50 });
      expect(res.object).toBe('response');
      expect(res.status).toBe('completed');
      expect(res.output_text).toBe('This is a mock response from Gatehouse. You said: Hello gateway');
      expect(res.metadata).toEqual({ run: '1' });
      expect(res.instructions).toBe('Be brief.');
      expect(res.usage).toMatchObject({ input_tokens: 4, output_tokens: 11, total_tokens: 15 });
      expect(res._request_id).toBeTruthy();
    });

    it.each(['mock', 'gpt'])('responses.create: a function-call round trip (%s)', async (model) => {
      const tools = [{ type: 'function' as const, name: 'get_weather', description: 'Weather of a city', parameters: weatherParams, strict: true }];
      const first = await client.responses.create({ model, input: 'Weather in Paris?', tools });
      const call = first.output.find((o) => o.type === 'function_call');
      expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' });
      if (call?.type !== 'function_call') throw new Error('no function call');
      const second = await client.responses.create({
        model, tools,
        input: [
          { role: 'user', content: 'Weather in Paris?' },
          ...first.output,
          { type: 'function_call_output', call_id: call.call_id, output: '18C and sunny' },
        ] as OpenAI.Responses.ResponseInput,
      });
      expect(second.output_text).toContain('18C and sunny');
      if (model === 'gpt') {
        // The upstream saw the call and its result as chat messages with the same id.
        const msgs = up.last().json.messages;
        expect(msgs.slice(-2)).toEqual([
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_up_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_up_1', content: '18C and sunny' },
        ]);
        expect(up.last().json.model).toBe('gpt-4o-mini');
      }
    });

    it.each(['mock', 'gpt'])('responses.stream with text: events in order, final response assembled (%s)', async (model) => {
      const stream = client.responses.stream({ model, input: 'Stream please' });
      const types: string[] = [];
      const seqs: number[] = [];
      let deltas = '';
      for await (const ev of stream) {
        types.push(ev.type);
        seqs.push(ev.sequence_number);
        if (ev.type === 'response.output_text.delta') deltas += ev.delta;
      }
      const final = await stream.finalResponse();
      const expected = model === 'mock' ? 'This is a mock response from Gatehouse. You said: Stream please' : 'Hello from the OpenAI upstream.';
      expect(deltas).toBe(expected);
      expect(final.output_text).toBe(expected);
      expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
      expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(final.usage?.output_tokens).toBeGreaterThan(0);
    });

    it.each(['mock', 'gpt'])('responses.stream with a function call, then the result (%s)', async (model) => {
      const tools = [{ type: 'function' as const, name: 'get_weather', parameters: weatherParams, strict: true }];
      const stream = client.responses.stream({ model, input: 'Weather in Paris?', tools });
      let args = '';
      stream.on('response.function_call_arguments.delta', (e) => { args += e.delta; });
      const first = await stream.finalResponse();
      const call = first.output.find((o) => o.type === 'function_call');
      if (call?.type !== 'function_call') throw new Error('no function call');
      expect(args).toBe('{"city":"Paris"}');
      expect(call.arguments).toBe('{"city":"Paris"}');
      const second = client.responses.stream({
        model, tools,
        input: [{ role: 'user', content: 'Weather in Paris?' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'rainy' }] as OpenAI.Responses.ResponseInput,
      });
      expect((await second.finalResponse()).output_text).toContain('rainy');
    });

    it('SSE events carry an `event:` line naming their type, and there is no [DONE]', async () => {
      const res = await fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mock', input: 'x', stream: true }) });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const blocks = (await res.text()).split('\n\n').filter((b) => b.trim());
      expect(blocks.length).toBeGreaterThan(5);
      for (const b of blocks) {
        const event = /^event: (.+)$/m.exec(b)?.[1];
        const data = JSON.parse(/^data: (.+)$/m.exec(b)![1]!);
        expect(event).toBe(data.type);
      }
      expect(blocks.some((b) => b.includes('[DONE]'))).toBe(false);
    });

    it('a failure after the stream started ends it with an error event: the SDK raises, the AI SDK reports it', async () => {
      const stream = await client.responses.create({ model: 'mid', input: 'x', stream: true });
      const seen: string[] = [];
      const err = await (async () => { for await (const ev of stream) seen.push(ev.type); })().catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err.message)).toContain('upstream overloaded mid-stream');
      expect(seen).toContain('response.output_text.delta');
      expect(seen).not.toContain('response.completed');
      // On the wire: the last event is `error`, numbered after the ones before it.
      const raw = await fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mid', input: 'x', stream: true }) });
      const blocks = (await raw.text()).split('\n\n').filter((b) => b.trim());
      expect(blocks.at(-1)).toMatch(/^event: error$/m);
      const last = JSON.parse(/^data: (.+)$/m.exec(blocks.at(-1)!)![1]!);
      expect(last).toMatchObject({ type: 'error', sequence_number: blocks.length - 1, code: 'GW_ERR_UPSTREAM_STATUS', message: 'upstream overloaded mid-stream' });
      const openai = createOpenAI({ baseURL: base, apiKey: 'unused' });
      const result = streamText({ model: openai('mid'), prompt: 'x', maxRetries: 0 });
      const errors: unknown[] = [];
      for await (const p of result.fullStream) if (p.type === 'error') errors.push(p.error);
      expect(errors.length).toBeGreaterThan(0);
      expect(JSON.stringify(errors[0])).toContain('upstream overloaded mid-stream');
    });

    it('unsupported features are a 400 in OpenAI\'s shape, naming the parameter', async () => {
      const prev = await client.responses.create({ model: 'mock', input: 'x', previous_response_id: 'resp_123' }).catch((e) => e);
      expect(prev).toBeInstanceOf(BadRequestError);
      expect(prev.status).toBe(400);
      expect(prev.error).toMatchObject({ type: 'invalid_request_error', param: 'previous_response_id', code: 'GW_ERR_REQUEST_BAD' });
      const web = await client.responses.create({ model: 'mock', input: 'x', tools: [{ type: 'web_search' }] }).catch((e) => e);
      expect(web).toBeInstanceOf(BadRequestError);
      expect(web.error.param).toBe('tools.0.type');
      expect(web.message).toMatch(/Built-in tool 'web_search' is not supported/);
      const notJson = await postJson(`${base}/responses`, '{"model": ');
      expect(notJson.status).toBe(400);
      expect(notJson.json.error).toMatchObject({ type: 'invalid_request_error', code: 'GW_ERR_REQUEST_INVALID_JSON' });
      const missing = await client.responses.create({ model: 'nope', input: 'x' }).catch((e) => e);
      expect(missing).toBeInstanceOf(NotFoundError);
      const wrongType = await client.responses.create({ model: 'completions', input: 'x' }).catch((e) => e);
      expect(wrongType).toBeInstanceOf(BadRequestError);
      expect(wrongType.error.code).toBe('GW_ERR_ENDPOINT_TYPE_MISMATCH');
    });
  });

  describe('openai SDK: completions with a list prompt', () => {
    it('one set of choices per prompt, OpenAI\'s indices, usage summed', async () => {
      const res = await client.completions.create({ model: 'completions', prompt: ['first prompt', 'second one here'], n: 2 });
      expect(res.choices.map((c) => [c.index, c.text])).toEqual([
        [0, 'This is a mock response from Gatehouse. You said: first prompt'],
        [1, 'This is a mock response from Gatehouse. You said: first prompt'],
        [2, 'This is a mock response from Gatehouse. You said: second one here'],
        [3, 'This is a mock response from Gatehouse. You said: second one here'],
      ]);
      // Mock usage counts words: prompts 2 + 3, completions 2 x 11 + 2 x 12.
      expect(res.usage).toEqual({ prompt_tokens: 5, completion_tokens: 46, total_tokens: 51 });
    });

    it('streams prompt after prompt with the same indices and one summed usage chunk', async () => {
      const stream = await client.completions.create({ model: 'completions', prompt: ['a b', 'c'], stream: true, stream_options: { include_usage: true } });
      const texts = new Map<number, string>();
      let usage: unknown;
      for await (const c of stream) {
        for (const ch of c.choices) texts.set(ch.index, (texts.get(ch.index) ?? '') + ch.text);
        if (c.usage) usage = c.usage;
      }
      expect([...texts]).toEqual([[0, 'This is a mock response from Gatehouse. You said: a b'], [1, 'This is a mock response from Gatehouse. You said: c']]);
      expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 21, total_tokens: 24 });
    });

    it('token-id prompts are a 400', async () => {
      const r = await postJson(`${base}/completions`, { model: 'completions', prompt: [[1, 2, 3]] });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ param: 'prompt', code: 'GW_ERR_REQUEST_BAD' });
    });
  });

  describe('Vercel AI SDK (default model = Responses API)', () => {
    const weather = tool({
      description: 'Weather of a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => ({ city, forecast: `sunny in ${city}` }),
    });

    it.each(['mock', 'gpt'])('generateText with a tool: call, execute, answer (%s)', async (model) => {
      const openai = createOpenAI({ baseURL: base, apiKey: 'unused' });
      const result = await generateText({ model: openai(model), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
      expect(result.steps.length).toBe(2);
      expect(result.steps[0]!.toolCalls[0]).toMatchObject({ toolName: 'weather', input: { city: 'Paris' } });
      expect(result.steps[0]!.toolResults[0]!.output).toEqual({ city: 'Paris', forecast: 'sunny in Paris' });
      expect(result.text).toContain('sunny in Paris');
      expect(result.finishReason).toBe('stop');
      expect(result.totalUsage.inputTokens).toBeGreaterThan(0);
    });

    it.each(['mock', 'gpt'])('streamText with a tool (%s)', async (model) => {
      const openai = createOpenAI({ baseURL: base, apiKey: 'unused' });
      const result = streamText({ model: openai(model), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
      const parts: string[] = [];
      for await (const p of result.fullStream) {
        if (p.type === 'error') throw p.error;
        parts.push(p.type);
      }
      expect(parts).toContain('tool-call');
      expect(parts).toContain('tool-result');
      expect(parts).toContain('text-delta');
      expect(await result.text).toContain('sunny in Paris');
      expect((await result.steps).length).toBe(2);
    });

    it('generateText without tools (plain text)', async () => {
      const openai = createOpenAI({ baseURL: base, apiKey: 'unused' });
      const { text, usage } = await generateText({ model: openai('mock'), prompt: 'Hi there', maxRetries: 0 });
      expect(text).toBe('This is a mock response from Gatehouse. You said: Hi there');
      expect(usage.outputTokens).toBe(11);
    });
  });

  describe('LangChain', () => {
    it.each([false, true])('ChatOpenAI (useResponsesApi: %s) invokes and calls a bound tool', async (useResponsesApi) => {
      const chat = new ChatOpenAI({ model: 'gpt', apiKey: 'unused', configuration: { baseURL: base }, maxRetries: 0, useResponsesApi });
      const plain = await chat.invoke('Say hello');
      expect(plain.content === 'Hello from the OpenAI upstream.' || (Array.isArray(plain.content) && JSON.stringify(plain.content).includes('Hello from the OpenAI upstream.'))).toBe(true);
      expect(plain.text).toBe('Hello from the OpenAI upstream.');
      let streamed = '';
      for await (const chunk of await chat.stream('Say hello')) streamed += chunk.text;
      expect(streamed).toBe('Hello from the OpenAI upstream.');
      const getWeather = lcTool(async ({ city }: { city: string }) => `sunny in ${city}`, { name: 'get_weather', description: 'Weather', schema: z.object({ city: z.string() }) });
      const called = await chat.bindTools([getWeather]).invoke('Weather in Paris?');
      expect(called.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
    });

    it('ChatOpenAI against the mock provider', async () => {
      const chat = new ChatOpenAI({ model: 'mock', apiKey: 'unused', configuration: { baseURL: base }, maxRetries: 0, useResponsesApi: true });
      expect((await chat.invoke('Ping')).text).toBe('This is a mock response from Gatehouse. You said: Ping');
    });

    it('the OpenAI completions class sends a list prompt and gets its text', async () => {
      const llm = new LangChainOpenAI({ model: 'completions', apiKey: 'unused', configuration: { baseURL: base }, maxRetries: 0 });
      expect(await llm.invoke('Tell me a joke')).toBe('This is a mock response from Gatehouse. You said: Tell me a joke');
    });
  });
});

describe('OpenAI surface: the gateway\'s own keys and limits in OpenAI\'s words', () => {
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

  it('a wrong key is invalid_api_key (401), a forbidden endpoint a permission error (403), a limit rate_limit_exceeded (429)', async () => {
    const wrong = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'gk-wrong', maxRetries: 0 });
    const bad = await wrong.responses.create({ model: 'chat', input: 'x' }).catch((e) => e);
    expect(bad).toBeInstanceOf(AuthenticationError);
    expect(bad.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'gk-test-app', maxRetries: 0 });
    const forbidden = await client.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(forbidden).toBeInstanceOf(PermissionDeniedError);
    expect(forbidden.error).toMatchObject({ type: 'permission_error', code: 'insufficient_permissions' });
    expect((await client.responses.create({ model: 'chat', input: 'first' })).output_text).toContain('first');
    const limited = await client.responses.create({ model: 'chat', input: 'second' }).catch((e) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(limited.headers.get('retry-after')).toBeTruthy();
  });
});
