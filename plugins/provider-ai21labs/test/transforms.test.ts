import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import { completeRequestBody, completeResponseFrom } from '../src/transforms.js';
import def from '../src/index.js';
import { fixture } from './helpers.js';

afterEach(() => { vi.restoreAllMocks(); });

function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('ai21labs transforms (golden)', () => {
  it('request: stop/n/max_tokens renamed, temperature not scaled, extras and nulls handled', () => {
    expect(completeRequestBody(fixture('complete.request.json'))).toEqual(fixture('complete.upstream-request.json'));
  });

  it.each([['maxTokens', 'max_tokens'], ['numResults', 'n'], ['stopSequences', 'stop']])('a native %s → 422 "Use %s instead."', (theirs, ours) => {
    const e = thrown(() => completeRequestBody({ prompt: 'p', temperature: 0, n: 1, [theirs]: 5 }));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe(`Invalid parameter ${theirs}. Use ${ours} instead.`);
  });

  it('stream: true → 422 (MLflow message)', () => {
    const e = thrown(() => completeRequestBody({ prompt: 'p', temperature: 0, n: 1, stream: true }));
    expect(e.status).toBe(422);
    expect(e.message).toBe("Setting the 'stream' parameter to 'true' is not supported with the MLflow Gateway.");
  });

  it('response: completions[].data.text, finishReason.reason, id and usage null, MLflow key order', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    const out = completeResponseFrom(fixture('complete.upstream-response.json'), 'j2-ultra');
    expect(out).toEqual(fixture('complete.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('complete.response.json')));
  });
});

describe('ai21labs config validation', () => {
  it.each(['j2-ultra', 'j2-mid', 'j2-light'])('accepts %s', (name) => {
    expect(def.validate!({ ai21labs_api_key: 'k' }, { name, provider: 'ai21labs' }, 'llm/v1/completions') ?? []).toEqual([]);
  });

  it.each([['j2'], ['jamba-1.5-large'], [null]])("rejects %s with MLflow's message", (name) => {
    expect(def.validate!({ ai21labs_api_key: 'k' }, { name, provider: 'ai21labs' }, 'llm/v1/completions'))
      .toBe(`An Unsupported AI21Labs model has been specified: '${name ?? 'None'}'. Please see documentation for supported models.`);
  });
});
