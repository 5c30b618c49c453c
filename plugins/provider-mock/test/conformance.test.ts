import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceSuite } from '@gatehouse/sdk/testing';
import mock from '../src/index.js';

const suite = conformanceSuite(mock, {
  // No network: the upstream checks (abort reaching an upstream, upstream errors, timeouts, keys)
  // are reported as not applicable; the abort check still proves a call stops when the caller leaves.
  upstream: false,
  config: () => ({ latency_ms: 20, chunk_delay_ms: 20 }),
  model: 'mock-model',
  capabilities: {
    chat: { route: 'POST /unused', answer: {} },
    chatStream: { route: 'POST /unused', answer: {} },
    completions: { route: 'POST /unused', answer: {} },
    completionsStream: { route: 'POST /unused', answer: {} },
    embeddings: { route: 'POST /unused', answer: {} },
  },
});

describe('provider-mock: behavioural conformance (@gatehouse/sdk/testing)', () => {
  beforeAll(suite.setup);
  afterAll(suite.teardown);
  for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
});
