/**
 * A whole gateway in process, for plugin and provider authors: a config object plus plugin and
 * provider definitions (no installed packages needed), overridable services (clock, random,
 * http), driven without a port. Needs `@gatehouse/core` installed beside the sdk (an optional
 * peer dependency: only this test helper loads it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpClient } from '../http.js';
import type { Clock, GatewayApi, PluginDefinition, ProviderDefinition, Random } from '../plugin.js';

export interface TestGatewayOptions {
  /** The config, as YAML text or an object (serialised as JSON, which is YAML). */
  config: string | Record<string, unknown>;
  plugins?: PluginDefinition[];
  providers?: ProviderDefinition[];
  /** Also load the plugins and providers installed in this host package (default: none). */
  hostDir?: string;
  clock?: Clock;
  random?: Random;
  http?: HttpClient;
  env?: Record<string, string>;
  /** Open a real port too (for clients that need one, or disconnect tests). */
  listen?: boolean;
  /** Collect log lines (JSON) instead of printing them. */
  logs?: string[];
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined. */
  json: any;
  /** The `data:` payloads of an SSE body, JSON-parsed where possible. */
  events: any[];
}

export interface TestGateway {
  /** Drive the app without a port. */
  request(method: string, path: string, options?: { headers?: Record<string, string>; json?: unknown; body?: string }): Promise<TestResponse>;
  /** The base URL when `listen` was set. */
  url: string | null;
  gateway(): GatewayApi;
  /** Replace the config and reload; resolves to whether the new config was taken. */
  reload(config: string | Record<string, unknown>): Promise<boolean>;
  /** The pipeline as it runs: stage by stage, who joins where. */
  pipeline(): Array<{ stage: string; step: string }>;
  close(): Promise<void>;
}

const parseEvents = (text: string): any[] => text.split('\n\n').filter((b) => b.trim()).map((block) => {
  const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
  try { return JSON.parse(data); } catch { return data; }
});

/**
 * Start a gateway in process.
 * @example
 * const gw = await startTestGateway({ config: { endpoints: [...] }, plugins: [myPlugin], clock: fakeClock });
 * const r = await gw.request('POST', '/endpoints/chat/invocations', { json: { messages: [...] } });
 */
export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  // Typed loosely on purpose: the kernel depends on the sdk, so the sdk cannot name the kernel's types.
  const core: any = await import('@gatehouse/core' as string);
  const inject = (await import('light-my-request')).default;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-testgw-'));
  const configPath = join(dir, 'config.yaml');
  const write = (c: string | Record<string, unknown>) => writeFileSync(configPath, typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  write(options.config);
  const discovery: { hostDir: string; entries: unknown[]; providers: Map<string, unknown>; plugins: Map<string, unknown> } = options.hostDir
    ? core.discover(options.hostDir)
    : { hostDir: dir, entries: [], providers: new Map(), plugins: new Map() };
  const entry = (kind: 'plugin' | 'provider', name: string, definition: unknown) =>
    ({ kind, name, packageName: `(test) ${name}`, version: '0.0.0', packageDir: dir, file: join(dir, `${name}.js`), definition });
  for (const p of options.plugins ?? []) discovery.plugins.set(p.name, entry('plugin', p.name, p));
  for (const p of options.providers ?? []) for (const n of [p.name, ...p.aliases]) discovery.providers.set(core.normaliseName(n), entry('provider', n, p));
  discovery.entries.push(...discovery.plugins.values(), ...discovery.providers.values());
  const logs = options.logs;
  const gw = await core.startGateway({
    configPath, discovery, env: { ...process.env, ...options.env }, watch: false, listen: options.listen ?? false, port: 0,
    clock: options.clock, random: options.random, http: options.http,
    logger: core.createLogger({ level: logs ? 'debug' : 'warn', format: 'json', write: logs ? (l: string) => logs.push(l) : undefined }),
  });
  return {
    url: options.listen ? gw.url : null,
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      let payload = o.body;
      if (o.json !== undefined) { payload = JSON.stringify(o.json); headers['content-type'] ??= 'application/json'; }
      const res = await inject(gw.handler as never, { method: method as 'GET', url: path, headers, payload });
      let json: any;
      try { json = JSON.parse(res.payload); } catch { json = undefined; }
      const isSse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      return { status: res.statusCode, headers: res.headers as TestResponse['headers'], text: res.payload, json, events: isSse ? parseEvents(res.payload) : [] };
    },
    gateway: () => gw.current().api,
    async reload(config) { write(config); return gw.reload(); },
    pipeline: () => gw.current().pipeline,
    async close() { await gw.close(0); rmSync(dir, { recursive: true, force: true }); },
  };
}
