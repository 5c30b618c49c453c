import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  createHttpClient, type AttemptHooks, type Clock, type ClusterApi, type HttpClient, type Logger, type PrimaryContext,
  type Random, type SharedState,
} from '@gatehouse/sdk';
import { loadConfigFile, type ActivePlugin } from '../config/load.js';
import { StartupError } from '../config/errors.js';
import { Services } from '../container.js';
import { buildGeneration, type Generation, type Runtime } from '../generation.js';
import { attemptHooksOf } from '../pipeline/stages.js';
import { createLogger } from '../logger.js';
import { discover, findHostDir, type Discovery } from '../plugins/discovery.js';
import { localState, MemoryState, type PrimaryHandler } from '../shared-state.js';
import { idleCollector } from './idle-gc.js';
import { VERSION } from '../version.js';

export { VERSION };

export interface StartOptions {
  configPath: string;
  host?: string;
  port?: number;
  /** The host package whose dependencies are the installed plugins. */
  hostDir?: string;
  /** Use this discovery instead of reading the host package (the test gateway adds definitions to it). */
  discovery?: Discovery;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Watch the config file and swap in valid changes (default true). */
  watch?: boolean;
  /** Open a port (default true); without one, drive `handler` directly. */
  listen?: boolean;
  clock?: Clock;
  random?: Random;
  http?: HttpClient;
  /** Collect the heap after a burst, once idle (`server.idle_gc_seconds`). The CLI sets it; in-process gateways leave V8 alone. */
  releaseMemory?: boolean;
  /** Under `--workers`: state and requests relayed to the primary. */
  link?: { state: SharedState; call(channel: string, payload: unknown): Promise<unknown>; workerId: number };
}

export interface RunningGateway {
  url: string;
  port: number;
  server: Server | null;
  discovery: Discovery;
  /** The current generation's request listener. */
  handler(req: IncomingMessage, res: ServerResponse): void;
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

/** Run each active plugin's `primary` hook once; its handlers answer `ctx.cluster.request`. */
export async function runPrimaries(plugins: ActivePlugin[], logger: Logger, workers: number, handlers: Map<string, PrimaryHandler>, shutdown: Array<() => unknown>): Promise<void> {
  for (const { def, config } of plugins) {
    if (!def.primary) continue;
    const pctx: PrimaryContext = {
      name: def.name, config, logger: logger.child({ plugin: def.name }), workers,
      handle: (channel, fn) => { handlers.set(`${def.name}:${channel}`, fn); },
      onShutdown: (fn) => { shutdown.push(fn); },
    };
    await def.primary(pctx);
  }
}

/**
 * Connections the kernel may queue before the gateway accepts them (capped by net.core.somaxconn).
 * Node's default of 511 overflows when 1,000 clients connect at once while the event loop is busy:
 * the dropped SYNs are retried after a second, so stream starts queued for seconds (the bench
 * counted 1,784 drops in one run of 1,000 simultaneous streams).
 */
const LISTEN_BACKLOG = 4096;

const listenError = (e: NodeJS.ErrnoException, host: string, port: number) =>
  e.code === 'EADDRINUSE' ? new StartupError('GW_ERR_LISTEN', [`${host}:${port} is already in use; stop what listens there or choose another port with --port`])
    : e.code === 'EACCES' ? new StartupError('GW_ERR_LISTEN', [`not allowed to listen on ${host}:${port}; choose a port above 1024 with --port`])
      : e;

export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger();
  const configPath = resolve(options.configPath);
  const discovery = options.discovery ?? discover(options.hostDir ?? resolveHostDir(undefined, env));
  const clock = options.clock ?? { now: () => Date.now() };
  const http = options.http ?? createHttpClient({ hooksOf: attemptHooksOf });
  const handlers = new Map<string, PrimaryHandler>();
  const shutdown: Array<() => unknown> = [];
  const cluster: ClusterApi = options.link
    ? { isWorker: true, workerId: options.link.workerId, request: (ch, p) => options.link!.call(ch, p) as never }
    : {
      isWorker: false, workerId: null,
      request: async (ch, p) => {
        const h = handlers.get(ch);
        if (!h) throw new Error(`no primary handler for '${ch}'`);
        return h(p, null) as never;
      },
    };
  const rt: Runtime = {
    services: new Services(), logger, http, clock, random: options.random ?? { next: Math.random },
    shared: options.link?.state ?? localState(new MemoryState(clock)), cluster, kept: new Map(), env,
  };

