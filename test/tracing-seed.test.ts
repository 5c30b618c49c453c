/**
 * Seed 003's `tracing:` block, unchanged (comments included), beside the seed's own endpoint:
 * the gateway starts, and traces appear in the seed's layout, `traces/<date>/<trace_id>.json`
 * plus `traces/indexes/by_status/` and `traces/indexes/by_duration/`, relative to the working
 * directory. The endpoint only gains `openai_api_base`, pointing at a fake upstream.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, startTestGateway, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import { REPO_ROOT } from './helpers/gateway.js';

const KEY = 'sk-planted-seed-key-not-real-000000000000';
const SEED_TRACING = `# mlflow-config.yaml
tracing:
  sampling_rate: 0.2 # 20%的请求会被追踪
  slow_threshold_ms: 1000 # 超过1秒的请求强制追踪
`;

let up: FakeUpstream;
let gw: TestGateway;
let cwd: string;
const previousCwd = process.cwd();
const draws = [0.1, 0.5, 0.9, 0.15, 0.3];

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'gatehouse-seed003-'));
  process.chdir(cwd);
  delete process.env.GATEHOUSE_DATA_DIR;
  up = await startFakeUpstream({
    'POST /v1/chat/completions': { json: { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4', choices: [{ index: 0, message: { role: 'assistant', content: '机器学习是...' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } } },
  });
  const config = `endpoints:
  - name: ai-assistant
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-4
      config:
        openai_api_key: $OPENAI_API_KEY
        openai_api_base: ${up.url}/v1
    limit:
      calls: 30
      renewal_period: minute

${SEED_TRACING}`;
  gw = await startTestGateway({ hostDir: REPO_ROOT, config, env: { OPENAI_API_KEY: KEY }, random: { next: () => draws.shift() ?? 0.99 } });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await up?.close();
  process.chdir(previousCwd);
  rmSync(cwd, { recursive: true, force: true });
});

describe("seed 003's tracing block", () => {
  it('starts unchanged; a 20% share plus every failed request lands in traces/ in the seed layout', async () => {
    const ask = (body: unknown) => gw.request('POST', '/endpoints/ai-assistant/invocations', { json: body });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await ask({ messages: [{ role: 'user', content: '解释机器学习' }] }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const invalid = await ask({ messages: 'not a list' });
    expect(invalid.status).toBe(422);

    const list = await gw.request('GET', '/api/gatehouse/traces');
    expect(list.json.stats).toMatchObject({ sampling_rate: 0.2, slow_threshold_ms: 1000, files: { dir: join(cwd, 'traces') } });
    const traceIds = [answers[0]!, answers[3]!, invalid].map((r) => String(r.headers.traceparent).split('-')[1]);
    // Draws 0.1 and 0.15 fall in the 20%; the invalid request is kept because it failed.
    expect(list.json.traces.map((t: any) => t.trace_id).sort()).toEqual([...traceIds].sort());

    const day = new Date().toISOString().slice(0, 10);
    expect(readdirSync(cwd)).toEqual(['traces']);
    expect(readdirSync(join(cwd, 'traces')).sort()).toEqual([day, 'indexes']);
    expect(readdirSync(join(cwd, 'traces', day)).sort()).toEqual(traceIds.map((id) => `${id}.json`).sort());
    expect(readdirSync(join(cwd, 'traces', 'indexes')).sort()).toEqual(['by_duration', 'by_status']);
    expect(readdirSync(join(cwd, 'traces', 'indexes', 'by_status')).sort()).toEqual(['ERROR', 'OK']);
    expect(readdirSync(join(cwd, 'traces', 'indexes', 'by_duration')).length).toBeGreaterThan(0);

    const failed = JSON.parse(readFileSync(join(cwd, 'traces', day, `${traceIds[2]}.json`), 'utf8'));
    expect(failed).toMatchObject({ trace_id: traceIds[2], status: 'ERROR', http_status: 422, kept: 'error' });
    expect(failed.spans.find((s: any) => s.name === 'stage receive').status.code).toBe('ERROR');
    const ok = JSON.parse(readFileSync(join(cwd, 'traces', day, `${traceIds[0]}.json`), 'utf8'));
    expect(ok).toMatchObject({ status: 'OK', duration_ms: expect.any(Number), start_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(ok.spans[0]).toMatchObject({ inputs: { messages: [{ role: 'user', content: '解释机器学习' }] }, outputs: { content: '机器学习是...' } });
    for (const id of traceIds) expect(readFileSync(join(cwd, 'traces', day, `${id}.json`), 'utf8')).not.toContain(KEY);
  });
});
