/**
 * `--workers`: the primary replaces a worker that is stuck (missed heartbeats) or dead, and
 * SIGHUP reloads the config in every worker. Runs the built CLI as users do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../test/helpers/gateway.js';

const built = existsSync(join(REPO_ROOT, 'core/dist/cli.js'));
const freePort = () => new Promise<number>((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
const cfg = (names: string[]) => `endpoints:\n${names.map((n) => `  - {name: ${n}, endpoint_type: llm/v1/chat, model: {provider: mock}}\n`).join('')}`;

let child: ChildProcess | undefined;
afterAll(() => { child?.kill('SIGKILL'); });

describe.skipIf(!built)('gatehouse start --workers 2', () => {
  it('replaces a stuck worker, keeps serving, and reloads every worker on SIGHUP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-workers-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, cfg(['chat']));
    const port = await freePort();
    child = spawn(process.execPath, [join(REPO_ROOT, 'core/bin/gatehouse.js'), 'start', '--config-path', file, '--port', String(port), '--workers', '2', '--no-watch'], {
      cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GATEHOUSE_HEARTBEAT_MS: '200', GATEHOUSE_LOG_FORMAT: 'json' },
    });
    let logs = '';
    child.stderr!.on('data', (d) => { logs += d; });
    const lines = () => logs.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return { msg: l }; } });
    const listening = () => lines().filter((l) => String(l.msg).includes('listening on'));
    await vi.waitFor(() => expect(listening().length).toBe(2), { timeout: 15_000, interval: 50 });
    const base = `http://127.0.0.1:${port}`;
    const list = async () => (await (await fetch(`${base}/api/2.0/endpoints/`)).json() as { endpoints: Array<{ name: string }> }).endpoints.map((e) => e.name);
    expect(await list()).toEqual(['chat']);

    // A worker whose event loop stops (SIGSTOP stands in for the `n: 2^31` case) is replaced.
    const stuck = listening()[0].pid as number;
    process.kill(stuck, 'SIGSTOP');
    await vi.waitFor(() => expect(logs).toContain('missed its heartbeats'), { timeout: 10_000, interval: 50 });
    await vi.waitFor(() => expect(listening().length).toBe(3), { timeout: 15_000, interval: 50 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status)));
    expect(answers).toEqual(Array(10).fill(200));

    // SIGHUP: an explicit reload, in every worker (the file watcher is off).
    writeFileSync(file, cfg(['chat', 'second']));
    child.kill('SIGHUP');
    await vi.waitFor(() => expect(lines().filter((l) => l.msg === 'configuration reloaded').length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 50 });
    const seen = await Promise.all(Array.from({ length: 6 }, () => list()));
    for (const s of seen) expect(s).toEqual(['chat', 'second']);

    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
