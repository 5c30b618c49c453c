import { afterAll, describe, expect, it } from 'vitest';
import { chunkTextOf, completionTextOf, createPool, encoder, encodingFor, promptOf, tokenCounter } from '../src/tokens.js';

describe('token estimates', () => {
  it('picks the encoding by model family', () => {
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano', 'gpt-5', 'o1-preview', 'o3-mini', 'o4-mini', 'chatgpt-4o-latest', 'openai/gpt-4o']) expect(encodingFor(m), m).toBe('o200k_base');
    for (const m of ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo', 'text-embedding-3-small', 'claude-3-5-sonnet', 'mistral-large', 'ollama', null]) expect(encodingFor(m), String(m)).toBe('cl100k_base');
  });

  it('counts with the real BPE ranks (known counts)', async () => {
    expect((await encoder('cl100k_base')).encode('hello world', [], []).length).toBe(2);
    // "<|endoftext|>" in user text is ordinary text, not a special token (and no throw).
    expect((await encoder('cl100k_base')).encode('<|endoftext|>', [], []).length).toBeGreaterThan(1);
    expect((await encoder('o200k_base')).encode('hello world', [], []).length).toBe(2);
  });

  it('takes the prompt of each endpoint type', () => {
    const chat = promptOf('llm/v1/chat', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }], name: 'bob' }] });
    expect(chat.text).toBe('system\nBe brief.\nuser\nHi\nbob');
    expect(chat.extra).toBe(9);
    expect(promptOf('llm/v1/completions', { prompt: 'Say hi' })).toEqual({ text: 'Say hi', extra: 0 });
    expect(promptOf('llm/v1/embeddings', { input: ['a', 'b'] })).toEqual({ text: 'a\nb', extra: 0 });
    expect(promptOf('llm/v1/embeddings', { input: [[1, 2, 3], [4]] })).toEqual({ text: '', extra: 4 });
    expect(completionTextOf({ choices: [{ message: { content: 'Hello there' } }] })).toBe('Hello there');
    expect(chunkTextOf({ choices: [{ delta: { content: 'Hel' } }] }) + chunkTextOf({ choices: [{ delta: { content: 'lo' } }] })).toBe('Hello');
  });

  describe('worker pool', () => {
    const pool = createPool();
    afterAll(async () => { await pool.destroy(); });
    it('counts the same off the event loop as on it, above the threshold only', async () => {
      let made = 0;
      const counter = tokenCounter(100, () => { made++; return pool; });
      const short = 'The quick brown fox jumps over the lazy dog.';
      const long = short.repeat(50);
      expect(await counter.count(short, 'cl100k_base')).toBe(10);
      expect(made).toBe(0);
      const inline = (await encoder('o200k_base')).encode(long, [], []).length;
      expect(await counter.count(long, 'o200k_base')).toBe(inline);
      expect(made).toBe(1);
      expect(pool.completed).toBe(1);
    });
  });
});
