import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError, sseEvents, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import {
  AnthropicChatStream, anthropicPrompt, finishReason, fromAnthropicChat, fromAnthropicCompletions, streamError,
  toAnthropicChat, toAnthropicCompletions, toAnthropicTools,
} from '../src/transforms.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const json = (name: string) => JSON.parse(fixture(name));

const chat = (over: Partial<ChatRequest> = {}): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], temperature: 0, n: 1, ...over });
async function* once(text: string) { yield text; }
const thrown = (fn: () => unknown) => { try { fn(); } catch (e) { return e as any; } throw new Error('did not throw'); };

beforeEach(() => { vi.useFakeTimers({ toFake: ['Date'] }); vi.setSystemTime(1_700_000_000_000); });
afterEach(() => { vi.useRealTimers(); });

describe('chat request', () => {
  it('maps messages, system, tools, tool results and parameters (golden, key order)', () => {
    const f = json('chat-request.json');
    const body = toAnthropicChat(f.request, 'claude-3-5-sonnet-20241022', false);
    expect(body).toEqual(f.upstream);
    expect(JSON.stringify(body)).toBe(JSON.stringify(f.upstream));
  });

  it('applies MLflow defaults: max_tokens 8192, temperature halved, n and stream_options dropped', () => {
    expect(toAnthropicChat(chat({ temperature: 1 }), 'claude-3', false)).toEqual({
      model: 'claude-3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8192, temperature: 0.5,
    });
    expect(toAnthropicChat(chat(), 'claude-3', true)).toMatchObject({ stream: true, temperature: 0 });
  });

  it('omits the description of a tool that has none instead of crashing', () => {
    expect(toAnthropicTools([{ type: 'function', function: { name: 'f' } }])).toEqual([{ name: 'f', input_schema: { type: 'object', properties: {} } }]);
  });

  it('maps tool_choice forms', () => {
    const tc = (tool_choice: unknown) => toAnthropicChat(chat({ tool_choice }), 'm', false).tool_choice;
    expect(tc('auto')).toEqual({ type: 'auto' });
    expect(tc('none')).toEqual({ type: 'none' });
    expect(tc({ type: 'function', function: { name: 'f' } })).toEqual({ type: 'tool', name: 'f' });
    expect(thrown(() => tc('sometimes')).status).toBe(422);
  });

  it.each([
    [{ top_p: 0.5 }, "Cannot set both 'temperature' and 'top_p' parameters."],
    [{ max_tokens: 1_000_001 }, 'Invalid value for max_tokens: cannot exceed 1000000.'],
    [{ n: 2 }, "'n' must be '1' for the Anthropic provider. Received value: '2'."],
    [{ tools: [{ type: 'uc_function', uc_function: { name: 'x' } }] }, "Only tools of type 'function' are supported by the Anthropic provider, got 'uc_function'."],
    [{ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }, "The arguments of tool call 'a' are not valid JSON."],
  ] as Array<[Partial<ChatRequest>, string]>)('rejects %j with 422', (over, message) => {
    const e = thrown(() => toAnthropicChat(chat(over), 'm', false));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });
});

describe('chat response', () => {
  it('joins text into a string and maps tool_use to tool_calls (golden, key order)', () => {
    const f = json('chat-response.json');
    const out = fromAnthropicChat(f.upstream);
    expect(out).toEqual(f.unified);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.unified));
  });

  it('has null content when the answer is only tool_use, and counts cached prompt tokens', () => {
    const out = fromAnthropicChat({
      id: 'm', model: 'c', stop_reason: 'end_turn',
      content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }],
      usage: { input_tokens: 3, cache_read_input_tokens: 10, cache_creation_input_tokens: 2, output_tokens: 4 },
    });
    expect(out.choices[0]!.message.content).toBeNull();
    expect(out.choices[0]!.finish_reason).toBe('stop');
    expect(out.usage).toEqual({ prompt_tokens: 15, completion_tokens: 4, total_tokens: 19 });
  });

  it('maps stop reasons', () => {
    expect(['end_turn', 'stop_sequence', 'max_tokens', 'tool_use', 'refusal', null].map(finishReason))
      .toEqual(['stop', 'stop', 'length', 'tool_calls', 'content_filter', null]);
  });
});

describe('chat stream', () => {
  it('maps text, tool_use and input_json deltas; usage on the finish chunk (golden)', async () => {
    const mapper = new AnthropicChatStream('claude-3-haiku');
    const chunks = [];
    for await (const ev of sseEvents(once(fixture('chat-stream-tools.sse')))) chunks.push(...mapper.push(JSON.parse(ev.data)));
    const expected = json('chat-stream-tools.expected.json');
    expect(chunks).toEqual(expected);
    expect(JSON.stringify(chunks)).toBe(JSON.stringify(expected));
    expect(mapper.done).toBe(true);
  });

  it('turns an error event into a GatewayError with a status from its type', async () => {
    const mapper = new AnthropicChatStream('m');
    const seen: unknown[] = [];
    const e = await (async () => {
      try { for await (const ev of sseEvents(once(fixture('chat-stream-error.sse')))) seen.push(...mapper.push(JSON.parse(ev.data))); } catch (err) { return err as any; }
    })();
    expect(seen).toHaveLength(1);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(529);
    expect(e.message).toBe('Overloaded');
    expect(streamError({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }).status).toBe(400);
  });
});

describe('completions', () => {
  it('maps request and response like MLflow (golden)', () => {
    const f = json('completions.json');
    const body = toAnthropicCompletions(f.request, 'claude-2.1');
    expect(JSON.stringify(body)).toBe(JSON.stringify(f.upstream));
    const out = fromAnthropicCompletions(f.response, 'claude-2.1');
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.unified));
    expect(fromAnthropicCompletions({ ...f.response, stop_reason: 'max_tokens' }, 'x').choices[0]!.finish_reason).toBe('length');
  });

  it('normalises prompts', () => {
    expect(anthropicPrompt('hi')).toBe('\n\nHuman: hi\n\nAssistant:');
    expect(anthropicPrompt('Human: hi')).toBe('\n\nHuman: hi\n\nAssistant:');
    expect(anthropicPrompt('\n\nHuman: hi\n\nAssistant:')).toBe('\n\nHuman: hi\n\nAssistant:');
  });

  it('defaults max_tokens_to_sample to 8192', () => {
    expect(toAnthropicCompletions({ prompt: 'x', temperature: 0, n: 1 }, 'm')).toEqual({
      model: 'm', prompt: '\n\nHuman: x\n\nAssistant:', max_tokens_to_sample: 8192, temperature: 0,
    });
  });

  it.each([
    [{ top_p: 0.1 }, "Cannot set both 'temperature' and 'top_p' parameters. Please use only the temperature parameter for your query."],
    [{ n: 3 }, "'n' must be '1' for the Anthropic provider. Received value: '3'."],
    [{ max_tokens: 2_000_000 }, 'Invalid value for max_tokens: cannot exceed 1000000.'],
    [{ stream: true }, "Setting the 'stream' parameter to 'true' is not supported with the MLflow Gateway."],
  ] as Array<[Partial<CompletionsRequest>, string]>)('rejects %j with 422', (over, message) => {
    const e = thrown(() => toAnthropicCompletions({ prompt: 'x', temperature: 0, n: 1, ...over }, 'm'));
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });
});
