/** Start the built CLI as a process, call it on fresh connections, stop it by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO_ROOT, 'core/bin/gatehouse.js');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback port the kernel just handed out (not a random one: the ephemeral range is in use by the suite's own connections). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }

/**
 * One request on its own connection (agent: false), so a cluster spreads requests over its workers.
 * Kernel-free: test/helpers/gateway.ts re-exports it as `callOnNewConnection`.
 */
export function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(url, { method, agent: false, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, tries = 120, everyMs = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try { const v = await probe(); if (v !== undefined) return v; } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface GatewayProcess {
  url: string;
  configPath: string;
  child: ChildProcess;
  /** Everything it printed (JSON log lines). */
  out: { text: string };
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** `gatehouse start` on a given port with a config object; resolves once `listeners` processes listen. */
export async function startCli(config: Record<string, unknown>, opts: { port: number; workers?: number; env?: Record<string, string> }): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rl-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const args = [CLI, 'start', '--config-path', configPath, '--host', '127.0.0.1', '--port', String(opts.port), '--no-watch', '--grace-period', '2'];
  if (opts.workers) args.push('--workers', String(opts.workers));
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_FORMAT: 'json', GATEHOUSE_LOG_LEVEL: 'info', ...opts.env },
  });
  const out = { text: '' };
  child.stdout!.on('data', (d) => { out.text += d; });
  child.stderr!.on('data', (d) => { out.text += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const gp: GatewayProcess = {
    url: `http://127.0.0.1:${opts.port}`, configPath, child, out,
    logs: () => out.text.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        const t = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); }, 8000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const listeners = opts.workers ?? 1;
  try {
    await until(`${listeners} listening`, async () => {
      if (child.exitCode !== null) throw new Error(`gatehouse exited with ${child.exitCode}:\n${out.text}`);
      return (out.text.match(/listening on/g) ?? []).length >= listeners ? true : undefined;
    }, 300);
  } catch (e) { await gp.stop(); throw e; }
  return gp;
}
