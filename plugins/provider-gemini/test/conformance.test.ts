import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import gemini from '../src/index.js';

const { json } = fixtures(new URL('./fixtures/', import.meta.url));
/** Gemini's SSE framing: `data: <json>` and a blank line, CRLF line ends. */
const geminiSse = (events: unknown[]): string => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
const P = '/v1beta/models/gemini-2.0-flash';
const errors = json('errors.json');

const suite = conformanceSuite(gemini, {
  config: (url) => ({ gemini_api_key: 'AIza-conformance-0123456789', gemini_api_base: `${url}/v1beta/models` }),
  model: 'gemini-2.0-flash',
  capabilities: {
    chat: { route: `POST ${P}:generateContent`, answer: { json: json('chat.json').upstreamResponse } },
    chatStream: { route: `POST ${P}:streamGenerateContent`, answer: { raw: geminiSse(json('chat-stream.json').events), contentType: 'text/event-stream' } },
    completions: { route: `POST ${P}:generateContent`, answer: { json: json('completions.json').upstreamResponse } },
    completionsStream: { route: `POST ${P}:streamGenerateContent`, answer: { raw: geminiSse(json('completions-stream.json').events), contentType: 'text/event-stream' } },
    embeddings: {
      route: 'POST /v1beta/models/text-embedding-004:batchEmbedContents', model: 'text-embedding-004',
      answer: { json: json('embeddings.json').batch.upstreamResponse }, request: json('embeddings.json').batch.request,
    },
  },
  error: { status: errors.overloaded.status, json: errors.overloaded.body },
});

describe('provider-gemini: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
