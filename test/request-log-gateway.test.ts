/**
 * The request log in a whole gateway: one pino JSON line per request in a file, with the
 * caller from the auth plugin and the trace id from the tracing plugin; no keys, no content
 * unless configured.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway } from './helpers/gateway.js';
import { call, freePort, startCli } from './helpers/processes.js';

const PROVIDER_KEY = 'sk-planted-provider-key-31c9e0f2aa';
const USER_KEY = 'gw-user-key-7d1f0c2b9e8a';
const ADMIN_KEY = 'gw-admin-key-0a9b8c7d6e5f';
const PROMPT = 'a prompt nobody should log';
const chunk = (content: string | null, finish: string | null = null) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] });

let up: FakeUpstream;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-request-log-'));
  up = await startFakeUpstream({
    'POST /v1/chat/completions': (req) => req.json?.stream
      ? { sse: [chunk('Sec'), chunk('ret'), chunk(null, 'stop'), '[DONE]'] }
      : { json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'a reply nobody should log' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } } },
    'POST /bad/v1/chat/completions': { status: 401, json: { error: { message: `Incorrect API key provided: ${PROVIDER_KEY}.` } } },
  });
});
afterAll(async () => { await up?.close(); rmSync(dir, { recursive: true, force: true }); });

const config = (logFile: string, requestLog: Record<string, unknown> = {}) => ({
  endpoints: [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/v1` } } },
    { name: 'broken', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/bad/v1` } } },
  ],
  auth: { keys: [{ name: 'team-a', key: '$USER_KEY' }, { name: 'ops', key: '$ADMIN_KEY', admin: true }] },
  tracing: { dir: join(dir, 'traces'), sampling_rate: 1 },
  'request-log': { destination: logFile, ...requestLog },
});
const env = { PLANTED_KEY: PROVIDER_KEY, USER_KEY, ADMIN_KEY };
const readLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const user = { authorization: `Bearer ${USER_KEY}` };

describe('request log', () => {
  it('writes one line per request, with caller and trace id, and no key or content', async () => {
    const file = join(dir, 'a', 'requests.log');
    const gw = await startTestGateway({ env, config: config(file) });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const ids: string[] = [];
    try {
      const ok = await postJson(`${gw.url}/endpoints/chat/invocations?api_key=${USER_KEY}`, { messages: [{ role: 'user', content: PROMPT }] }, { ...user, traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
      const sse = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...user }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: PROMPT }], stream: true }) });
      await readSse(sse);
      const bad = await postJson(`${gw.url}/endpoints/broken/invocations`, { messages: [{ role: 'user', content: PROMPT }] }, user);
      const anon = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: PROMPT }] });
      const metrics = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const health = await fetch(`${gw.url}/health`);
      expect([ok.status, sse.status, bad.status, anon.status, metrics.status, health.status]).toEqual([200, 200, 401, 401, 200, 200]);
      for (const h of [ok.headers, sse.headers, bad.headers, anon.headers, metrics.headers, health.headers]) ids.push(h.get('x-request-id')!);
    } finally { await gw.close(); }

    const raw = readFileSync(file, 'utf8');
    for (const secret of [PROVIDER_KEY, USER_KEY, ADMIN_KEY, PROMPT, 'a reply nobody should log', 'Secret']) expect(raw).not.toContain(secret);
    const lines = readLines(file);
    expect(lines.map((l) => l.request_id)).toEqual(ids);
    const [ok, sse, bad, anon, metrics, health] = lines;
    expect(ok).toMatchObject({
      level: 30, msg: 'request', method: 'POST', path: '/endpoints/chat/invocations', http_route: '/endpoints/:name/invocations', surface: 'mlflow',
      target: 'chat', endpoint: 'chat', route: null, destination: null, provider: 'openai', model: 'gpt-4o', status: 200, code: null,
      stream: false, attempts: 1, tokens: { input: 9, output: 5, total: 14 }, caller: 'team-a', trace_id: traceId, aborted: false,
    });
    expect(ok.client_ip).toMatch(/127\.0\.0\.1/);
    expect(ok.duration_ms).toBeGreaterThanOrEqual(ok.overhead_ms);
    expect(ok.upstream_ms).toBeGreaterThan(0);
    expect(typeof ok.time).toBe('string');
    expect(ok).not.toHaveProperty('request');
    expect(sse).toMatchObject({ surface: 'openai', http_route: '/v1/chat/completions', target: 'chat', stream: true, chunks: 3, caller: 'team-a', status: 200 });
    expect(sse.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(sse.events).toContain('first_token');
    expect(bad).toMatchObject({ level: 40, status: 401, code: 'GW_ERR_UPSTREAM_STATUS', message: 'Incorrect API key provided: [REDACTED].', caller: 'team-a', endpoint: 'broken' });
    expect(anon).toMatchObject({ level: 40, status: 401, code: 'GW_ERR_AUTH_MISSING', caller: null, target: null });
    expect(metrics).toMatchObject({ path: '/metrics', status: 200, caller: 'ops', target: null });
    expect(health).toMatchObject({ path: '/health', status: 200, level: 30 });
  });

  it('logs content when configured, truncated, and only the levels asked for', async () => {
    const file = join(dir, 'b.log');
    const gw = await startTestGateway({ env, config: config(file, { include_content: true, content_max_chars: 12 }) });
    try {
      expect((await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hello' }] }, user)).status).toBe(200);
      const sse = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', ...user }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }) });
      await readSse(sse);
      // A reload to level warn: successes are no longer written.
      writeFileSync(gw.configPath, stringify(config(file, { level: 'warn' })));
      expect(await gw.gateway.reload()).toBe(true);
      expect((await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'quiet' }] }, user)).status).toBe(200);
      expect((await postJson(`${gw.url}/endpoints/nope/invocations`, { messages: [{ role: 'user', content: 'x' }] }, user)).status).toBe(404);
    } finally { await gw.close(); }
    const lines = readLines(file);
    expect(lines).toHaveLength(3);
    expect(lines[0].request).toBe(`[{"role":"us…[${'[{"role":"user","content":"hello"}]'.length - 12} more]`);
    expect(lines[0].response).toBe('a reply nobo…[13 more]');
    expect(lines[1]).toMatchObject({ stream: true, request: `[{"role":"us…[${'[{"role":"user","content":"hi"}]'.length - 12} more]`, response: 'Secret' });
    expect(lines[2]).toMatchObject({ level: 40, status: 404, path: '/endpoints/nope/invocations' });
    expect(lines[2]).not.toHaveProperty('request');
  });
});

// A device whose every write fails with ENOSPC: a full disk.
describe.skipIf(!existsSync('/dev/full'))('a request log whose destination fails', () => {
  it('warns, keeps serving, and the process still stops at once (no exit hang on a failed flush)', async () => {
    const gw = await startCli({
      endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } }],
      'request-log': { destination: '/dev/full', flush_interval_ms: 0 },
    }, { port: await freePort() });
    try {
      for (let i = 0; i < 5; i++) expect((await call('POST', `${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
      expect((await call('GET', `${gw.url}/health`)).status).toBe(200);
      const warned = gw.logs().filter((l) => String(l.msg).startsWith('request-log: cannot write to /dev/full (ENOSPC)'));
      expect(warned).toHaveLength(1);
      expect(gw.child.exitCode).toBeNull();
      // SIGTERM: the lines still held cannot be written; the exit must not wait for them.
      const t0 = Date.now();
      process.kill(gw.child.pid!, 'SIGTERM');
      const code = await new Promise<number | null>((r) => gw.child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally { await gw.stop(); }
  }, 30_000);
});
