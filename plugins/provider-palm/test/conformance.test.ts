import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import palm from '../src/index.js';

const { json } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(palm, {
  config: (url) => ({ palm_api_key: 'AIza-palm-conformance-0123456789', palm_api_base: `${url}/v1beta3/models/` }),
  capabilities: {
    chat: { route: 'POST /v1beta3/models/chat-bison:generateMessage', model: 'chat-bison', answer: { json: json('chat.json').upstreamResponse } },
    completions: { route: 'POST /v1beta3/models/text-bison:generateText', model: 'text-bison', answer: { json: json('completions.json').upstreamResponse } },
    embeddings: { route: 'POST /v1beta3/models/embedding-gecko:batchEmbedText', model: 'embedding-gecko', answer: { json: json('embeddings.json').upstreamResponse } },
  },
  error: { status: 429, json: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } } },
});

describe('provider-palm: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
