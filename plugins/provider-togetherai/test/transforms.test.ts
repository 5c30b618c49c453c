import { describe, expect, it } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import {
  LOGPROBS_TYPE, MAX_TOKENS_REQUIRED, TOP_LOGPROBS_TYPE, chatChunkFrom, chatResponseFrom, completionsChunkFrom,
  completionsRequestBody, completionsResponseFrom, embeddingsRequestBody, embeddingsResponseFrom, requestBody,
} from '../src/transforms.js';
import { fixture } from './helpers.js';

const CFG = 'mistralai/Mixtral-8x7B-Instruct-v0.1';

function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('togetherai request transforms (golden)', () => {
  it('completions: model first, nulls dropped, top_logprobs renamed to logprobs', () => {
    expect(completionsRequestBody(fixture('completions.request.json'), CFG, false)).toEqual(fixture('completions.upstream-request.json'));
  });

  it('a client model overrides the configured one', () => {
    expect(requestBody({ model: 'other/model', messages: [], temperature: 0, n: 1 }, CFG, false).model).toBe('other/model');
  });

  it('streams send stream: true; non-streams never send stream', () => {
    expect(requestBody({ messages: [], temperature: 0, n: 1, stream: true }, CFG, true).stream).toBe(true);
    expect(requestBody({ messages: [], temperature: 0, n: 1, stream: false }, CFG, false)).not.toHaveProperty('stream');
  });

  it.each([[undefined], [null], [0]])('completions need a truthy max_tokens (%s) → 422 with MLflow message', (max_tokens) => {
    const e = thrown(() => completionsRequestBody({ prompt: 'p', temperature: 0, n: 1, max_tokens }, CFG, true));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe(MAX_TOKENS_REQUIRED);
    expect(MAX_TOKENS_REQUIRED).toBe('max_tokens is not present in payload.It is a required parameter for TogetherAI completions.');
  });

  it.each([['invalid_type'], [1.5], [true]])('logprobs must be an integer (%s) → 422', (logprobs) => {
    const e = thrown(() => requestBody({ messages: [], temperature: 0, n: 1, logprobs }, CFG, false));
    expect(e.status).toBe(422);
    expect(e.message).toBe(LOGPROBS_TYPE);
    expect(LOGPROBS_TYPE).toBe('Wrong type for logprobs. It should be an 32bit integer.');
  });

  it('top_logprobs must be an integer → 422', () => {
    const e = thrown(() => requestBody({ messages: [], temperature: 0, n: 1, top_logprobs: 'x' }, CFG, false));
    expect(e.status).toBe(422);
    expect(e.message).toBe(TOP_LOGPROBS_TYPE);
  });

  it('embeddings: configured model added (client model wins), payload otherwise unchanged', () => {
    expect(embeddingsRequestBody({ input: 'x' }, 'm2-bert')).toEqual({ model: 'm2-bert', input: 'x' });
    expect(embeddingsRequestBody({ input: 'x', model: 'other' }, 'm2-bert')).toEqual({ model: 'other', input: 'x' });
  });
});

describe('togetherai response transforms (golden)', () => {
  it('completions: id/created from upstream, model = configured, finish_reason null, usage from upstream', () => {
    const out = completionsResponseFrom(fixture('completions.upstream-response.json'), CFG);
    expect(out).toEqual(fixture('completions.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('completions.response.json')));
  });

  it('chat: role forced to assistant, finish_reason null, MLflow key order', () => {
    const out = chatResponseFrom(fixture('chat.upstream-response.json'), CFG);
    expect(out).toEqual(fixture('chat.response.json'));
    expect(JSON.stringify(out)).toBe(JSON.stringify(fixture('chat.response.json')));
  });

  it('chat: tool calls from the upstream are kept (MLflow drops them)', () => {
    const tc = [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }];
    const out = chatResponseFrom({ id: 'x', created: 1, choices: [{ message: { role: 'assistant', content: null, tool_calls: tc } }] }, CFG);
    expect(out.choices[0]!.message.tool_calls).toEqual(tc);
  });

  it('embeddings: usage null, model = configured', () => {
    expect(embeddingsResponseFrom(fixture('embeddings.upstream-response.json'), 'togethercomputer/m2-bert-80M-8k-retrieval'))
      .toEqual(fixture('embeddings.response.json'));
  });

  it('chat chunk content comes from delta.content, not choice.text (MLflow bug fixed)', () => {
    const out = chatChunkFrom({ id: 'i', created: 1, choices: [{ index: 0, text: 'WRONG', delta: { content: 'right' } }] }, CFG);
    expect(out.choices[0]!.delta.content).toBe('right');
    const old = chatChunkFrom({ id: 'i', created: 1, choices: [{ index: 0, text: 'only text' }] }, CFG);
    expect(old.choices[0]!.delta.content).toBe('only text');
  });

  it('completions chunk: text, raw finish_reason, choice index kept', () => {
    const out = completionsChunkFrom({ id: 'i', created: 3, choices: [{ index: 1, text: 'b', finish_reason: 'eos' }] }, CFG);
    expect(out).toEqual({ id: 'i', object: 'text_completion_chunk', created: 3, model: CFG, choices: [{ index: 1, finish_reason: 'eos', text: 'b' }] });
  });
});
