import { describe, expect, it } from 'vitest';
import { chatChunk, chatResponse, completionsChunk, completionsResponse, GatewayError, type ChatChunk, type UnifiedChunk } from '@gatehouse/sdk';
import {
  concatCompletionStreams, ItemCache, mergeCompletions, openAIResponsesSurface, promptList, ResponseIds, responseEvents, sumUsage,
  toChatBody, toResponse,
} from '../src/index.js';

async function* from<T>(items: T[]): AsyncGenerator<T> { for (const i of items) yield i; }
async function all<T>(it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out; }

const badRequest = (fn: () => unknown, param: string | null, message?: RegExp) => {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).code).toBe('GW_ERR_REQUEST_BAD');
    expect((e as GatewayError).status).toBe(400);
    expect((e as GatewayError).param).toBe(param);
    if (message) expect((e as GatewayError).message).toMatch(message);
    return;
  }
  throw new Error('expected a 400');
};

const weather = { type: 'function', name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('responses: request translation', () => {
  it('a string input and instructions become system and user messages; parameters map to chat names', () => {
    const { chat, echo, stream } = toChatBody({
      model: 'chat', input: 'Hi', instructions: 'Be brief.', max_output_tokens: 20, temperature: 0.3, top_p: 0.9, metadata: { k: 'v' },
    });
    expect(stream).toBe(false);
    expect(chat).toEqual({
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      max_tokens: 20, temperature: 0.3, top_p: 0.9,
    });
    expect(echo).toMatchObject({ instructions: 'Be brief.', max_output_tokens: 20, temperature: 0.3, top_p: 0.9, metadata: { k: 'v' }, tool_choice: 'auto', tools: [] });
  });

  it('message items, images, function tools and a function-call round trip', () => {
    const { chat } = toChatBody({
      model: 'chat',
      tools: [weather],
      tool_choice: { type: 'function', name: 'get_weather' },
      input: [
        { role: 'developer', content: 'You are a weather bot.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me look.' }] },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_2', name: 'get_weather', arguments: '{"city":"Lyon"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18C' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: '20C' }] },
      ],
    });
    expect(chat.messages).toEqual([
      { role: 'system', content: 'You are a weather bot.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] },
      {
        role: 'assistant', content: 'Let me look.', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lyon"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      { role: 'tool', tool_call_id: 'call_2', content: '20C' },
    ]);
    expect(chat.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weather.parameters } }]);
    expect(chat.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
  });

  it('streams ask the endpoint for usage; text.format becomes response_format', () => {
    const { chat, stream } = toChatBody({
      model: 'chat', input: 'x', stream: true,
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
    });
    expect(stream).toBe(true);
    expect(chat).toMatchObject({ stream: true, stream_options: { include_usage: true }, response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } } });
  });

  it('refuses what a stateless gateway cannot do with a 400 naming the parameter', () => {
    badRequest(() => toChatBody({ model: 'c', input: 'x', previous_response_id: 'resp_1' }), 'previous_response_id', /stores no responses/);
    badRequest(() => toChatBody({ model: 'c', input: 'x', conversation: 'conv_1' }), 'conversation');
    badRequest(() => toChatBody({ model: 'c', input: 'x', background: true }), 'background');
    badRequest(() => toChatBody({ model: 'c', input: 'x', tools: [{ type: 'web_search' }] }), 'tools.0.type', /Built-in tool 'web_search'/);
    badRequest(() => toChatBody({ model: 'c', input: 'x', tools: [{ type: 'file_search', vector_store_ids: [] }] }), 'tools.0.type');
    badRequest(() => toChatBody({ model: 'c' }), 'input');
    badRequest(() => toChatBody({ model: 'c', input: 'x', max_output_tokens: 0 }), 'max_output_tokens');
    badRequest(() => toChatBody({ model: 'c', input: 'x', bogus: 1 }), 'bogus');
    badRequest(() => toChatBody({ model: 'c', input: [{ type: 'item_reference', id: 'msg_x' }] }), 'input.0.id', /not known/);
    badRequest(() => toChatBody({ model: 'c', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }), 'input.0.content.0');
  });

  it('item_reference resolves items this gateway answered with', () => {
    const cache = new ItemCache();
    const res = toResponse(chatResponse({ model: 'm', choices: [{ message: { role: 'assistant', content: 'Earlier answer.' } }] }), toChatBody({ model: 'c', input: 'x' }).echo, new ResponseIds('req-1'), cache);
    const id = res.output[0].id;
    const { chat } = toChatBody({ model: 'c', input: [{ role: 'user', content: 'q' }, { type: 'item_reference', id }, { role: 'user', content: 'more' }] }, cache);
    expect(chat.messages).toEqual([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'Earlier answer.' }, { role: 'user', content: 'more' }]);
  });

  it('the item cache is bounded and expires entries', () => {
    let now = 0;
    const cache = new ItemCache(2, 1000, () => now);
    cache.put({ id: 'a' }); cache.put({ id: 'b' }); cache.put({ id: 'c' });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toEqual({ id: 'c' });
    now = 1001;
    expect(cache.get('c')).toBeUndefined();
  });
});

