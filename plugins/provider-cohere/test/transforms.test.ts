import { describe, expect, it } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import {
  chatToCohere, cohereEvents, cohereToChat, cohereToChatChunk, cohereToCompletions, cohereToCompletionsChunk,
  cohereToEmbeddings, completionsToCohere, embeddingsToCohere, normalizeFinishReason,
} from '../src/index.js';
import { events, fixture, text } from './helpers.js';

const NOW = 1677858242;

function thrown(fn: () => unknown): any {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('cohere request transforms', () => {
  it('maps chat: last user message, preamble from system messages, chat_history, temperature x2.5', () => {
    const f = fixture('chat.json');
    expect(chatToCohere(f.request, 'command', false)).toEqual(f.upstreamBody);
    expect(chatToCohere(f.request, 'command', true)).toEqual({ ...f.upstreamBody, stream: true });
  });

  it('leaves temperature 0 as 0, drops stream_options and omits model when the config has none', () => {
    const body = chatToCohere({ messages: [{ role: 'user', content: 'hi' }], temperature: 0, n: 1, stream: true, stream_options: { include_usage: true }, max_tokens: 9, p: 0.5 } as ChatRequest, null, false);
    expect(body).toEqual({ temperature: 0, max_tokens: 9, p: 0.5, message: 'hi' });
  });

  it.each([
    [{ n: 2 }, 'Parameter n must be 1 for Cohere chat, got 2.'],
    [{ stop: ['x'] }, 'Parameter stop is not supported for Cohere chat.'],
    [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, 'Last message must be from user, got assistant.'],
  ])('rejects chat %j with 422', (override, message) => {
    const e = thrown(() => chatToCohere({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, ...override } as ChatRequest, 'command', false));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });

  it('maps completions (stop -> stop_sequences, n -> num_generations) and streams with stream: true', () => {
    const f = fixture('completions.json');
    expect(completionsToCohere(f.request, 'command', false)).toEqual(f.upstreamBody);
    expect(completionsToCohere({ prompt: 'p', temperature: 0.5, n: 1 } as CompletionsRequest, 'command', true))
      .toEqual({ model: 'command', prompt: 'p', temperature: 1.25, num_generations: 1, stream: true });
  });

  it.each([
    ['stop_sequences', 'stop'],
    ['num_generations', 'n'],
  ])('rejects the native completions key %s with 400', (native, ours) => {
    const e = thrown(() => completionsToCohere({ prompt: 'p', temperature: 0, n: 1, [native]: 1 } as CompletionsRequest, 'command', false));
    expect(e.status).toBe(400);
    expect(e.message).toBe(`Invalid parameter ${native}. Use ${ours} instead.`);
  });

  it('maps embeddings: input -> texts (a string becomes a list), extras forwarded', () => {
    const f = fixture('embeddings.json');
    expect(embeddingsToCohere(f.request, 'embed-english-light-v2.0')).toEqual(f.upstreamBody);
    expect(embeddingsToCohere({ input: 'one' }, 'm')).toEqual({ model: 'm', texts: ['one'] });
    expect(thrown(() => embeddingsToCohere({ input: 'x', texts: ['y'] }, 'm')).message).toBe('Invalid parameter texts. Use input instead.');
    expect(thrown(() => embeddingsToCohere({ input: [1, 2] }, 'm')).status).toBe(422);
  });
});

describe('cohere response transforms', () => {
  it('maps a chat answer (field order fixed)', () => {
    const f = fixture('chat.json');
    expect(JSON.stringify(cohereToChat(f.upstreamResponse, 'command', NOW))).toBe(JSON.stringify(f.response));
  });

  it('maps a current-API chat answer: finish_reason mapped, usage from meta.tokens', () => {
    const f = fixture('chat.json');
    const out = cohereToChat(f.currentApiResponse, 'command', NOW);
    expect(out.choices[0]!.finish_reason).toBe('stop');
    expect(out.usage).toEqual({ prompt_tokens: 71, completion_tokens: 7, total_tokens: 78 });
  });

  it('maps a completions answer (field order fixed)', () => {
    const f = fixture('completions.json');
    expect(JSON.stringify(cohereToCompletions(f.upstreamResponse, 'command', NOW))).toBe(JSON.stringify(f.response));
    expect(cohereToCompletions({ generations: [{ text: 'a', finish_reason: 'MAX_TOKENS' }] }, 'c', NOW).choices[0]!.finish_reason).toBe('length');
  });

  it('maps embeddings answers, including embeddings by type', () => {
    const f = fixture('embeddings.json');
    expect(JSON.stringify(cohereToEmbeddings(f.upstreamResponse, 'embed-english-light-v2.0'))).toBe(JSON.stringify(f.response));
    const typed = cohereToEmbeddings({ embeddings: { float: [[1, 2]] }, meta: { billed_units: { input_tokens: 3 } } }, 'm');
    expect(typed.data[0]!.embedding).toEqual([1, 2]);
    expect(typed.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it.each([
    ['COMPLETE', 'stop'], ['STOP_SEQUENCE', 'stop'], ['MAX_TOKENS', 'length'], ['ERROR_LIMIT', 'length'],
    ['ERROR_TOXIC', 'content_filter'], ['TOOL_CALL', 'tool_calls'], ['ERROR', 'error'], ['USER_CANCEL', 'user_cancel'], [undefined, null],
  ])('normalizes finish reason %s -> %s', (input, out) => {
    expect(normalizeFinishReason(input)).toBe(out);
  });
});

describe('cohere streams', () => {
  it('maps chat stream events (stream-start skipped, COMPLETE -> stop, usage on stream-end)', () => {
    const out = events('chat-stream.ndjson').map((e) => cohereToChatChunk(e, 'command', NOW)).filter(Boolean);
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('chat-stream-chunks.json')));
  });

  it('maps completions stream events', () => {
    const out = events('completions-stream.ndjson').map((e) => cohereToCompletionsChunk(e, 'command', NOW));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('completions-stream-chunks.json')));
  });

  it('gives one finishing choice per generation when n > 1', () => {
    const chunk = cohereToCompletionsChunk({ is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: { id: 'g', generations: [
      { index: 0, text: 'a', finish_reason: 'COMPLETE' }, { index: 1, text: 'b', finish_reason: 'MAX_TOKENS' },
    ] } }, 'command', NOW)!;
    expect(chunk.choices).toEqual([{ index: 0, finish_reason: 'stop', text: null }, { index: 1, finish_reason: 'length', text: null }]);
  });

  it('skips search/citation/tool events and throws on stream-error', () => {
    expect(cohereToChatChunk({ event_type: 'citation-generation', citations: [] }, 'c', NOW)).toBeNull();
    const e = thrown(() => cohereToChatChunk({ is_finished: true, event_type: 'stream-error', finish_reason: 'ERROR', text: 'boom' }, 'c', NOW));
    expect(isGatewayError(e)).toBe(true);
    expect(e.message).toBe('boom');
    expect(thrown(() => cohereToCompletionsChunk({ event_type: 'stream-error', finish_reason: 'ERROR' }, 'c', NOW)).message)
      .toBe('Cohere ended the stream with an error (ERROR).');
  });

  it('reads NDJSON split at every byte; a non-JSON line is a 502', async () => {
    const bytes = new TextEncoder().encode(text('chat-stream.ndjson'));
    async function* oneByte() { for (const b of bytes) yield new Uint8Array([b]); }
    const got = [];
    for await (const e of cohereEvents(oneByte())) got.push(e);
    expect(got).toEqual(events('chat-stream.ndjson'));
    const it2 = cohereEvents((async function* () { yield '{"a":1}\nnot json\n'; })());
    await it2.next();
    const e = await it2.next().then(() => null, (err) => err);
    expect(e.status).toBe(502);
  });
});
