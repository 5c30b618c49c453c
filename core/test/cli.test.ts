import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/index.js';
import { REPO_ROOT } from '../../test/helpers/gateway.js';
import { freePort } from '../../test/helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-cli-'));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const good = file('good.yaml', 'endpoints:\n  - {name: chat, endpoint_type: llm/v1/chat, model: {provider: mock, config: {chunk_delay_ms: 100}}}\ndocs-ui: {enabled: false}\nopenai-compat: {enabled: false}\n');
const bad = file('bad.yaml', 'endpoints:\n  - {name: chat, endpoint_type: llm/v1/chat, model: {provider: nope}}\n');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
  return { out: () => out.join(''), err: () => err.join('') };
}

describe('gatehouse CLI', () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('--version and --help', async () => {
    const c = capture();
    expect(await main(['--version'])).toBe(0);
    expect(await main(['--help'])).toBe(0);
    expect(c.out()).toMatch(/^0\.2\.0\n/);
    expect(c.out()).toContain('gatehouse start --config-path FILE');
  });

  it('config validate: 0 for a valid file, 2 and the message for an invalid one', async () => {
    const c = capture();
    expect(await main(['config', 'validate', good, '--root', REPO_ROOT])).toBe(0);
    expect(c.out()).toContain('is valid: 1 endpoint(s), 0 route(s)');
    expect(await main(['config', 'validate', bad, '--root', REPO_ROOT])).toBe(2);
    expect(c.err()).toMatch(/^Invalid gateway configuration: .*bad\.yaml:2:\d+: endpoints\[0\]\.model\.provider: The provider 'nope' is not supported\./m);
  });

  it('start: exit 2 on an invalid config, before listening', async () => {
    const c = capture();
    expect(await main(['start', '--config-path', bad, '--port', '0', '--root', REPO_ROOT])).toBe(2);
    expect(c.err()).toContain('Invalid gateway configuration:');
  });

  it('start: the config path may come from MLFLOW_DEPLOYMENTS_CONFIG', async () => {
    const c = capture();
    vi.stubEnv('MLFLOW_DEPLOYMENTS_CONFIG', bad);
    expect(await main(['start', '--port', '0', '--root', REPO_ROOT])).toBe(2);
    vi.unstubAllEnvs();
    expect(c.err()).toContain('bad.yaml');
  });

  it('plugins list: name, kind, package and version of each discovered plugin', async () => {
    const c = capture();
    expect(await main(['plugins', 'list', '--root', REPO_ROOT, '--config-path', good])).toBe(0);
    expect(c.out()).toMatch(/^openai\s+provider\s+@gatehouse\/provider-openai\s+0\.2\.0$/m);
    expect(c.out()).toMatch(/^amazon-bedrock\s+provider\s+@gatehouse\/provider-bedrock\s+0\.2\.0$/m);
    // Disabled in the config is told apart from not installed; the pipeline is printed stage by stage.
    expect(c.out()).toMatch(/^docs-ui\s+plugin\s+@gatehouse\/plugin-docs-ui\s+0\.2\.0\s+disabled in the config$/m);
    expect(c.out()).toMatch(/^plugin order: /m);
    expect(c.out()).toMatch(/^pipeline:\n\s+receive\s+.*core/m);
    expect(c.out()).toMatch(/^\s+invoke\s+.*core$/m);
  });

  it('start on a port in use: one line naming the address, exit 2', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const c = capture();
    try {
      expect(await main(['start', '--config-path', good, '--port', String(port), '--root', REPO_ROOT, '--no-watch'])).toBe(2);
    } finally { blocker.close(); }
    expect(c.err().trim().split('\n').at(-1)).toBe(`gatehouse: 127.0.0.1:${port} is already in use; stop what listens there or choose another port with --port`);
    expect(c.err()).not.toContain('    at ');
  });

  it('unknown commands exit 2', async () => {
    capture();
    expect(await main(['frobnicate'])).toBe(2);
  });
});

const built = existsSync(join(REPO_ROOT, 'core/dist/cli.js'));

describe.skipIf(!built)('gatehouse start as a process (built CLI)', () => {
  it('on SIGTERM stops accepting, lets an in-flight stream finish, and exits 0', async () => {
    // A port the kernel just handed out, not a random one: 32768–40000 is in Linux's ephemeral range,
    // where the suite's own outgoing connections live (CI failed here once: never 'listening on').
    const port = await freePort();
    const child = spawn(process.execPath, [join(REPO_ROOT, 'core/bin/gatehouse.js'), 'start', '--config-path', good, '--port', String(port), '--grace-period', '10'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stderr.on('data', (d) => { logs += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await vi.waitFor(() => { if (!logs.includes('listening on')) throw new Error(`not listening yet; its log:\n${logs}`); }, { timeout: 10_000, interval: 50 });
      const res = await fetch(`http://127.0.0.1:${port}/endpoints/chat/invocations`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'one two three four five' }], stream: true }),
      });
      const body = res.text();
      await new Promise((r) => setTimeout(r, 250));
      child.kill('SIGTERM');
      const text = await body;
      const events = text.split('\n\n').filter(Boolean).map((b) => JSON.parse(b.slice(6)));
      const content = events.filter((e) => e.choices.length > 0);
      expect(content.at(-1).choices[0].finish_reason).toBe('stop');
      expect(content.map((e) => e.choices[0].delta.content ?? '').join('')).toContain('one two three four five');
      expect(await exited).toBe(0);
      expect(logs).toContain('SIGTERM received');
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally { child.kill('SIGKILL'); }
  });
});
