import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite } from '@gatehouse/sdk/testing';
import serving from '../src/index.js';

const suite = conformanceSuite(serving, {
  // A model server takes no key: the key check is reported as not applicable.
  config: (url) => ({ model_server_url: url }),
  model: 'my-model',
  capabilities: {
    chat: { route: 'POST /invocations', answer: { json: { predictions: ['This is a test!'] } } },
    completions: { route: 'POST /invocations', answer: { json: { predictions: ['It is a test'] } } },
    embeddings: { route: 'POST /invocations', answer: { json: { predictions: [[0.01, -0.1], [0.03, -0.03]] } }, request: { input: ['a', 'b'] } },
  },
  error: { status: 503, json: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' } },
});

describe('provider-mlflow-model-serving: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
