import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, ProviderInstance } from '@gatehouse/sdk';
import { rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { chatToGemini, completionsToGemini } from '../src/index.js';
import { call, instance } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: it is Gemini's `maxOutputTokens` when
// there is no `max_tokens`, and never sent as a key.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.generationConfig?.maxOutputTokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body]>([
    ['chat (and chat stream)', (l) => chatToGemini(chat(l))],
    ['completions (and completions stream)', (l) => completionsToGemini(cmpl(l))],
  ])('%s: generationConfig.maxOutputTokens, never the key; max_tokens wins when both are given', (_name, body) => {
    expectFolded(body(ONLY), 7);
    expectFolded(body({ max_tokens: null, max_completion_tokens: 7 }), 7);
    expectFolded(body(BOTH), 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); });

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it.each<[string, string, (p: ProviderInstance, l: Limits) => unknown]>([
    ['chat', 'generateContent', (p, l) => p.chat!(chat(l), call())],
    ['chatStream', 'streamGenerateContent', (p, l) => p.chatStream!(chat(l), call())],
    ['completions', 'generateContent', (p, l) => p.completions!(cmpl(l), call())],
    ['completionsStream', 'streamGenerateContent', (p, l) => p.completionsStream!(cmpl(l), call())],
  ])('%s', async (_name, method, run) => {
    const only = await sent(() => run(instance(up.url), ONLY));
    expect(only.path).toBe(`/v1beta/models/gemini-2.0-flash:${method}`);
    expectFolded(only.body, 7);
    expectFolded((await sent(() => run(instance(up.url), BOTH))).body, 5);
  });
});
