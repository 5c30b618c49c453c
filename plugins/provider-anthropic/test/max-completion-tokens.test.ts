import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, ProviderInstance } from '@gatehouse/sdk';
import { createProviderInstance, rejection, startFakeUpstream, testCall as call, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { toAnthropicChat, toAnthropicCompletions } from '../src/transforms.js';

// Newer OpenAI SDK clients send `max_completion_tokens`; Anthropic knows only its own field and
// refuses unknown ones, so the value must arrive as that field and the key must not be sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, field: (b: Body) => unknown, value: number) {
  expect(field(body)).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body, (b: Body) => unknown]>([
    ['chat', (l) => toAnthropicChat(chat(l), 'claude-3', false), (b) => b.max_tokens],
    ['chat stream', (l) => toAnthropicChat(chat(l), 'claude-3', true), (b) => b.max_tokens],
    ['completions', (l) => toAnthropicCompletions(cmpl(l), 'claude-2'), (b) => b.max_tokens_to_sample],
  ])('%s: sent as the max-tokens field, never as a key; max_tokens wins when both are given', (_name, body, field) => {
    expectFolded(body(ONLY), field, 7);
    expectFolded(body({ max_tokens: null, max_completion_tokens: 7 }), field, 7);
    expectFolded(body(BOTH), field, 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); });
  const inst = (): ProviderInstance => createProviderInstance(def, { config: { anthropic_api_key: 'k', anthropic_api_base: `${up.url}/v1` }, model: 'claude-3' });

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it.each<[string, string, (p: ProviderInstance, l: Limits) => unknown, (b: Body) => unknown]>([
    ['chat', '/v1/messages', (p, l) => p.chat!(chat(l), call()), (b) => b.max_tokens],
    ['chatStream', '/v1/messages', (p, l) => p.chatStream!(chat(l), call()), (b) => b.max_tokens],
    ['completions', '/v1/complete', (p, l) => p.completions!(cmpl(l), call()), (b) => b.max_tokens_to_sample],
  ])('%s', async (_name, path, run, field) => {
    const only = await sent(() => run(inst(), ONLY));
    expect(only.path).toBe(path);
    expectFolded(only.body, field, 7);
    expectFolded((await sent(() => run(inst(), BOTH))).body, field, 5);
  });
});
