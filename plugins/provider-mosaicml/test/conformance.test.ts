import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import mosaicml from '../src/index.js';

const { json } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(mosaicml, {
  config: (url) => ({ mosaicml_api_key: 'mosaic-conformance-0123456789', mosaicml_api_base: url }),
  capabilities: {
    // MosaicML chat needs a llama2 model (its prompt format).
    chat: { route: 'POST /llama2-70b-chat/v1/predict', model: 'llama2-70b-chat', answer: { json: json('chat.json').upstreamResponse } },
    completions: { route: 'POST /mpt-7b-instruct/v1/predict', model: 'mpt-7b-instruct', answer: { json: json('completions.json').upstreamResponse } },
    embeddings: { route: 'POST /instructor-large/v1/predict', model: 'instructor-large', answer: { json: json('embeddings.json').upstreamResponse } },
  },
  error: { status: 429, json: { message: 'Too many requests' } },
});

describe('provider-mosaicml: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
