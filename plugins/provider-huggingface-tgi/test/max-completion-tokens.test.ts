import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, CompletionsRequest, HttpClient, ProviderInstance } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { chatRequestBody, generateRequestBody } from '../src/transforms.js';
import { call, makeInstance, newHttp, rejection } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: TGI's `/generate` takes the limit as
// `parameters.max_new_tokens`, its Messages API as `max_tokens`; the key itself is never sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;
const generateMax = (b: Body) => b.parameters?.max_new_tokens;
const chatMax = (b: Body) => b.max_tokens;

function expectFolded(body: Body, field: (b: Body) => unknown, value: number) {
  expect(field(body)).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens: transforms', () => {
  it.each<[string, (l: Limits) => Body, (b: Body) => unknown]>([
    ['generate', (l) => generateRequestBody(cmpl(l)), generateMax],
    ['generate stream', (l) => generateRequestBody(cmpl(l), true), generateMax],
    ['chat', (l) => chatRequestBody(chat(l), 'tgi', false), chatMax],
    ['chat stream', (l) => chatRequestBody(chat(l), 'tgi', true), chatMax],
  ])('%s: the max-tokens field, never the key; max_tokens wins when both are given', (_name, body, field) => {
    expectFolded(body(ONLY), field, 7);
    expectFolded(body({ max_tokens: null, max_completion_tokens: 7 }), field, 7);
    expectFolded(body(BOTH), field, 5);
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  let http: HttpClient;
  beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
  afterAll(async () => { await up.close(); await http.close(); });
  const inst = (): ProviderInstance => makeInstance(def, http, { hf_server_url: up.url }, 'hf-tgi', 'llm/v1/completions');

  /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
  async function sent(run: () => unknown): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(run);
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it.each<[string, string, (p: ProviderInstance, l: Limits) => unknown, (b: Body) => unknown]>([
    ['completions', '/generate', (p, l) => p.completions!(cmpl(l), call()), generateMax],
    ['completionsStream', '/generate_stream', (p, l) => p.completionsStream!(cmpl(l), call()), generateMax],
    ['chat', '/v1/chat/completions', (p, l) => p.chat!(chat(l), call()), chatMax],
    ['chatStream', '/v1/chat/completions', (p, l) => p.chatStream!(chat(l), call()), chatMax],
  ])('%s', async (_name, path, run, field) => {
    const only = await sent(() => run(inst(), ONLY));
    expect(only.path).toBe(path);
    expectFolded(only.body, field, 7);
    expectFolded((await sent(() => run(inst(), BOTH))).body, field, 5);
  });
});
