import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import {
  chatRequestBody, chatResponseFrom, completionsRequestBody, completionsResponseFrom, embeddingsRequestBody, embeddingsResponseFrom,
  parseEmbeddingPredictions, parseTextPredictions,
} from '../src/transforms.js';
import { pyRepr, renderValidationError } from '../src/pydantic-text.js';
import { fixture } from './helpers.js';

afterEach(() => { vi.restoreAllMocks(); });

function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('mlflow-model-serving request transforms (golden, MLflow tests)', () => {
  it('completions: {"inputs": [prompt], "params": rest}', () => {
    expect(completionsRequestBody({ prompt: 'Is this a test?', temperature: 0, n: 1, stop: null }))
      .toEqual({ inputs: ['Is this a test?'], params: { temperature: 0, n: 1 } });
  });

  it('embeddings: a list input is kept as the inputs list; params omitted when empty', () => {
    expect(embeddingsRequestBody({ input: ['test1', 'test2'] })).toEqual({ inputs: ['test1', 'test2'] });
    expect(embeddingsRequestBody({ input: 'one' })).toEqual({ inputs: ['one'] });
  });

  it('chat: inputs = [first message content]; a client model and extras go to params', () => {
    expect(chatRequestBody({ messages: [{ role: 'user', content: 'Is this a test?' }], temperature: 0, n: 1, model: 'ignored-by-gateway' }))
      .toEqual({ inputs: ['Is this a test?'], params: { temperature: 0, n: 1, model: 'ignored-by-gateway' } });
  });

  it('streaming flags never reach params', () => {
    expect(completionsRequestBody({ prompt: 'p', temperature: 0, n: 1, stream: false })).toEqual({ inputs: ['p'], params: { temperature: 0, n: 1 } });
  });

  it('chat with more than one message → 422 (system + user counts as two)', () => {
    const e = thrown(() => chatRequestBody({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], temperature: 0, n: 1 }));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(422);
    expect(e.message).toBe('MLflow chat models are only capable of processing a single query at a time. The request submitted consists of 2 queries.');
  });
});

describe('predictions parsing (MLflow test cases)', () => {
  for (const [input, expected] of fixture<[unknown, string[]][]>('text-predictions.valid.json')) {
    it(`text: ${JSON.stringify(input)}`, () => { expect(parseTextPredictions(input)).toEqual(expected); });
  }

  for (const [input, expected] of fixture<[unknown, string][]>('text-predictions.invalid.json')) {
    it(`text 502: ${JSON.stringify(input)}`, () => {
      const e = thrown(() => parseTextPredictions(input));
      expect(isGatewayError(e)).toBe(true);
      expect(e.status).toBe(502);
      expect(e.message).toContain('ServingTextResponse\npredictions');
      expect(e.message.startsWith(expected)).toBe(true);
    });
  }

  it('embeddings: a list of vectors, or one vector (wrapped); integer components accepted', () => {
    expect(parseEmbeddingPredictions({ predictions: [[0.01, -0.1], [0.03, -0.03]] })).toEqual([[0.01, -0.1], [0.03, -0.03]]);
    expect(parseEmbeddingPredictions({ predictions: [0.5, 1] })).toEqual([[0.5, 1]]);
  });

  for (const [input, expected] of fixture<[unknown, string][]>('embedding-predictions.invalid.json')) {
    it(`embeddings 502: ${JSON.stringify(input)}`, () => {
      const e = thrown(() => parseEmbeddingPredictions(input));
      expect(e.status).toBe(502);
      expect(e.message).toContain('EmbeddingsResponse\npredictions');
      expect(e.message.startsWith(expected)).toBe(true);
    });
  }

  it('a non-object answer → 502 "missing the required key"', () => {
    expect(thrown(() => parseTextPredictions(['a'])).message).toBe('The response is missing the required key: predictions.');
  });

  it('pydantic text: long reprs are shortened like pydantic-core; Python repr rules', () => {
    const long = Array.from({ length: 40 }, (_, i) => i);
    const text = renderValidationError('T', [{ loc: ['predictions'], type: 'list_type', msg: 'Input should be a valid list', input: { v: long } }]);
    expect(text).toBe("1 validation error for T\npredictions\n  Input should be a valid list [type=list_type, input_value={'v': [0, 1, 2, 3, 4, 5, ...34, 35, 36, 37, 38, 39]}, input_type=dict]");
    expect(pyRepr({ a: null, b: true, c: "it's", d: 1e-7, e: 'x\ny' })).toBe(`{'a': None, 'b': True, 'c': "it's", 'd': 1e-07, 'e': 'x\\ny'}`);
  });
});

describe('mlflow-model-serving responses (golden)', () => {
  it('completions: id null, usage null, finish_reason null, model = configured name', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    const out = completionsResponseFrom({ predictions: ['This is a test!'] }, 'text2text');
    const expected = {
      id: null, object: 'text_completion', created: 1677858242, model: 'text2text',
      choices: [{ index: 0, text: 'This is a test!', finish_reason: null }],
      usage: { prompt_tokens: null, completion_tokens: null, total_tokens: null },
    };
    expect(JSON.stringify(out)).toBe(JSON.stringify(expected));
  });

  it('chat: role assistant, tool_calls and refusal null, MLflow key order', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1700242674_000);
    const out = chatResponseFrom({ predictions: ['It is a test'] }, 'chat-bot-9000');
    const expected = {
      id: null, object: 'chat.completion', created: 1700242674, model: 'chat-bot-9000',
      choices: [{ index: 0, message: { role: 'assistant', content: 'It is a test', tool_calls: null, refusal: null }, finish_reason: null }],
      usage: { prompt_tokens: null, completion_tokens: null, total_tokens: null },
    };
    expect(JSON.stringify(out)).toBe(JSON.stringify(expected));
  });

  it('embeddings: index by position, usage null', () => {
    const out = embeddingsResponseFrom({ predictions: [[0.01, -0.1], [0.03, -0.03]] }, 'sentence-piece');
    expect(JSON.stringify(out)).toBe(JSON.stringify({
      object: 'list',
      data: [{ object: 'embedding', embedding: [0.01, -0.1], index: 0 }, { object: 'embedding', embedding: [0.03, -0.03], index: 1 }],
      model: 'sentence-piece',
      usage: { prompt_tokens: null, total_tokens: null },
    }));
  });
});
