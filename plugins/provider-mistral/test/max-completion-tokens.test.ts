import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, HttpClient, ProviderInstance } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { completionsRequestBody } from '../src/transforms.js';
import { call, makeInstance, newHttp, rejection } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`; Mistral knows only `max_tokens` and
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
  it('completions: sent as max_tokens, never as a key; max_tokens wins when both are given', () => {
    expectFolded(completionsRequestBody(cmpl(ONLY), 'mistral-tiny'), 7);
    expectFolded(completionsRequestBody(cmpl({ max_tokens: null, max_completion_tokens: 7 }), 'mistral-tiny'), 7);
    expectFolded(completionsRequestBody(cmpl(BOTH), 'mistral-tiny'), 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  let http: HttpClient;
  beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
  afterAll(async () => { await up.close(); await http.close(); });
  const inst = (): ProviderInstance => makeInstance(def, http, { mistral_api_key: 'k', mistral_api_base: `${up.url}/v1` }, 'mistral-small', 'llm/v1/chat');

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it.each<[string, (p: ProviderInstance, l: Limits) => unknown]>([
    ['chat', (p, l) => p.chat!(chat(l), call())],
    ['chatStream', (p, l) => p.chatStream!(chat(l), call())],
    ['completions', (p, l) => p.completions!(cmpl(l), call())],
  ])('%s', async (_name, run) => {
    const only = await sent(() => run(inst(), ONLY));
    expect(only.path).toBe('/v1/chat/completions');
    expectFolded(only.body, 7);
    expectFolded((await sent(() => run(inst(), BOTH))).body, 5);
  });
});
