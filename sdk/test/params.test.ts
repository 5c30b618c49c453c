import { describe, expect, it } from 'vitest';
import { defineProvider, foldMaxCompletionTokens } from '../src/index.js';

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

describe('defineProvider folds max_completion_tokens for every provider that does not accept it', () => {
  const seen: Array<[string, unknown]> = [];
  const record = (name: string) => async (req: unknown) => { seen.push([name, req]); return {} as never; };
  /** A create that returns a class instance: its methods live on the prototype, as the kernel may find them. */
  class Client {
    chat = record('chat');
    completions(req: unknown) { return record('completions')(req); }
    async *chatStream(req: unknown) { seen.push(['chatStream', req]); yield {} as never; }
    embeddings(req: unknown) { return record('embeddings')(req); }
  }
  const call = { signal: new AbortController().signal };

  it('a third-party provider gets the limit as max_tokens on chat, streams and completions; embeddings and key-less requests pass as they are', async () => {
    seen.length = 0;
    const inst = defineProvider({ name: 'third', displayName: 'Third', create: () => new Client() as never }).create({} as never);
    await inst.chat!({ messages: msgs, max_completion_tokens: 7 } as never, call);
    for await (const _ of inst.chatStream!({ messages: msgs, max_completion_tokens: 8 } as never, call)) { /* drain */ }
    await inst.completions!({ prompt: 'p', max_tokens: 5, max_completion_tokens: 9 } as never, call);
    const embed = { input: 'x', max_completion_tokens: 1 };
    await inst.embeddings!(embed as never, call);
    const plain = { prompt: 'p', max_tokens: 3 };
    await inst.completions!(plain as never, call);
    expect(seen).toEqual([
      ['chat', { messages: msgs, max_tokens: 7 }],
      ['chatStream', { messages: msgs, max_tokens: 8 }],
      ['completions', { prompt: 'p', max_tokens: 5 }],
      ['embeddings', embed],
      ['completions', plain],
    ]);
    expect(seen[3]![1]).toBe(embed);
    expect(seen[4]![1]).toBe(plain);
  });

  it('acceptsMaxCompletionTokens (OpenAI\'s API) passes it on as it is', async () => {
    seen.length = 0;
    const def = defineProvider({ name: 'openai-like', displayName: 'O', acceptsMaxCompletionTokens: true, create: () => new Client() as never });
    const req = { messages: msgs, max_completion_tokens: 7 };
    await def.create({} as never).chat!(req as never, call);
    expect(seen).toEqual([['chat', req]]);
    expect(defineProvider({ name: 'other', displayName: 'X', create: () => ({}) }).acceptsMaxCompletionTokens).toBe(false);
  });
});
