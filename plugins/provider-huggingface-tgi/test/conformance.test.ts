import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import tgi from '../src/index.js';

const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(tgi, {
  // TGI takes no key: the key check is reported as not applicable.
  config: (url) => ({ hf_server_url: url }),
  model: 'hf-tgi',
  capabilities: {
    chat: { route: 'POST /v1/chat/completions', answer: { json: json('chat.upstream-response.json') } },
    chatStream: { route: 'POST /v1/chat/completions', answer: { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream' } },
    completions: { route: 'POST /generate', answer: { json: json('generate.upstream-response.json') } },
    completionsStream: { route: 'POST /generate_stream', answer: { raw: text('generate-stream.upstream.sse'), contentType: 'text/event-stream' } },
  },
  error: { status: 429, json: { error: 'Model is overloaded', error_type: 'overloaded' } },
});

describe('provider-huggingface-tgi: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
