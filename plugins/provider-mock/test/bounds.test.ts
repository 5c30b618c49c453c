import { describe, expect, it } from 'vitest';
import { createProviderInstance, rejection, testCall as call } from '@gatehouse/sdk/testing';
import mock, { choiceCount, MAX_CHOICES } from '../src/index.js';

const p = createProviderInstance(mock, { config: {}, model: 'm' });
const chat = (n: unknown) => ({ messages: [{ role: 'user', content: 'x' }], n }) as any;

describe('provider-mock: no work proportional to an unchecked number (issue 12 item 1)', () => {
  it.each([2147483648, 2 ** 53 + 1, Infinity, 129, 0, -1, 1.5, '3'])('n = %s is a 422 at once, without building any choice', async (n) => {
    const t0 = performance.now();
    for (const e of [await rejection(p.chat!(chat(n), call())), await rejection(p.completions!({ prompt: 'x', n } as any, call()))]) {
      expect([e.code, e.status, e.param]).toEqual(['GW_ERR_REQUEST_PARAM', 422, 'n']);
      expect(e.message).toMatch(/^'n' must be an integer from 1 to 128 for the Mock provider/);
    }
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('n up to 128 is honoured; omitted or null means one choice', async () => {
    expect((await p.chat!(chat(MAX_CHOICES), call())).choices).toHaveLength(128);
    expect((await p.completions!({ prompt: 'x', n: 3 }, call())).choices).toHaveLength(3);
    expect((await p.chat!({ messages: [{ role: 'user', content: 'x' }] }, call())).choices).toHaveLength(1);
    expect([choiceCount(undefined), choiceCount(null), choiceCount(7)]).toEqual([1, 1, 7]);
  });

  it('a max_tokens of 2^31-1 costs nothing (the reply is cut, never padded)', async () => {
    const r = await p.chat!({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 ** 31 - 1 }, call());
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });
});
