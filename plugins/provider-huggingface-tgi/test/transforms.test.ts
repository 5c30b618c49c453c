import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import {
  chatChunkFrom, chatRequestBody, chatResponseFrom, generateRequestBody, generateResponseFrom, generateStreamChunkFrom,
  nMustBeOne, tgiStreamError,
} from '../src/transforms.js';
import { fixture } from './helpers.js';

afterEach(() => { vi.restoreAllMocks(); });

function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('TGI /generate transforms (golden, MLflow mapping)', () => {
  it('request: inputs + parameters, max_tokens → max_new_tokens, temperature max(50t, 0.001), details flags', () => {
    expect(generateRequestBody({ prompt: 'This is a test', n: 1, max_tokens: 1000, temperature: 0 })).toEqual({
      inputs: 'This is a test',
      parameters: { max_new_tokens: 1000, temperature: 0.001, details: true, decoder_input_details: true },
    });
  });

  it('request: temperature scaled ×50, extras forwarded in parameters, n/model/stream never sent', () => {
    const body = generateRequestBody({ prompt: 'p', n: 1, temperature: 0.5, stop: ['\n'], top_k: 10, stream: false, model: null });
    expect(body.parameters).toEqual({ temperature: 25, stop: ['\n'], top_k: 10, details: true, decoder_input_details: true });
  });

  it('stream request: no decoder_input_details (TGI refuses it on streams)', () => {
    expect(generateRequestBody({ prompt: 'p', n: 1, temperature: 1, stream: true }, true))
      .toEqual({ inputs: 'p', parameters: { temperature: 50, details: true } });
  });

  it("n ≠ 1 → 422 with MLflow's message", () => {
    const e = thrown(() => generateRequestBody({ prompt: 'p', n: 2, temperature: 0 }));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe("'n' must be '1' for the Text Generation Inference provider.Received value: '2'.");
    expect(nMustBeOne(3)).toContain("Received value: '3'");
  });

  it('a native max_new_tokens → 422', () => {
    const e = thrown(() => generateRequestBody({ prompt: 'p', n: 1, temperature: 0, max_new_tokens: 5 }));
    expect(e.status).toBe(422);
    expect(e.message).toBe('Invalid parameter max_new_tokens. Use max_tokens instead.');
  });

  it('response: text, finish_reason from details, usage from prefill length and generated_tokens, MLflow key order', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    const out = generateResponseFrom(fixture('generate.upstream-response.json'), 'hf-tgi');
    expect(out).toEqual(fixture('generate.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('generate.response.json')));
  });

  it('stream events: special tokens add no text; the last one has finish_reason and usage', () => {
    const mid = generateStreamChunkFrom({ index: 1, token: { id: 1, text: 'a', special: false }, generated_text: null, details: null }, 'm', 5);
    expect(mid).toEqual({ id: null, object: 'text_completion_chunk', created: 5, model: 'm', choices: [{ index: 0, finish_reason: null, text: 'a' }] });
    const last = generateStreamChunkFrom({ token: { text: '</s>', special: true }, generated_text: 'a', details: { finish_reason: 'length', generated_tokens: 1 } }, 'm', 5);
    expect(last.choices[0]).toEqual({ index: 0, finish_reason: 'length', text: '' });
    expect(last.usage).toEqual({ prompt_tokens: null, completion_tokens: 1, total_tokens: null });
  });

  it('error events map to TGI statuses', () => {
    expect(tgiStreamError({ error: 'Request failed during generation: boom', error_type: 'generation' }).status).toBe(424);
    expect(tgiStreamError({ error: 'Model is overloaded', error_type: 'overloaded' }).status).toBe(429);
    expect(tgiStreamError({ error: 'Input validation error', error_type: 'validation' }).status).toBe(422);
    const e = tgiStreamError({ error: 'odd' });
    expect(e.status).toBe(502);
    expect(e.message).toBe('odd');
  });
});

describe('TGI Messages API transforms (golden)', () => {
  it('request: OpenAI body with model (fallback "tgi"); streams ask for usage', () => {
    const msgs = [{ role: 'user', content: 'hi' }];
    expect(chatRequestBody({ messages: msgs, temperature: 0, n: 1, tools: null }, null, false)).toEqual({ model: 'tgi', messages: msgs, temperature: 0, n: 1 });
    expect(chatRequestBody({ messages: msgs, temperature: 0.7, n: 1, stream: true }, 'hf-tgi', true))
      .toEqual({ model: 'hf-tgi', messages: msgs, temperature: 0.7, n: 1, stream: true, stream_options: { include_usage: true } });
  });

  it('request: n ≠ 1 → 422 (TGI generates one choice)', () => {
    expect(thrown(() => chatRequestBody({ messages: [], temperature: 0, n: 2 }, 'm', false)).status).toBe(422);
  });

  it('response: empty id → null, model = configured name, MLflow key order', () => {
    const out = chatResponseFrom(fixture('chat.upstream-response.json'), 'hf-tgi');
    expect(out).toEqual(fixture('chat.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('chat.response.json')));
  });

  it('response: tool-call arguments sent as an object (TGI 2.x) become a JSON string', () => {
    const out = chatResponseFrom(fixture('chat-tools.upstream-response.json'), 'hf-tgi');
    expect(out.choices[0]!.message).toEqual({
      role: 'assistant', content: null, refusal: null,
      tool_calls: [{ id: '0', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Paris","format":"celsius"}' } }],
    });
  });

  it('chunk: a single tool_calls object (older TGI) becomes a list', () => {
    const out = chatChunkFrom({ id: '', created: 1, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: { index: 0, id: '', type: 'function', function: { name: null, arguments: '{"lo' } } } }] }, 'm');
    expect(out.choices[0]!.delta.tool_calls).toEqual([{ index: 0, id: null, type: 'function', function: { name: null, arguments: '{"lo' } }]);
  });
});
