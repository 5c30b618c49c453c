import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import { rejection, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { chatToPalm, completionsToPalm } from '../src/index.js';
import { call, instance } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: PaLM's `generateText` takes the limit as
// `maxOutputTokens`; `generateMessage` has no limit, so chat refuses it as it refuses `max_tokens`
// (PaLM rejects unknown fields, so the key is never forwarded).
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const chat = (l: Limits): ChatRequest => ({ messages: [{ role: 'user', content: 'hi' }], ...l });
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.maxOutputTokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

const thrown = (fn: () => unknown): any => { try { fn(); } catch (e) { return e; } throw new Error('expected a throw'); };

describe('max_completion_tokens: transforms', () => {
  it('completions: maxOutputTokens, never the key; max_tokens wins when both are given', () => {
    expectFolded(completionsToPalm(cmpl(ONLY)), 7);
    expectFolded(completionsToPalm(cmpl({ max_tokens: null, max_completion_tokens: 7 })), 7);
    expectFolded(completionsToPalm(cmpl(BOTH)), 5);
  });

  it('chat: refused like max_tokens (422), not forwarded', () => {
    const e = thrown(() => chatToPalm(chat(ONLY)));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe('Max tokens is not supported for PaLM chat.');
    // A null limit is absent: the chat goes through, without the key.
    expect(JSON.stringify(chatToPalm(chat({ max_completion_tokens: null })))).not.toContain('max_completion_tokens');
  });
});

describe('max_completion_tokens: the body on the wire', () => {
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); });

  async function sent(l: Limits): Promise<{ path: string; body: Body }> {
    up.reset();
    await rejection(instance(up.url, 'llm/v1/completions', 'text-bison-001').completions!(cmpl(l), call()));
    expect(up.requests).toHaveLength(1);
    return { path: up.last().pathname, body: up.last().json };
  }

  it('completions', async () => {
    const only = await sent(ONLY);
    expect(only.path).toBe('/v1beta3/models/text-bison-001:generateText');
    expectFolded(only.body, 7);
    expectFolded((await sent(BOTH)).body, 5);
  });

  it('chat: refused before any request', async () => {
    up.reset();
    const e = await rejection(instance(up.url, 'llm/v1/chat', 'chat-bison-001').chat!(chat(ONLY), call()));
    expect(e.status).toBe(422);
    expect(up.requests).toHaveLength(0);
  });
});
