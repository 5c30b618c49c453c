import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import togetherai from '../src/index.js';

const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(togetherai, {
  config: (url) => ({ togetherai_api_key: 'tg-conformance-0123456789', togetherai_api_base: `${url}/v1` }),
  model: 'mistralai/Mixtral-8x7B-Instruct-v0.1',
  capabilities: {
    chat: { route: 'POST /v1/chat/completions', answer: { json: json('chat.upstream-response.json') } },
    chatStream: { route: 'POST /v1/chat/completions', answer: { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream' } },
    // TogetherAI requires max_tokens for completions (a 422 otherwise, as in MLflow).
    completions: { route: 'POST /v1/completions', answer: { json: json('completions.upstream-response.json') }, request: { prompt: 'Hello', temperature: 0, n: 1, max_tokens: 16 } },
    completionsStream: {
      route: 'POST /v1/completions', answer: { raw: text('completions-stream.upstream.sse'), contentType: 'text/event-stream' },
      request: { prompt: 'Hello', temperature: 0, n: 1, max_tokens: 16, stream: true },
    },
    embeddings: { route: 'POST /v1/embeddings', answer: { json: json('embeddings.upstream-response.json') }, model: 'togethercomputer/m2-bert-80M-8k-retrieval' },
  },
  error: { status: 429, json: { error: { message: 'Rate limit exceeded', type: 'rate_limit_exceeded' } } },
});

describe('provider-togetherai: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