describe('responses: answers', () => {
  const echo = toChatBody({ model: 'chat', input: 'x', metadata: { a: '1' } }).echo;

  it('text and tool calls become output items; usage is renamed', () => {
    const res = toResponse(chatResponse({
      id: 'c1', created: 1700000000, model: 'gpt-x',
      choices: [{ message: { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 7, completion_tokens: 5 },
    }), echo, new ResponseIds('abc-123'));
    expect(res).toMatchObject({
      id: 'resp_abc123', object: 'response', created_at: 1700000000, status: 'completed', model: 'gpt-x', error: null,
      incomplete_details: null, metadata: { a: '1' },
      usage: { input_tokens: 7, output_tokens: 5, total_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    });
    expect(res.output).toEqual([
      { id: 'msg_abc12300', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [], logprobs: [] }] },
      { id: 'fc_abc12301', type: 'function_call', status: 'completed', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
  });

  it('a length stop is an incomplete response', () => {
    const res = toResponse(chatResponse({ model: 'm', choices: [{ message: { role: 'assistant', content: 'cut' }, finish_reason: 'length' }] }), echo, new ResponseIds('x'));
    expect(res.status).toBe('incomplete');
    expect(res.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });
});

describe('responses: stream events', () => {
  const echo = toChatBody({ model: 'chat', input: 'x', stream: true }).echo;
  const base = { id: 'c', created: 1, model: 'gpt-x' };

  it('text: created, in_progress, item/part added, deltas, dones, completed with usage; sequence numbers count up', async () => {
    const chunks: ChatChunk[] = [
      chatChunk({ ...base, choices: [{ delta: { role: 'assistant', content: 'Hel' } }] }),
      chatChunk({ ...base, choices: [{ delta: { content: 'lo' } }] }),
      chatChunk({ ...base, choices: [{ delta: {}, finish_reason: 'stop' }] }),
      chatChunk({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }),
    ];
    const events = await all(responseEvents(from(chunks), { ids: new ResponseIds('r1'), echo, createdAt: 5, model: 'chat' }));
    expect(events.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
      'response.output_item.done', 'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[0].response).toMatchObject({ id: 'resp_r1', status: 'in_progress', model: 'gpt-x', created_at: 5, output: [] });
    expect(events[2]).toMatchObject({ output_index: 0, item: { id: 'msg_r100', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    expect(events[4]).toMatchObject({ item_id: 'msg_r100', output_index: 0, content_index: 0, delta: 'Hel' });
    expect(events[6]).toMatchObject({ text: 'Hello' });
    const done = events[9].response;
    expect(done.status).toBe('completed');
    expect(done.output).toEqual([{ id: 'msg_r100', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }] }]);
    expect(done.usage).toMatchObject({ input_tokens: 3, output_tokens: 2, total_tokens: 5 });
  });

  it('function calls: item added with call_id and name, argument deltas, arguments done, item done', async () => {
    const chunks: ChatChunk[] = [
      chatChunk({ ...base, choices: [{ delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '"Rome"}' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: { tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } }] } }] }),
      chatChunk({ ...base, choices: [{ delta: {}, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
    ];
    const events = await all(responseEvents(from(chunks), { ids: new ResponseIds('r2'), echo, createdAt: 5, model: 'chat' }));
    expect(events.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
      'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2]).toMatchObject({ output_index: 0, item: { type: 'function_call', id: 'fc_r200', call_id: 'call_1', name: 'get_weather', arguments: '', status: 'in_progress' } });
    expect(events[7]).toMatchObject({ item_id: 'fc_r200', output_index: 0, arguments: '{"city":"Rome"}' });
    expect(events[8].item).toEqual({ id: 'fc_r200', type: 'function_call', status: 'completed', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Rome"}' });
    expect(events[11].response.output.map((o: { call_id: string }) => o.call_id)).toEqual(['call_1', 'call_2']);
  });

  it('a failure mid-stream is rethrown; the surface renders an error event with its sequence number', async () => {
    async function* failing(): AsyncGenerator<ChatChunk> {
      yield chatChunk({ ...base, choices: [{ delta: { content: 'a' } }] });
      throw new GatewayError('GW_ERR_UPSTREAM_TRUNCATED', 'The upstream stream ended early.');
    }
    const seen: unknown[] = [];
    let caught: GatewayError | undefined;
    try { for await (const e of responseEvents(failing(), { ids: new ResponseIds('r3'), echo, createdAt: 5, model: 'chat' })) seen.push(e); } catch (e) { caught = e as GatewayError; }
    expect(seen).toHaveLength(5);
    const rendered = openAIResponsesSurface.renderStreamError!(caught!) as { event: string; data: unknown };
    expect(rendered.event).toBe('error');
    expect(rendered.data).toEqual({
      type: 'error', sequence_number: 5, code: 'GW_ERR_UPSTREAM_TRUNCATED', message: 'The upstream stream ended early.', param: null,
      error: { type: 'upstream_error', code: 'GW_ERR_UPSTREAM_TRUNCATED', message: 'The upstream stream ended early.', param: null },
    });
    expect(openAIResponsesSurface.streamTerminator).toBeUndefined();
  });
});

describe('completions: a list prompt', () => {
  it('promptList: strings pass, token ids and empty lists are refused', () => {
    expect(promptList('one')).toBeNull();
    expect(promptList(['a', 'b'])).toEqual(['a', 'b']);
    badRequest(() => promptList([]), 'prompt');
    badRequest(() => promptList([[1, 2]]), 'prompt');
  });

  it('merges choices with OpenAI\'s indices and sums usage', () => {
    const a = completionsResponse({ id: 'x', created: 1, model: 'm', choices: [{ text: 'a0' }, { text: 'a1' }], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    const b = completionsResponse({ id: 'y', created: 2, model: 'm', choices: [{ text: 'b0' }, { text: 'b1' }], usage: { prompt_tokens: 3, completion_tokens: 4 } });
    const merged = mergeCompletions([a, b], 2);
    expect(merged.id).toBe('x');
    expect(merged.choices.map((c) => [c.index, c.text])).toEqual([[0, 'a0'], [1, 'a1'], [2, 'b0'], [3, 'b1']]);
    expect(merged.usage).toEqual({ prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });
    expect(sumUsage([{ prompt_tokens: null, completion_tokens: 1, total_tokens: null }, null])).toEqual({ prompt_tokens: null, completion_tokens: 1, total_tokens: null });
  });

  it('streams run prompt after prompt with shifted indices and one summed usage chunk', async () => {
    const stream = (text: string, usage: number): UnifiedChunk[] => [
      completionsChunk({ id: 's', created: 1, model: 'm', choices: [{ text }] }),
      completionsChunk({ id: 's', created: 1, model: 'm', choices: [{ text: '', finish_reason: 'stop' }] }),
      completionsChunk({ id: 's', created: 1, model: 'm', choices: [], usage: { prompt_tokens: usage, completion_tokens: usage } }),
    ];
    const opened: number[] = [];
    const out = await all(concatCompletionStreams(2, 1, async (p) => { opened.push(p); return from(stream(`p${p}`, p + 1)); }));
    expect(opened).toEqual([0, 1]);
    expect(out.filter((c) => c.choices.length).map((c) => [c.choices[0]!.index, (c.choices[0] as { text: string | null }).text])).toEqual([[0, 'p0'], [0, ''], [1, 'p1'], [1, '']]);
    expect(out.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } });
    expect(out.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
  });
});
