import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionsRequest, HttpClient } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { completeRequestBody } from '../src/transforms.js';
import { call, makeInstance, newHttp, rejection } from './helpers.js';

// Newer OpenAI SDK clients send `max_completion_tokens`: AI21 takes the limit as `maxTokens`, and
// the key itself is never sent.
type Limits = { max_tokens?: number | null; max_completion_tokens?: number | null };
const ONLY: Limits = { max_completion_tokens: 7 };
const BOTH: Limits = { max_tokens: 5, max_completion_tokens: 7 };
const cmpl = (l: Limits): CompletionsRequest => ({ prompt: 'hi', ...l });
type Body = Record<string, any>;

function expectFolded(body: Body, value: number) {
  expect(body.maxTokens).toBe(value);
  expect(JSON.stringify(body)).not.toContain('max_completion_tokens');
}

describe('max_completion_tokens', () => {
  it('transform: sent as maxTokens, never as a key; max_tokens wins when both are given', () => {
    expectFolded(completeRequestBody(cmpl(ONLY)), 7);
    expectFolded(completeRequestBody(cmpl({ max_tokens: null, max_completion_tokens: 7 })), 7);
    expectFolded(completeRequestBody(cmpl(BOTH)), 5);
  });

  describe('the body on the wire', () => {
    let up: FakeUpstream;
    let http: HttpClient;
    beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
    afterAll(async () => { await up.close(); await http.close(); });

    /** The one request the call sent (the fake upstream answers 404, so the call itself fails). */
    async function sent(l: Limits): Promise<{ path: string; body: Body }> {
      up.reset();
      const inst = makeInstance(def, http, { ai21labs_api_key: 'k', ai21labs_api_base: `${up.url}/studio/v1` }, 'j2-ultra', 'llm/v1/completions');
      await rejection(inst.completions!(cmpl(l), call()));
      expect(up.requests).toHaveLength(1);
      return { path: up.last().pathname, body: up.last().json };
    }

    it('completions', async () => {
      const only = await sent(ONLY);
      expect(only.path).toBe('/studio/v1/j2-ultra/complete');
      expectFolded(only.body, 7);
      expectFolded((await sent(BOTH)).body, 5);
    });
  });
});
