import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import cohere from '../src/index.js';

const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));
const NDJSON = 'application/stream+json';

const suite = conformanceSuite(cohere, {
  config: (url) => ({ cohere_api_key: 'co-conformance-0123456789', cohere_api_base: `${url}/v1` }),
  model: 'command',
  capabilities: {
    chat: { route: 'POST /v1/chat', answer: { json: json('chat.json').upstreamResponse } },
    // stream-start carries no text: the first chunk comes with the first text-generation event.
    chatStream: { route: 'POST /v1/chat', answer: { raw: text('chat-stream.ndjson'), contentType: NDJSON }, firstChunkEvents: 2 },
    completions: { route: 'POST /v1/generate', answer: { json: json('completions.json').upstreamResponse } },
    completionsStream: { route: 'POST /v1/generate', answer: { raw: text('completions-stream.ndjson'), contentType: NDJSON } },
    embeddings: { route: 'POST /v1/embed', answer: { json: json('embeddings.json').upstreamResponse }, model: 'embed-english-v2.0' },
  },
  error: { status: 429, json: { message: "You are using a Trial key, which is limited to 10 API calls / minute." } },
});

describe('provider-cohere: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
