import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite, fixtures } from '@gatehouse/sdk/testing';
import ai21 from '../src/index.js';

const { json } = fixtures(new URL('./fixtures/', import.meta.url));

const suite = conformanceSuite(ai21, {
  config: (url) => ({ ai21labs_api_key: 'ai21-conformance-0123456789', ai21labs_api_base: `${url}/studio/v1` }),
  model: 'j2-ultra',
  capabilities: {
    completions: { route: 'POST /studio/v1/j2-ultra/complete', answer: { json: json('complete.upstream-response.json') } },
  },
  error: { status: 429, json: { detail: 'Too many requests' } },
});

describe('provider-ai21labs: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
