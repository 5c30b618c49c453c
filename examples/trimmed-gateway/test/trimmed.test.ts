/**
 * The trimmed gateway: `npm start` serves with only the plugins the package depends on,
 * `plugins list` shows exactly those, and a config using a missing plugin's feature is refused
 * naming the package to install.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../../../core/bin/gatehouse.js', import.meta.url));

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

/** The CLI from this package's folder (the host package is found from the working directory). */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: HERE, timeout: 30_000, env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'error' } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'gatehouse-trimmed-')); });
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

describe('examples/trimmed-gateway', () => {
  it('`plugins list` shows exactly the kernel\'s chosen few: openai-compat, rate-limit and mock', async () => {
    const { code, out } = await cli(['plugins', 'list']);
    expect(code, out).toBe(0);
    expect(out).toContain(`host package: ${HERE.replace(/\/$/, '')}`);
    const rows = out.split('\n').filter((l) => / (plugin|provider) /.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 4));
    expect(rows).toEqual([
      ['openai-compat', 'plugin', '@gatehouse/plugin-openai-compat', '0.2.0'],
      ['rate-limit', 'plugin', '@gatehouse/plugin-rate-limit', '0.2.0'],
      ['mock', 'provider', '@gatehouse/provider-mock', '0.2.0'],
    ]);
  });

  it('`npm start` serves the OpenAI API with the limiter, and nothing of the plugins it left out', async () => {
    const port = await freePort();
    // Its own process group, so the gateway npm started is stopped with it (by this group's id).
    const child = spawn('npm', ['start', '--silent', '--', '--port', String(port)], {
      cwd: HERE, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise((r) => child.on('exit', r));
    const base = `http://127.0.0.1:${port}`;
    try {
      let up = false;
      for (let i = 0; i < 150 && !up && child.exitCode === null; i++) {
        up = await fetch(`${base}/v1/models`).then((r) => r.ok, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect(up, out).toBe(true);
      const models = await (await fetch(`${base}/v1/models`)).json() as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(['chat', 'embeddings']);
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Hello!' }] }),
      });
      const body = await res.json() as any;
      expect(res.status).toBe(200);
      expect(body.choices[0].message.content).toBe('This is a mock response from Gatehouse. You said: Hello!');
      // The limiter is installed and enforces the endpoint's limit (100 per minute).
      expect(res.headers.get('ratelimit-policy')).toMatch(/q=100;w=60/);
      // No MLflow surface, no docs UI, no metrics: those plugins are not installed.
      for (const path of ['/health', '/api/2.0/endpoints/', '/docs', '/metrics']) {
        expect([path, (await fetch(`${base}${path}`)).status]).toEqual([path, 404]);
      }
    } finally {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      await exited;
    }
  });

  it.each([
    ['a routes: entry', 'routes:\n  - name: split\n    task_type: llm/v1/chat\n    destinations:\n      - {name: chat, traffic_percentage: 100}\n', '@gatehouse/plugin-routing'],
    ['a tracing: section', 'tracing:\n  sampling_rate: 0.2\n', '@gatehouse/plugin-tracing'],
    ['a metrics: section', 'metrics:\n  enabled: true\n', '@gatehouse/plugin-metrics'],
  ])('a config with %s is refused, naming the package to install', async (_what, extra, pkg) => {
    const file = join(tmp, `${pkg.replace(/\W/g, '_')}.yaml`);
    writeFileSync(file, `endpoints:\n  - name: chat\n    endpoint_type: llm/v1/chat\n    model:\n      provider: mock\n${extra}`);
    const start = await cli(['start', '--config-path', file, '--port', String(await freePort())]);
    expect(start.code, start.out).toBe(2);
    expect(start.out).toContain(`install ${pkg}`);
    expect(start.out).not.toContain('listening');
  });
});
