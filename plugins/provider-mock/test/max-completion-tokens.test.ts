import { describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest } from '@gatehouse/sdk';
import { collect, createProviderInstance, testCall as call } from '@gatehouse/sdk/testing';
import mock from '../src/index.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: the mock honours it as it honours
// `max_tokens` (the reply cut to that many words, finish_reason "length"); `max_tokens` wins.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const REPLY = 'one two three four five six seven eight nine ten';
const make = () => createProviderInstance(mock, { config: { reply: REPLY, chunk_delay_ms: 0 }, model: 'm' });
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
const words = (n: number) => REPLY.split(' ').slice(0, n).join(' ');

async function answer(kind: string, l: Limits): Promise<{ text: string; finish: string | null; completion: number | null }> {
  const p = make();
  switch (kind) {
    case 'chat': {
      const r = await p.chat!(chat(l), call());
      return { text: r.choices[0]!.message.content as string, finish: r.choices[0]!.finish_reason, completion: r.usage.completion_tokens };
    }
    case 'completions': {
      const r = await p.completions!(cmpl(l), call());
      return { text: r.choices[0]!.text, finish: r.choices[0]!.finish_reason, completion: r.usage.completion_tokens };
    }
    case 'chatStream': {
      const chunks = await collect(p.chatStream!(chat(l), call()));
      return {
        text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
        finish: chunks.map((c) => c.choices[0]?.finish_reason).find((f) => f) ?? null,
        completion: chunks[chunks.length - 1]!.usage?.completion_tokens ?? null,
      };
    }
    default: {
      const chunks = await collect(p.completionsStream!(cmpl(l), call()));
      return {
        text: chunks.map((c) => c.choices[0]?.text ?? '').join(''),
        finish: chunks.map((c) => c.choices[0]?.finish_reason).find((f) => f) ?? null,
        completion: chunks[chunks.length - 1]!.usage?.completion_tokens ?? null,
      };
    }
  }
}

describe('max_completion_tokens', () => {
  it.each(['chat', 'chatStream', 'completions', 'completionsStream'])('%s: cuts the reply like max_tokens; max_tokens wins when both are given', async (kind) => {
    expect(await answer(kind, { max_completion_tokens: 7 })).toEqual({ text: words(7), finish: 'length', completion: 7 });
    expect(await answer(kind, { max_tokens: null, max_completion_tokens: 7 })).toEqual({ text: words(7), finish: 'length', completion: 7 });
    expect(await answer(kind, { max_tokens: 5, max_completion_tokens: 7 })).toEqual({ text: words(5), finish: 'length', completion: 5 });
    // Same as max_tokens: a limit above the reply's length leaves it whole.
    expect(await answer(kind, { max_completion_tokens: 50 })).toEqual({ text: REPLY, finish: 'stop', completion: 10 });
  });
});
