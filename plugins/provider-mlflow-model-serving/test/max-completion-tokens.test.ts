import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, HttpClient, ProviderInstance } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { chatRequestBody, completionsRequestBody } from '../src/transforms.js';
import { call, makeInstance, newHttp, rejection } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: a served model gets the limit as
// `params.max_tokens`, and the key itself is never sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.params?.max_tokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body]>([
    ['chat', (l) => chatRequestBody(chat(l))],
    ['completions', (l) => completionsRequestBody(cmpl(l))],
  ])('%s: params.max_tokens, never the key; max_tokens wins when both are given', (_name, body) => {
    expectFolded(body(ONLY), 7);
    expectFolded(body({ max_tokens: null, max_completion_tokens: 7 }), 7);
    expectFolded(body(BOTH), 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  let http: HttpClient;
  beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
  afterAll(async () => { await up.close(); await http.close(); });
  const inst = (): ProviderInstance => makeInstance(def, http, { model_server_url: up.url }, 'm', 'llm/v1/chat');

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it.each<[string, (p: ProviderInstance, l: Limits) => unknown]>([
    ['chat', (p, l) => p.chat!(chat(l), call())],
    ['completions', (p, l) => p.completions!(cmpl(l), call())],
  ])('%s', async (_name, run) => {
    const only = await sent(() => run(inst(), ONLY));
    expect(only.path).toBe('/invocations');
    expectFolded(only.body, 7);
    expectFolded((await sent(() => run(inst(), BOTH))).body, 5);
  });
});
