/**
 * Breaker and cool-down state under `gatehouse start --workers 2` (the built CLI): one state for
 * all workers, through the kernel's shared state. Each call goes on its own connection, so the
 * cluster's round-robin scheduling (Node's default on Linux) alternates them between the workers:
 * with per-worker state, the other worker would still call the broken or cooling destination.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { callOnNewConnection, REPO_ROOT } from './helpers/gateway.js';

const CLI = join(REPO_ROOT, 'core/bin/gatehouse.js');
const runnable = existsSync(join(REPO_ROOT, 'core/dist/cli.js')) && existsSync(join(REPO_ROOT, 'plugins/routing/dist/index.js'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

const call = (url: string, body: unknown) => callOnNewConnection('POST', url, body);

const answer = (who: string) => ({
  json: { id: `c-${who}`, object: 'chat.completion', created: 1, model: who, choices: [{ index: 0, message: { role: 'assistant', content: `from ${who}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
});
const MSG = { messages: [{ role: 'user', content: 'hi' }] };

describe.skipIf(!runnable && !process.env.CI)('routing state under --workers 2', () => {
  let dir: string;
  let a: FakeUpstream; let b: FakeUpstream; let c: FakeUpstream;
  let child: ReturnType<typeof spawn>;
  let out = '';
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-routing-workers-'));
    a = await startFakeUpstream({ 'POST /v1/chat/completions': { status: 503, json: { error: { message: 'down' } } } });
    b = await startFakeUpstream({ 'POST /v1/chat/completions': [{ status: 429, headers: { 'retry-after': '600' }, json: { error: { message: 'slow down' } } }, answer('b')] });
    c = await startFakeUpstream({ 'POST /v1/chat/completions': answer('c') });
    const ep = (name: string, up: FakeUpstream) => ({ name, endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name, config: { openai_api_key: 'sk-workers', openai_api_base: `${up.url}/v1` } } });
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify({
      endpoints: [ep('a', a), ep('b', b), ep('c', c)],
      routes: [
        { name: 'broken-first', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'c' }], breaker: { consecutive_failures: 3, cooldown_ms: 600_000 } },
        { name: 'limited-first', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'b' }, { name: 'c' }] },
      ],
    }));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [CLI, 'start', '--config-path', configPath, '--port', String(port), '--workers', '2', '--grace-period', '2'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    for (let i = 0; i < 120 && (out.match(/listening on/g) ?? []).length < 2; i++) await sleep(250);
    expect((out.match(/listening on/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
    await Promise.all([a, b, c].filter(Boolean).map((u) => u.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a breaker opened by failures on both workers stays open for both', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await call(`${base}/endpoints/broken-first/invocations`, MSG);
      expect(res.status, `${res.text}\n${out}`).toBe(200);
      expect(res.headers['x-gatehouse-endpoint']).toBe('c');
    }
    // three failures in a row, counted across workers, opened it; per-worker counters would have let 3 more through
    expect(a.requests, out).toHaveLength(3);
  });

  it('a Retry-After cool-down seen by one worker holds on the other', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await call(`${base}/gateway/limited-first/invocations`, MSG);
      expect(res.headers['x-gatehouse-endpoint'], `${res.status} ${res.text}\n${out}`).toBe('c');
    }
    expect(b.requests, out).toHaveLength(1);
  });
});
