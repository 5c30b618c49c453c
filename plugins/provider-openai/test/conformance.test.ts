import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import openai from '../src/index.js';

const fixture = fixtures(new URL('./fixtures/', import.meta.url)).json;

const suite = conformanceSuite(openai, {
  config: (url) => ({ openai_api_key: 'sk-conformance-0123456789', openai_api_base: `${url}/v1`, openai_organization: 'org-conformance' }),
  model: 'gpt-4o-mini',
  capabilities: {
    chat: { route: 'POST /v1/chat/completions', answer: { json: fixture('chat-completion.json') } },
    chatStream: { route: 'POST /v1/chat/completions', answer: { sse: [...fixture('chat-stream.json'), '[DONE]'] } },
    completions: { route: 'POST /v1/completions', answer: { json: fixture('completion.json') } },
    completionsStream: { route: 'POST /v1/completions', answer: { sse: [...fixture('completion-stream.json'), '[DONE]'] } },
    embeddings: { route: 'POST /v1/embeddings', answer: { json: fixture('embeddings.json') } },
  },
  error: { status: 429, json: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', param: null, code: 'rate_limit_exceeded' } } },
});

describe('provider-openai: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
