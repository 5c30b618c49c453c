/**
 * Start the whole gateway in-process on 127.0.0.1 (random port) with every plugin the stock
 * distribution installs, from a config given as YAML text or an object.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLogger, startGateway, type LogLevel, type RunningGateway } from '@gatehouse/core';
import { REPO_ROOT } from './processes.js';

export { REPO_ROOT };

export interface TestGateway {
  url: string;
  gateway: RunningGateway;
  /** The config file, for reload tests. */
  configPath: string;
  /** Lines the gateway logged. */
  logs: string[];
  close(gracePeriodMs?: number): Promise<void>;
}

export async function startTestGateway(opts: {
  config: string | Record<string, unknown>;
  env?: Record<string, string>;
  hostDir?: string;
  watch?: boolean;
  logLevel?: LogLevel;
}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const configPath = join(dir, 'config.yaml');
  // The request log (on by default, to stdout) would print a line per test request: off unless a test configures it.
  const text = typeof opts.config === 'string' ? opts.config : stringify(opts.config);
  const quiet = !opts.hostDir && !/^request-log:/m.test(text);
  writeFileSync(configPath, quiet ? `${text}\nrequest-log: {enabled: false}\n` : text);
  const logs: string[] = [];
  const logger = createLogger({ level: opts.logLevel ?? 'debug', format: 'json', write: (l) => logs.push(l) });
  const gateway = await startGateway({
    configPath,
    port: 0,
    hostDir: opts.hostDir ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    logger,
    watch: opts.watch ?? false,
  });
  return {
    url: gateway.url,
    gateway,
    configPath,
    logs,
    async close(gracePeriodMs = 1000) {
      await gateway.close(gracePeriodMs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POST JSON and return status, headers and parsed body (or text). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Read an SSE response into its `data:` payloads (JSON-parsed where possible). */
export async function readSse(res: Response): Promise<any[]> {
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.trim()).map((block) => {
    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    try { return JSON.parse(data); } catch { return data; }
  });
}

export { call as callOnNewConnection, type Answer } from './processes.js';
