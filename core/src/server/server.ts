import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHttpClient, Tokens, type HttpClient, type Logger } from '@gatehouse/sdk';
import { loadConfigFile } from '../config/load.js';
import { Services } from '../container.js';
import { buildGeneration, type Generation } from '../generation.js';
import { createLogger } from '../logger.js';
import { discover, findHostDir, type Discovery } from '../plugins/discovery.js';
import { VERSION } from '../version.js';

export { VERSION };

export interface StartOptions {
  configPath: string;
  host?: string;
  port?: number;
  /** The host package whose dependencies are the installed plugins. */
  hostDir?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Watch the config file and swap in valid changes (default true). */
  watch?: boolean;
}

export interface RunningGateway {
  url: string;
  port: number;
  server: Server;
  discovery: Discovery;
  current(): Generation;
  /** Re-read the config; a valid one is swapped in whole, an invalid one is logged and ignored. */
  reload(): Promise<boolean>;
  /** Stop accepting, let in-flight requests (streams included) finish within the grace period, then stop. */
  close(gracePeriodMs?: number): Promise<void>;
}

/** Where the installed plugins are listed: an explicit dir, GATEHOUSE_ROOT, the cwd's host package, or the one that installed this kernel. */
export function resolveHostDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.GATEHOUSE_ROOT) return resolve(env.GATEHOUSE_ROOT);
  const here = dirname(fileURLToPath(import.meta.url));
  return findHostDir(process.cwd()) ?? findHostDir(resolve(here, '..', '..', '..')) ?? process.cwd();
}


export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger();
  const configPath = resolve(options.configPath);
  const discovery = discover(options.hostDir ?? resolveHostDir(undefined, env));
  const services = new Services();
  const http: HttpClient = createHttpClient();
  services.provide(Tokens.Logger, logger);
  services.provide(Tokens.Clock, { now: () => Date.now() });
  services.provide(Tokens.HttpClient, http);

  const build = async () => {
    const config = await loadConfigFile(configPath, discovery, env);
    for (const w of config.warnings) logger.warn(w);
    return buildGeneration({ config, services, logger, http });
  };
  let current = await build();
  let shuttingDown = false;
  const retiring = new Set<Generation>();

  const server = createServer((req, res) => {
    if (shuttingDown) res.setHeader('connection', 'close');
    current.handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5000, options.host ?? '127.0.0.1', () => { server.off('error', reject); resolveListen(); });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;

  const retire = (gen: Generation) => {
    retiring.add(gen);
    void gen.drained().then(() => gen.close()).finally(() => retiring.delete(gen));
  };

  let lastHash = createHash('sha256').update(readFileSync(configPath)).digest('hex');
  let reloading: Promise<boolean> | null = null;
  const reload = (): Promise<boolean> => {
    reloading ??= (async () => {
      try {
        if (!existsSync(configPath)) { logger.warn(`${configPath} deleted; keeping the current configuration`); return false; }
        const hash = createHash('sha256').update(readFileSync(configPath)).digest('hex');
        if (hash === lastHash) return false;
        const next = await build();
        lastHash = hash;
        const old = current;
        current = next;
        retire(old);
        logger.info('configuration reloaded', { endpoints: next.config.endpoints.length, routes: next.config.routes.length });
        return true;
      } catch (e) {
        logger.error(`Invalid configuration: ${(e as Error).message}; keeping the current configuration`);
        return false;
      } finally { reloading = null; }
    })();
    return reloading;
  };

  let watcher: FSWatcher | undefined;
  if (options.watch !== false) {
    let timer: NodeJS.Timeout | undefined;
    watcher = watch(dirname(configPath), (_event, filename) => {
      if (filename && filename.toString() !== basename(configPath)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 150);
    });
    watcher.on('error', (e) => logger.warn('config watcher failed', { error: e.message }));
  }

  const close = async (gracePeriodMs = 30_000) => {
    if (shuttingDown) return;
    shuttingDown = true;
    watcher?.close();
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    const drained = Promise.all([current.drained(), ...[...retiring].map((g) => g.drained())]);
    let timedOut = false;
    await Promise.race([drained, new Promise<void>((r) => setTimeout(() => { timedOut = true; r(); }, gracePeriodMs).unref())]);
    clearInterval(idleSweep);
    if (timedOut) logger.warn(`grace period of ${gracePeriodMs} ms ended with ${current.inflight()} request(s) in flight; closing them`);
    server.closeAllConnections();
    await closed;
    await current.close();
    await http.close().catch(() => undefined);
  };

  return { url, port: addr.port, server, discovery, current: () => current, reload, close };
}
