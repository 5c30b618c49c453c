import { describe, expect, it } from 'vitest';
import { collect, createProviderInstance, testCall as call } from '@gatehouse/sdk/testing';
import mock, { mockToolCall } from '../src/index.js';

const make = (config: Record<string, unknown> = {}) => createProviderInstance(mock, { config, model: 'm' });
const tools = [
  { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' as const, properties: {} } } },
  { type: 'function' as const, function: { name: 'get_time' } },
];
const ask = { messages: [{ role: 'user', content: 'Weather in Paris?' }], temperature: 0, n: 1, tools };

describe('provider-mock: tool-call mode', () => {
  it('picks the named tool, else the first; none when tool_choice is none or after a tool result', () => {
    expect(mockToolCall(ask, { city: 'Paris' })).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(mockToolCall({ ...ask, tool_choice: { type: 'function', function: { name: 'get_time' } } })).toEqual({ name: 'get_time', arguments: '{}' });
    expect(mockToolCall({ ...ask, tool_choice: 'none' })).toBeNull();
    expect(mockToolCall({ ...ask, tools: [] })).toBeNull();
    expect(mockToolCall({ ...ask, messages: [...ask.messages, { role: 'tool', tool_call_id: 'c', content: '18C' }] })).toBeNull();
  });

  it('chat answers with a stable tool call, then with the tool result', async () => {
    const p = make({ tool_calls: true, tool_arguments: { city: 'Paris' } });
    const a = await p.chat!(ask, call());
    const b = await p.chat!(ask, call());
    expect(a.choices[0]!.finish_reason).toBe('tool_calls');
    expect(a.choices[0]!.message.content).toBeNull();
    const tc = a.choices[0]!.message.tool_calls![0]!;
    expect(tc).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(tc.id).toMatch(/^call_[0-9a-f]{16}$/);
    expect(b.choices[0]!.message.tool_calls![0]!.id).toBe(tc.id);
    const after = await p.chat!({ ...ask, messages: [...ask.messages, { role: 'assistant', content: null, tool_calls: [tc] }, { role: 'tool', tool_call_id: tc.id, content: '18C and sunny' }] }, call());
    expect(after.choices[0]!.message.content).toBe('This is a mock response from Gatehouse. The tool returned: 18C and sunny');
    expect(after.choices[0]!.finish_reason).toBe('stop');
  });

  it('streams the call as OpenAI does: id and name, two argument pieces, finish, usage', async () => {
    const p = make({ tool_calls: true, tool_arguments: { city: 'Paris' }, chunk_delay_ms: 0 });
    const chunks = await collect(p.chatStream!(ask, call()));
    expect(chunks).toHaveLength(5);
    expect(chunks[0]!.choices[0]!.delta.tool_calls![0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    const args = chunks.slice(1, 3).map((c) => c.choices[0]!.delta.tool_calls![0]!.function.arguments).join('');
    expect(args).toBe('{"city":"Paris"}');
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks[4]!.choices).toEqual([]);
    expect(chunks[4]!.usage).toBeDefined();
  });

  it('is off by default: requests with tools get the usual echo', async () => {
    const r = await make().chat!(ask, call());
    expect(r.choices[0]!.message.content).toBe('This is a mock response from Gatehouse. You said: Weather in Paris?');
  });
});
