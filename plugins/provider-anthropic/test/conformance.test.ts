import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import anthropic from '../src/index.js';

const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));
const chat = json('chat-response.json');
const completions = json('completions.json');

const suite = conformanceSuite(anthropic, {
  config: (url) => ({ anthropic_api_key: 'sk-ant-conformance-0123456789', anthropic_api_base: `${url}/v1` }),
  model: 'claude-3-haiku-20240307',
  capabilities: {
    chat: { route: 'POST /v1/messages', answer: { json: chat.upstream } },
    chatStream: { route: 'POST /v1/messages', answer: { raw: text('chat-stream-tools.sse'), contentType: 'text/event-stream' },
      // message_start, content_block_start and ping come before the first text delta.
      firstChunkEvents: 4 },
    completions: { route: 'POST /v1/complete', answer: { json: completions.response }, model: 'claude-2.1', request: completions.request },
  },
  error: { status: 429, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } } },
});

describe('provider-anthropic: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
