import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import mistral from '../src/index.js';

const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(mistral, {
  config: (url) => ({ mistral_api_key: 'mistral-conformance-0123456789', mistral_api_base: `${url}/v1` }),
  model: 'mistral-small-latest',
  capabilities: {
    chat: { route: 'POST /v1/chat/completions', answer: { json: json('chat.upstream-response.json') } },
    chatStream: { route: 'POST /v1/chat/completions', answer: { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream' } },
    completions: { route: 'POST /v1/chat/completions', answer: { json: json('completions.upstream-response.json') } },
    embeddings: { route: 'POST /v1/embeddings', answer: { json: json('embeddings.upstream-response.json') }, model: 'mistral-embed' },
  },
  error: { status: 429, json: { message: 'Requests rate limit exceeded' } },
});

describe('provider-mistral: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
