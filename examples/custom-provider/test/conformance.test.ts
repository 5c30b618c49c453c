/**
 * The sdk's behavioural conformance kit, run with the House wire format's own fixtures against
 * a fake upstream (the kit starts it): shapes, 501s, aborts, errors before and after the first
 * chunk, timeouts and keys.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, type ConformanceFixtures } from '@gatehouse/sdk/testing';
import house, { type HouseConfig } from '../src/index.js';
import houseClass from '../src/class-style.js';

const generated = { request_id: 'req-1', model: 'house-echo-1', outputs: [{ text: 'Echo: hi', finish: 'end' }], usage: { input_tokens: 1, output_tokens: 2 } };
const events = [
  'event: token\ndata: {"text":"Echo: "}',
  'event: token\ndata: {"text":"hi"}',
  'event: done\ndata: {"finish":"end","usage":{"input_tokens":1,"output_tokens":2}}',
];
const stream = { sse: events };

const fixtures: ConformanceFixtures<HouseConfig> = {
  config: (url) => ({ house_api_key: 'house-conformance-key-0123', house_api_base: url }),
  model: 'house-echo-1',
  capabilities: {
    chat: { route: 'POST /v1/generate', answer: { json: generated } },
    chatStream: { route: 'POST /v1/generate', answer: stream },
    completions: { route: 'POST /v1/generate', answer: { json: generated } },
    completionsStream: { route: 'POST /v1/generate', answer: stream },
    embeddings: { route: 'POST /v1/embed', answer: { json: { model: 'house-echo-1', vectors: [[0.1, 0.2]], usage: { input_tokens: 1 } } } },
  },
  error: { status: 429, json: { code: 'RATE_LIMITED', message: 'slow down' } },
};

for (const def of [house, houseClass]) {
  const suite = conformanceSuite(def, fixtures);
  describe(`${def.name}: behavioural conformance`, () => {
    beforeAll(suite.setup);
    afterAll(suite.teardown);
    for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
  });
}
