import { describe, expect, it } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import { chatToPalm, completionsToPalm, embeddingsToPalm, palmToChat, palmToCompletions, palmToEmbeddings } from '../src/index.js';
import { fixture } from './helpers.js';

function thrown(fn: () => unknown): any {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('palm request transforms', () => {
  it.each<[number, any]>(fixture('chat.json').cases.map((c: any, i: number) => [i, c]))('maps chat case %i (role -> author, temperature halved, prompt last)', (_i, c) => {
    const body = chatToPalm(c.request);
    expect(body).toEqual(c.upstreamBody);
    expect(Object.keys(body).at(-1)).toBe('prompt');
  });

  it('drops stream fields PaLM would reject and other message fields', () => {
    const body = chatToPalm({ messages: [{ role: 'user', content: 'x', refusal: null, name: 'n' }], temperature: 1, n: 1, stream: false, stream_options: null } as ChatRequest);
    expect(body).toEqual({ temperature: 0.5, candidateCount: 1, prompt: { messages: [{ content: 'x', author: 'user' }] } });
  });

  it.each([
    [{ max_tokens: 5000 }, 'Max tokens is not supported for PaLM chat.'],
    [{ maxOutputTokens: 5000 }, 'Max tokens is not supported for PaLM chat.'],
    [{ stopSequences: ['x'] }, 'Invalid parameter stopSequences. Use stop instead.'],
    [{ candidateCount: 2 }, 'Invalid parameter candidateCount. Use n instead.'],
  ])('rejects chat %j with 422', (override, message) => {
    const e = thrown(() => chatToPalm({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, ...override } as ChatRequest));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });

  it('maps completions', () => {
    const f = fixture('completions.json');
    expect(completionsToPalm(f.request)).toEqual(f.upstreamBody);
    expect(completionsToPalm({ prompt: 'p', temperature: 0.5, n: 1 } as CompletionsRequest).temperature).toBe(0.25);
    for (const k of ['stopSequences', 'candidateCount', 'maxOutputTokens']) {
      expect(thrown(() => completionsToPalm({ prompt: 'p', temperature: 0, n: 1, [k]: 1 } as CompletionsRequest)).status).toBe(422);
    }
  });

  it('maps embeddings; a single string becomes a one-item list', () => {
    expect(embeddingsToPalm(fixture('embeddings.json').request)).toEqual(fixture('embeddings.json').upstreamBody);
    expect(embeddingsToPalm({ input: 'one' })).toEqual({ texts: ['one'] });
    expect(thrown(() => embeddingsToPalm({ input: 'x', texts: ['y'] })).message).toBe('Invalid parameter texts. Use input instead.');
  });
});

describe('palm response transforms', () => {
  it('maps a chat answer with role = author (field order fixed)', () => {
    const f = fixture('chat.json');
    expect(JSON.stringify(palmToChat(f.upstreamResponse, 'chat-bison', 1700242674))).toBe(JSON.stringify(f.response));
  });

  it('maps a completions answer (field order fixed) and a filtered one without candidates', () => {
    const f = fixture('completions.json');
    expect(JSON.stringify(palmToCompletions(f.upstreamResponse, 'text-bison', 1677858242))).toBe(JSON.stringify(f.response));
    expect(palmToCompletions({ filters: [{ reason: 'SAFETY' }] }, 'text-bison', 1).choices).toEqual([]);
  });

  it('maps embeddings', () => {
    const f = fixture('embeddings.json');
    expect(JSON.stringify(palmToEmbeddings(f.upstreamResponse, 'embedding-gecko'))).toBe(JSON.stringify(f.response));
  });
});
