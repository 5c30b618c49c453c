import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import type { ChatRequest, CompletionsRequest, EndpointType, ProviderInstance } from '@gatehouse/sdk';
import { chatToMosaic, completionsToMosaic } from '../src/index.js';
import { call, instance } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: MosaicML takes the limit as
// `parameters.max_new_tokens`, and the key itself is never sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.parameters?.max_new_tokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body]>([
    ['chat', (l) => chatToMosaic(chat(l))],
    ['completions', (l) => completionsToMosaic(cmpl(l))],
  ])('%s: parameters.max_new_tokens, never the key; max_tokens wins when both are given', (_name, body) => {
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

  it.each<[string, EndpointType, (p: ProviderInstance, l: Limits) => unknown]>([
    ['chat', 'llm/v1/chat', (p, l) => p.chat!(chat(l), call())],
    ['completions', 'llm/v1/completions', (p, l) => p.completions!(cmpl(l), call())],
  ])('%s', async (_name, type, run) => {
    const only = await sent(() => run(instance(up.url, type, 'llama2-70b-chat'), ONLY));
    expect(only.path).toBe('/llama2-70b-chat/v1/predict');
    expectFolded(only.body, 7);
    expectFolded((await sent(() => run(instance(up.url, type, 'llama2-70b-chat'), BOTH))).body, 5);
  });
});
