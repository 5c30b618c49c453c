/**
 * Tracing with the auth plugin on: the read API needs the admin scope, the trace view stays
 * public (like the docs page), the caller's name is in the trace and the caller's key is not.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, startTestGateway, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import { REPO_ROOT } from './helpers/gateway.js';

const ALICE = 'gh-alice-PLANTED-key-5c1e9a77b2';
const OPS = 'gh-ops-PLANTED-key-0d4f11e3c8';
const PROVIDER_KEY = 'sk-planted-auth-provider-key-not-real-0000';

let up: FakeUpstream;
let gw: TestGateway;
let dir: string;

const files = (root: string): string[] => readdirSync(root).flatMap((f) => (statSync(join(root, f)).isDirectory() ? files(join(root, f)) : [join(root, f)]));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-tracing-auth-'));
  up = await startFakeUpstream({ 'POST /v1/chat/completions': { json: { id: 'c', object: 'chat.completion', created: 1, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } } });
  gw = await startTestGateway({
    hostDir: REPO_ROOT,
    env: { ALICE_KEY: ALICE, OPS_KEY: OPS },
    config: {
      endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt', config: { openai_api_key: PROVIDER_KEY, openai_api_base: `${up.url}/v1` } } }],
      auth: { keys: [{ name: 'alice', key: '$ALICE_KEY' }, { name: 'ops', key: '$OPS_KEY', admin: true }] },
      tracing: { sampling_rate: 1, dir, flush_interval_ms: 10 },
    },
  });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tracing behind gateway keys', () => {
  it('serves traces to admins only, the view to anyone, and names the caller without its key', async () => {
    const r = await gw.request('POST', '/endpoints/chat/invocations', { json: { messages: [{ role: 'user', content: 'hello' }] }, headers: { authorization: `Bearer ${ALICE}` } });
    expect(r.status).toBe(200);
    const id = String(r.headers.traceparent).split('-')[1];

    expect((await gw.request('GET', '/api/gatehouse/traces')).status).toBe(401);
    expect((await gw.request('GET', '/api/gatehouse/traces', { headers: { authorization: `Bearer ${ALICE}` } })).status).toBe(403);
    expect((await gw.request('GET', `/api/gatehouse/traces/${id}`, { headers: { authorization: `Bearer ${ALICE}` } })).status).toBe(403);
    const list = await gw.request('GET', '/api/gatehouse/traces', { headers: { authorization: `Bearer ${OPS}` } });
    expect(list.status).toBe(200);
    expect(list.json.traces.map((t: any) => t.trace_id)).toEqual([id]);

    const page = await gw.request('GET', '/docs/traces');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect((await gw.request('GET', '/docs/traces/assets/traces.js')).status).toBe(200);
    expect((await gw.request('GET', '/docs/traces/assets/..%2F..%2Fpackage.json')).status).toBe(404);

    const trace = (await gw.request('GET', `/api/gatehouse/traces/${id}`, { headers: { authorization: `Bearer ${OPS}` } })).json;
    expect(trace.spans[0].attributes['gatehouse.caller']).toBe('alice');
    for (const f of files(dir)) {
      const text = readFileSync(f, 'utf8');
      for (const secret of [ALICE, OPS, PROVIDER_KEY]) expect(text).not.toContain(secret);
    }
  });
});
