import { describe, expect, it } from 'vitest';
import { checkProvider, collect, createProviderInstance, rejection, testCall as call } from '@gatehouse/sdk/testing';
import mock, { mockEmbedding } from '../src/index.js';

const make = (config: Record<string, unknown> = {}) => createProviderInstance(mock, { config, model: 'm' });

describe('provider-mock', () => {
  it('passes the conformance checks and needs no config', () => {
    expect(checkProvider(mock, 'mock')).toEqual([]);
    expect(mock.requiresConfig).toBe(false);
  });

  it('chat is deterministic, honours n and max_tokens, and counts usage', async () => {
    const p = make();
    const req = { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello world' }], temperature: 0, n: 2, max_tokens: 3 };
    const a = await p.chat!(req, call());
    const b = await p.chat!(req, call());
    expect(a.id).toBe(b.id);
    expect(a.choices.map((c) => [c.message.content, c.finish_reason])).toEqual([['This is a', 'length'], ['This is a', 'length']]);
    expect(a.usage).toEqual({ prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });
  });

  it('streams chat over time, then a finish chunk and a usage-only chunk', async () => {
    const p = make({ reply: 'one two three', chunk_delay_ms: 30 });
    const t0 = Date.now();
    const chunks = await collect(p.chatStream!({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1 }, call()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? null)).toEqual(['one ', 'two ', 'three', null, null]);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });
  });

  it('stops streaming when the caller aborts', async () => {
    const p = make({ reply: 'a b c d e f', chunk_delay_ms: 50 });
    const ac = new AbortController();
    const seen: unknown[] = [];
    await expect((async () => { for await (const c of p.chatStream!({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1 }, { signal: ac.signal })) { seen.push(c); if (seen.length === 2) ac.abort(); } })()).rejects.toBeDefined();
    expect(seen).toHaveLength(2);
  });

  it('completions and completions stream', async () => {
    const p = make({ reply: 'done here' });
    const r = await p.completions!({ prompt: 'p', temperature: 0, n: 1 }, call());
    expect(r.choices[0]).toEqual({ index: 0, text: 'done here', finish_reason: 'stop' });
    const chunks = await collect(p.completionsStream!({ prompt: 'p', temperature: 0, n: 1 }, { signal: new AbortController().signal }));
    expect(chunks.map((c) => c.choices[0]?.text ?? null)).toEqual(['done ', 'here', '', null]);
  });

  it('embeddings: stable unit vectors from the input text', async () => {
    const p = make({ dimensions: 16 });
    const r = await p.embeddings!({ input: ['alpha', 'beta', 'alpha'] }, call());
    const [a, b, a2] = r.data.map((d) => d.embedding as number[]);
    expect(a).toHaveLength(16);
    expect(a).toEqual(a2);
    expect(a).not.toEqual(b);
    expect(Math.abs(Math.hypot(...a!) - 1)).toBeLessThan(1e-4);
    expect(mockEmbedding('alpha', 16)).toEqual(a);
    expect(r.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it('embeddings: the request\'s dimensions wins over the config\'s, and is bounded', async () => {
    const p = make({ dimensions: 16 });
    expect((await p.embeddings!({ input: 'alpha', dimensions: 4 }, call())).data[0]!.embedding).toHaveLength(4);
    expect((await p.embeddings!({ input: 'alpha', dimensions: null }, call())).data[0]!.embedding).toHaveLength(16);
    for (const d of [0, 4097, 65_536, 1.5]) {
      const e = await rejection(p.embeddings!({ input: 'alpha', dimensions: d }, call()));
      expect([e.status, e.param]).toEqual([422, 'dimensions']);
    }
  });
});
