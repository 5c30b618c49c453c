import { describe, expect, it } from 'vitest';
import { foldMaxCompletionTokens } from '../src/index.js';

const msgs = [{ role: 'user', content: 'hi' }];

describe('foldMaxCompletionTokens', () => {
  it('moves max_completion_tokens to max_tokens and removes the key', () => {
    const out = foldMaxCompletionTokens({ messages: msgs, temperature: 0, max_completion_tokens: 7 });
    expect(out).toEqual({ messages: msgs, temperature: 0, max_tokens: 7 });
    expect(Object.keys(out)).not.toContain('max_completion_tokens');
    expect(foldMaxCompletionTokens({ prompt: 'p', max_completion_tokens: 7 })).toEqual({ prompt: 'p', max_tokens: 7 });
  });

  it('keeps max_tokens when both are given, and still removes the key', () => {
    const out = foldMaxCompletionTokens({ prompt: 'p', max_tokens: 5, max_completion_tokens: 7 });
    expect(out).toEqual({ prompt: 'p', max_tokens: 5 });
    expect(Object.keys(out)).not.toContain('max_completion_tokens');
  });

  it('counts null as absent on either side', () => {
    expect(foldMaxCompletionTokens({ prompt: 'p', max_tokens: null, max_completion_tokens: 7 })).toEqual({ prompt: 'p', max_tokens: 7 });
    const nullLimit = foldMaxCompletionTokens({ prompt: 'p', max_tokens: 5, max_completion_tokens: null });
    expect(nullLimit).toEqual({ prompt: 'p', max_tokens: 5 });
    expect(Object.keys(nullLimit)).not.toContain('max_completion_tokens');
    const bothNull = foldMaxCompletionTokens({ prompt: 'p', max_tokens: null, max_completion_tokens: null });
    expect(bothNull).toEqual({ prompt: 'p', max_tokens: null });
    expect(Object.keys(bothNull)).not.toContain('max_completion_tokens');
    // A null max_completion_tokens without max_tokens does not invent one.
    expect(Object.keys(foldMaxCompletionTokens({ prompt: 'p', max_completion_tokens: null }))).toEqual(['prompt']);
  });

  it('leaves a request without max_completion_tokens as it was, and never changes its argument', () => {
    const plain = { prompt: 'p', max_tokens: 3 };
    expect(foldMaxCompletionTokens(plain)).toEqual({ prompt: 'p', max_tokens: 3 });
    const req = { prompt: 'p', max_completion_tokens: 7 };
    const out = foldMaxCompletionTokens(req);
    expect(out).not.toBe(req);
    expect(req).toEqual({ prompt: 'p', max_completion_tokens: 7 });
  });

  it('copies an own __proto__ key (from JSON.parse) as data, not as the prototype', () => {
    const req = JSON.parse('{"prompt":"p","__proto__":{"polluted":1},"max_completion_tokens":7}');
    const out = foldMaxCompletionTokens(req);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'max_tokens', 'prompt']);
  });
});
