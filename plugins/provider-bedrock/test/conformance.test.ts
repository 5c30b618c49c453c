import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite } from '@gatehouse/sdk/testing';
import bedrock from '../src/index.js';
import { converseStreamBody, json } from './helpers.js';

const ES = 'application/vnd.amazon.eventstream';
const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const converse = json('converse.json');
const stream = json('converse-stream.json');
const family = json('families.json').anthropic;
const body = converseStreamBody(stream.events);
// The event-stream body is binary: the cut and the stall are given as frames.
// messageStart carries only the role; the first chunk comes with the first text delta.
const FIRST = 2;
const prefix = converseStreamBody(stream.events.slice(0, FIRST));

const suite = conformanceSuite(bedrock, {
  config: (url) => ({
    aws_config: { aws_access_key_id: 'AKIDCONFORMANCE0123', aws_secret_access_key: 'conformance/Secret+Access+Key/0123456789', aws_region: 'us-west-2' },
    bedrock_endpoint_url: url,
  }),
  model: CLAUDE3,
  capabilities: {
    chat: { route: `POST /model/${CLAUDE3}/converse`, answer: { json: converse.response }, request: converse.request },
    chatStream: {
      route: `POST /model/${CLAUDE3}/converse-stream`, answer: { raw: body, contentType: ES },
      stalled: { raw: prefix, contentType: ES, holdOpen: true },
      truncated: { raw: body, contentType: ES, reset: { afterBytes: prefix.length } },
    },
    completions: { route: `POST /model/${family.model}/invoke`, model: family.model, answer: { json: family.response }, request: family.request },
  },
  error: { status: 429, json: { message: 'Too many requests, please wait before trying again.' }, headers: { 'x-amzn-errortype': 'ThrottlingException' } },
});

describe('provider-bedrock: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
