import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, ProviderInstance } from '@gatehouse/sdk';
import { rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { chatToCohere, completionsToCohere } from '../src/index.js';
import { call, instance } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`; Cohere knows only `max_tokens` and
// refuses unknown fields, so the value must arrive as `max_tokens` and the key must not be sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.max_tokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body]>([
    ['chat', (l) => chatToCohere(chat(l), 'command', false)],
    ['chat stream', (l) => chatToCohere(chat(l), 'command', true)],
    ['completions', (l) => completionsToCohere(cmpl(l), 'command', false)],
    ['completions stream', (l) => completionsToCohere(cmpl(l), 'command', true)],
  ])('%s: sent as max_tokens, never as a key; max_tokens wins when both are given', (_name, body) => {
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
    ['chat', '/v1/chat', (p, l) => p.chat!(chat(l), call())],
    ['chatStream', '/v1/chat', (p, l) => p.chatStream!(chat(l), call())],
    ['completions', '/v1/generate', (p, l) => p.completions!(cmpl(l), call())],
    ['completionsStream', '/v1/generate', (p, l) => p.completionsStream!(cmpl(l), call())],
  ])('%s', async (_name, path, run) => {
    const only = await sent(() => run(instance(up.url), ONLY));
    expect(only.path).toBe(path);
    expectFolded(only.body, 7);
    expectFolded((await sent(() => run(instance(up.url), BOTH))).body, 5);
  });
});