  const load = async () => {
    const config = await loadConfigFile(configPath, discovery, env);
    for (const w of config.warnings) logger.warn(w);
    return config;
  };
  const first = await load();
  if (!options.link) await runPrimaries(first.plugins, logger, 1, handlers, shutdown);
  let current = await buildGeneration(first, rt);
  let shuttingDown = false;
  const retiring = new Set<Generation>();
  const collector = options.releaseMemory
    ? idleCollector(() => shuttingDown || current.inflight() > 0 || [...retiring].some((g) => g.inflight() > 0), () => current.config.server.idleGcMs, logger)
    : null;
  rt.idle = collector?.idle;
  collector?.idle();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (shuttingDown) res.setHeader('connection', 'close');
    current.handler(req, res);
  };

  const disposeKept = async () => {
    for (const [key, k] of rt.kept) {
      try { await k.dispose?.(k.value); } catch (e) { logger.warn('error while disposing', { key, error: (e as Error).message }); }
    }
    for (const fn of shutdown) { try { await fn(); } catch (e) { logger.warn('error while shutting down', { error: (e as Error).message }); } }
    if (!options.http) await http.close().catch(() => undefined);
  };
  let server: Server | null = null;
  let url = 'http://in-process';
  let port = 0;
  if (options.listen !== false) {
    const srv = createServer({ requestTimeout: 0, headersTimeout: 60_000 }, handler);
    server = srv;
    srv.keepAliveTimeout = 65_000;
    const host = options.host ?? '127.0.0.1';
    try {
      await new Promise<void>((resolveListen, reject) => {
        srv.once('error', (e) => reject(listenError(e as NodeJS.ErrnoException, host, options.port ?? 5000)));
        srv.listen({ port: options.port ?? 5000, host, backlog: LISTEN_BACKLOG }, () => { srv.removeAllListeners('error'); resolveListen(); });
      });
    } catch (e) {
      await current.close();
      await disposeKept();
      throw e;
    }
    const addr = srv.address() as AddressInfo;
    url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    port = addr.port;
  }

  const retire = (gen: Generation) => {
    retiring.add(gen);
    void gen.drained().then(() => gen.close()).finally(() => retiring.delete(gen));
  };

  const fileHash = () => createHash('sha256').update(readFileSync(configPath)).digest('hex');
  let lastHash = fileHash();
  let reloading: Promise<boolean> | null = null;
  let again = false;
  const reloadOnce = async (): Promise<boolean> => {
    try {
      if (!existsSync(configPath)) { logger.warn(`${configPath} deleted; keeping the current configuration`); return false; }
      const hash = fileHash();
      if (hash === lastHash) return false;
      const next = await buildGeneration(await load(), rt);
      lastHash = hash;
      const old = current;
      current = next;
      retire(old);
      logger.info('configuration reloaded', { endpoints: next.config.endpoints.length, routes: next.config.routes.length });
      return true;
    } catch (e) {
      logger.error(`Invalid configuration: ${(e as Error).message}; keeping the current configuration`);
      return false;
    }
  };
  // One reload at a time; a change that arrives during one runs right after it (never lost, never stuck).
  const reload = (): Promise<boolean> => {
    if (reloading) { again = true; return reloading; }
    const run = async (): Promise<boolean> => {
      let changed = false;
      do { again = false; changed = (await reloadOnce()) || changed; } while (again);
      return changed;
    };
    reloading = run().finally(() => { reloading = null; });
    return reloading;
  };

  // Watch the directory of the file the config path resolves to (a Kubernetes ConfigMap swaps a `..data` symlink), and the link itself.
  const watchers: FSWatcher[] = [];
  if (options.watch !== false) {
    let timer: NodeJS.Timeout | undefined;
    const poke = () => { clearTimeout(timer); timer = setTimeout(() => void reload(), 150); };
    const dirs = new Set([dirname(configPath)]);
    try { dirs.add(dirname(realpathSync(configPath))); } catch { /* deleted */ }
    for (const dir of dirs) {
      try {
        const w = watch(dir, (_event, filename) => {
          const f = filename?.toString();
          if (!f || f === basename(configPath) || f === '..data' || dir !== dirname(configPath)) poke();
        });
        w.on('error', (e) => logger.warn('config watcher failed', { error: e.message }));
        watchers.push(w);
      } catch (e) { logger.warn('cannot watch the config', { dir, error: (e as Error).message }); }
    }
  }

  const close = async (gracePeriodMs = 30_000) => {
    if (shuttingDown) return;
    shuttingDown = true;
    collector?.stop();
    for (const w of watchers) w.close();
    const closed = server ? new Promise<void>((r) => server!.close(() => r())) : Promise.resolve();
    server?.closeIdleConnections();
    const idleSweep = setInterval(() => server?.closeIdleConnections(), 100);
    const drained = Promise.all([current.drained(), ...[...retiring].map((g) => g.drained())]);
    let timedOut = false;
    await Promise.race([drained, new Promise<void>((r) => setTimeout(() => { timedOut = true; r(); }, gracePeriodMs).unref())]);
    clearInterval(idleSweep);
    if (timedOut) logger.warn(`grace period of ${gracePeriodMs} ms ended with ${current.inflight()} request(s) in flight; closing them`);
    server?.closeAllConnections();
    await closed;
    await current.close();
    await disposeKept();
  };

  return { url, port, server, discovery, handler, current: () => current, reload, close };
}
