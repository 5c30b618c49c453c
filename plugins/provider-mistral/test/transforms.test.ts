import { describe, expect, it, vi, afterEach } from 'vitest';
import { completionsRequestBody, completionsResponseFrom, embeddingsRequestBody, embeddingsResponseFrom } from '../src/transforms.js';
import { fixture } from './helpers.js';

afterEach(() => { vi.restoreAllMocks(); });

describe('mistral transforms (golden)', () => {
  it('completions request: prompt → one user message, stop and n dropped, temperature halved', () => {
    const body = completionsRequestBody(fixture('completions.request.json'), 'mistral-tiny');
    expect(body).toEqual(fixture('completions.upstream-request.json'));
    expect(body).not.toHaveProperty('stop');
    expect(body).not.toHaveProperty('n');
  });

  it('completions request: the default temperature 0 stays 0, nulls are dropped', () => {
    expect(completionsRequestBody({ prompt: 'hi', temperature: 0, n: 1, max_tokens: null, stop: null }, 'm'))
      .toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 });
  });

  it('completions response: id null, model = configured name, finish_reason and usage passed through, MLflow key order', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    const out = completionsResponseFrom(fixture('completions.upstream-response.json'), 'mistral-tiny');
    const expected = fixture('completions.response.json');
    expect(out).toEqual(expected);
    expect(JSON.stringify(out)).toBe(JSON.stringify(expected));
  });

  it('embeddings request: model first, payload forwarded', () => {
    expect(embeddingsRequestBody({ input: ['a', 'b'], encoding_format: 'float' }, 'mistral-embed'))
      .toEqual({ model: 'mistral-embed', input: ['a', 'b'], encoding_format: 'float' });
  });

  it('embeddings response: ordered by upstream index, usage from upstream, model = configured name', () => {
    const out = embeddingsResponseFrom(fixture('embeddings.upstream-response.json'), 'mistral-embed');
    const expected = fixture('embeddings.response.json');
    expect(out).toEqual(expected);
    expect(JSON.stringify(out)).toBe(JSON.stringify(expected));
  });

  it('embeddings response without usage gives null usage (MLflow would 500)', () => {
    const out = embeddingsResponseFrom({ data: [{ embedding: [1], index: 0 }] }, 'm');
    expect(out.usage).toEqual({ prompt_tokens: null, total_tokens: null });
  });
});
