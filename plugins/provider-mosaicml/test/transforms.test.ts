import { describe, expect, it } from 'vitest';
import { GatewayError, isGatewayError, type ChatMessage, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import {
  chatToMosaic, completionsToMosaic, embeddingsToMosaic, llama2Prompt, mosaicToChat, mosaicToCompletions, mosaicToEmbeddings,
  remapTokenLimitError,
} from '../src/index.js';
import { fixture } from './helpers.js';

function thrown(fn: () => unknown): any {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('llama2 prompt', () => {
  it.each<[string, string[][], string]>(fixture('llama2-prompts.json').map(([msgs, out]: [string[][], string]) => [msgs.map((m) => m[0]).join(','), msgs, out]))(
    'builds %s', (_name, msgs: string[][], expected: string) => {
      const messages: ChatMessage[] = msgs.map(([role, content]) => ({ role: role!, content: content! }));
      expect(llama2Prompt(messages)).toBe(expected);
    },
  );

  it('rejects other roles with 422', () => {
    const e = thrown(() => llama2Prompt([{ role: 'system', content: 'Test' }, { role: 'tool', content: 'x' }]));
    expect(e.status).toBe(422);
    expect(e.message).toBe("An invalid request structure was submitted. Invalid role tool inputted. Must be one of 'system', 'user', or 'assistant'.");
  });
});

describe('mosaicml request transforms', () => {
  it.each<[number, any]>(fixture('chat.json').cases.map((c: any, i: number) => [i, c]))('maps chat case %i', (_i, c) => {
    expect(chatToMosaic(c.request)).toEqual(c.upstreamBody);
  });

  it('maps completions (max_tokens -> max_new_tokens, extras kept, stream fields dropped)', () => {
    const f = fixture('completions.json');
    expect(completionsToMosaic(f.request)).toEqual(f.upstreamBody);
    expect(completionsToMosaic({ prompt: 'p', temperature: 0, n: 1, top_k: 5, stream: false } as CompletionsRequest))
      .toEqual({ inputs: ['p'], parameters: { temperature: 0, n: 1, top_k: 5 } });
  });

  it('rejects native keys with 422', () => {
    expect(thrown(() => completionsToMosaic({ prompt: 'p', temperature: 0, n: 1, max_new_tokens: 5 } as CompletionsRequest)).message)
      .toBe('Invalid parameter max_new_tokens. Use max_tokens instead.');
    expect(thrown(() => chatToMosaic({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, max_new_tokens: 5 } as ChatRequest)).status).toBe(422);
    expect(thrown(() => embeddingsToMosaic({ input: 'x', inputs: ['y'] })).message).toBe('Invalid parameter inputs. Use input instead.');
  });

  it('maps embeddings; a single string becomes a list', () => {
    expect(embeddingsToMosaic(fixture('embeddings.json').request)).toEqual(fixture('embeddings.json').upstreamBody);
    expect(embeddingsToMosaic({ input: 'This is a test' })).toEqual({ inputs: ['This is a test'] });
  });
});

describe('mosaicml response transforms', () => {
  it('maps chat, completions and embeddings answers (field order fixed)', () => {
    const c = fixture('chat.json');
    expect(JSON.stringify(mosaicToChat(c.upstreamResponse, 'llama2-70b-chat', 1700242674))).toBe(JSON.stringify(c.response));
    const p = fixture('completions.json');
    expect(JSON.stringify(mosaicToCompletions(p.upstreamResponse, 'mpt-7b-instruct', 1677858242))).toBe(JSON.stringify(p.response));
    const e = fixture('embeddings.json');
    expect(JSON.stringify(mosaicToEmbeddings(e.upstreamResponse, 'instructor-large'))).toBe(JSON.stringify(e.response));
  });

  it('remaps token-limit 500s to 422 with the upstream JSON as detail, and nothing else', () => {
    const body = fixture('completions.json').tokenLimitError;
    const err = new GatewayError('GW_ERR_UPSTREAM_STATUS', 'x', { status: 500, detail: body });
    const out = remapTokenLimitError(err) as GatewayError;
    expect(isGatewayError(out)).toBe(true);
    expect(out.status).toBe(422);
    expect(out.detail).toEqual(body);
    const other = new GatewayError('GW_ERR_UPSTREAM_STATUS', 'x', { status: 500, detail: { message: 'Error: something else' } });
    expect(remapTokenLimitError(other)).toBe(other);
    const notFiveHundred = new GatewayError('GW_ERR_UPSTREAM_STATUS', 'x', { status: 400, detail: body });
    expect(remapTokenLimitError(notFiveHundred)).toBe(notFiveHundred);
  });
});
