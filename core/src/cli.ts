import 'reflect-metadata';
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { STAGES, type Logger } from '@gatehouse/sdk';
import { StartupError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import { createLogger } from './logger.js';
import { discover } from './plugins/discovery.js';
import { loadPlugin, orderPlugins } from './plugins/load.js';
import { resolveHostDir, runPrimaries, startGateway } from './server/server.js';
import { MemoryState, servePrimary, workerLink, type PrimaryHandler } from './shared-state.js';
import { VERSION } from './version.js';

/** The usage text, shared with bin/gatehouse.js (which answers `--help` and `--version` without loading the kernel). */
const HELP = readFileSync(new URL('../help.txt', import.meta.url), 'utf8').trimEnd().replace('{VERSION}', VERSION);

let piped = false;
/** A reader that stops early (`gatehouse plugins list | head -1`) ends the command quietly, as Unix tools do. */
const out = (s: string) => {
  if (!piped) { piped = true; process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; }); }
  process.stdout.write(s + '\n');
};
const err = (s: string) => process.stderr.write(s + '\n');

function configPathFrom(v: string | undefined): string | undefined {
  return v ?? process.env.MLFLOW_DEPLOYMENTS_CONFIG ?? process.env.MLFLOW_GATEWAY_CONFIG ?? process.env.GATEHOUSE_CONFIG;
}

function setupError(e: unknown): number {
  if (e instanceof StartupError) { err(e.code === 'GW_ERR_LISTEN' ? `gatehouse: ${e.message}` : `${e.title}: ${e.message}`); return 2; }
  if ((e as { code?: string })?.code === 'GW_ERR_PLUGIN_LOAD') { err(`Plugin failed: ${(e as Error).message}`); return 2; }
  err(`gatehouse: ${(e as Error)?.stack ?? String(e)}`);
  return 1;
}

/** Run the CLI; resolves to the exit code (start resolves only when the server stops). */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'config-path': { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '5000' },
        workers: { type: 'string', default: '1' },
        'grace-period': { type: 'string', default: '30' },
        'no-watch': { type: 'boolean', default: false },
        root: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) { err(`gatehouse: ${(e as Error).message}\n\n${HELP}`); return 2; }
  const { values: o, positionals: [cmd, sub, arg] } = parsed;
  if (o.version) { out(VERSION); return 0; }
  if (o.help || !cmd) { out(HELP); return o.help ? 0 : 2; }
  try {
    if (cmd === 'start') return await start(o);
    if (cmd === 'config' && sub === 'validate') {
      const file = configPathFrom(arg ?? o['config-path']);
      if (!file) { err('gatehouse config validate: name the config file'); return 2; }
      const config = await loadConfigFile(file, discover(resolveHostDir(o.root)));
      for (const w of config.warnings) err(`warning: ${w}`);
      out(`${file} is valid: ${config.endpoints.length} endpoint(s), ${config.routes.length} route(s), plugins: ${orderPlugins(config.plugins.map((p) => p.def), new Set()).map((d) => d.name).join(', ') || 'none'}`);
      return 0;
    }
    if (cmd === 'plugins' && sub === 'list') return await listPlugins(o.root, configPathFrom(o['config-path']));
    err(`gatehouse: unknown command '${[cmd, sub].filter(Boolean).join(' ')}'\n\n${HELP}`);
    return 2;
  } catch (e) { return setupError(e); }
}

async function listPlugins(root: string | undefined, configPath: string | undefined): Promise<number> {
  const d = discover(resolveHostDir(root));
  const config = configPath ? await loadConfigFile(configPath, d) : null;
  const active = new Set(config?.plugins.map((p) => p.def.name));
  const rows = d.entries.map((e) => [e.name, e.kind, e.packageName, e.version, e.kind === 'plugin' && config && !active.has(e.name) ? 'disabled in the config' : '']);
  const width = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['NAME', 'KIND', 'PACKAGE', 'VERSION'][i]!.length));
  const line = (r: string[]) => r.map((c, i) => (i < 4 ? c.padEnd(width[i]!) : c)).join('  ').trimEnd();
  out(`host package: ${d.hostDir}`);
  out(line(['NAME', 'KIND', 'PACKAGE', 'VERSION', '']));
  for (const r of rows.sort((a, b) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!))) out(line(r));
  if (!configPath) {
    const defs = await Promise.all(d.entries.filter((e) => e.kind === 'plugin').map((f) => loadPlugin(f)));
    out(`plugin order: ${orderPlugins(defs, new Set()).map((p) => p.name).join(' -> ') || '(no feature plugins)'}`);
    out('(give --config-path to see the pipeline a config runs)');
    return 0;
  }
  // Registration order follows declared dependencies; the pipeline is what registration produced.
  const gw = await startGateway({ configPath, discovery: d, listen: false, watch: false, logger: createLogger({ level: 'warn' }) });
  const gen = gw.current();
  out(`plugin order: ${gen.pluginOrder.join(' -> ') || '(no feature plugins)'}`);
  out('pipeline:');
  for (const stage of STAGES) out(`  ${stage.padEnd(8)} ${gen.pipeline.filter((s) => s.stage === stage).map((s) => s.step).join(' -> ') || '-'}`);
  await gw.close(0);
  return 0;
}

/** The cluster primary: plugins' primary hooks, shared state, workers kept alive (a dead or unresponsive one is replaced). */
async function primary(configPath: string, workers: number, root: string | undefined, logger: Logger): Promise<number> {
  const config = await loadConfigFile(configPath, discover(resolveHostDir(root)));
  const handlers = new Map<string, PrimaryHandler>();
  const shutdown: Array<() => unknown> = [];
  await runPrimaries(config.plugins, logger, workers, handlers, shutdown);
  servePrimary(new MemoryState({ now: () => Date.now() }), handlers, (e) => logger.warn('primary handler failed', { error: e.message }));
  const heartbeatMs = Number(process.env.GATEHOUSE_HEARTBEAT_MS ?? 2000);
  const lastSeen = new Map<number, number>();
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const spawn = () => cluster.fork();
    for (let i = 0; i < workers; i++) spawn();
    // A worker is watched from the moment it listens (start-up may take a while); then it must answer pings.
    cluster.on('listening', (w) => lastSeen.set(w.id, Date.now()));
    cluster.on('message', (w, msg: { gatehouse?: string }) => { if (msg?.gatehouse === 'pong' && lastSeen.has(w.id)) lastSeen.set(w.id, Date.now()); });
    const beat = setInterval(() => {
      for (const w of Object.values(cluster.workers ?? {})) {
        if (!w || !lastSeen.has(w.id)) continue;
        if (Date.now() - lastSeen.get(w.id)! > heartbeatMs * 5) {
          logger.error(`worker ${w.id} (pid ${w.process.pid}) missed its heartbeats for ${heartbeatMs * 5} ms; replacing it`);
          lastSeen.delete(w.id);
          w.process.kill('SIGKILL');
        } else if (w.isConnected()) w.send({ gatehouse: 'ping' });
      }
    }, heartbeatMs);
    cluster.on('exit', (w, code, signal) => {
      lastSeen.delete(w.id);
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearInterval(beat);
          void Promise.allSettled(shutdown.map((f) => f())).then(() => resolveExit(0));
        }
        return;
      }
      if (code === 2) { logger.error(`worker ${w.id} could not start (exit 2); stopping`); stopping = true; clearInterval(beat); stop(); resolveExit(2); return; }
      logger.error(`worker ${w.id} exited (${signal ?? code}); starting another`);
      spawn();
    });
    const stop = () => {
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) return;
      stopping = true;
      logger.info('stopping workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', () => { logger.info('SIGHUP: reloading the configuration in every worker'); for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send({ gatehouse: 'reload' }); });
  });
}

async function start(o: Record<string, string | boolean | undefined>): Promise<number> {
  const configPath = configPathFrom(o['config-path'] as string | undefined);
  if (!configPath) { err('gatehouse start: --config-path is required (or set MLFLOW_DEPLOYMENTS_CONFIG)'); return 2; }
  const port = Number(o.port);
  const workers = Number(o.workers);
  const grace = Number(o['grace-period']) * 1000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) { err(`gatehouse: invalid --port '${o.port}'`); return 2; }
  if (!Number.isInteger(workers) || workers < 1) { err(`gatehouse: invalid --workers '${o.workers}'`); return 2; }
  if (!Number.isFinite(grace) || grace < 0) { err(`gatehouse: invalid --grace-period '${o['grace-period']}'`); return 2; }
  const logger = createLogger({}, cluster.isWorker ? { worker: cluster.worker?.id, pid: process.pid } : {});
  if (workers > 1 && cluster.isPrimary) return primary(configPath, workers, o.root as string | undefined, logger);

  const link = cluster.isWorker ? { ...workerLink(), workerId: cluster.worker!.id } : undefined;
  let gwRef: { reload(): Promise<boolean> } | undefined;
  if (cluster.isWorker) {
    process.on('message', (msg: { gatehouse?: string }) => {
      if (msg?.gatehouse === 'ping') process.send?.({ gatehouse: 'pong' });
      else if (msg?.gatehouse === 'reload') void gwRef?.reload();
    });
  }
  const gw = await startGateway({ configPath, host: o.host as string, port, hostDir: o.root as string | undefined, logger, watch: !o['no-watch'], link, releaseMemory: true });
  const gen = gw.current();
  logger.info(`Gatehouse ${VERSION} listening on ${gw.url}`, {
    endpoints: gen.config.endpoints.map((e) => e.info.name),
    routes: gen.config.routes.map((r) => r.name),
    plugins: gen.pluginOrder,
  });
  logger.debug('pipeline', { steps: gen.pipeline.map((s) => `${s.stage}:${s.step}`) });
  gwRef = gw;
  if (!cluster.isWorker) process.on('SIGHUP', () => { logger.info('SIGHUP: reloading the configuration'); void gw.reload(); });
  return new Promise<number>((resolveExit) => {
    const stop = (signal: string) => {
      logger.info(`${signal} received; finishing in-flight requests (grace period ${grace / 1000} s)`);
      gw.close(grace).then(() => { logger.info('stopped'); cluster.worker?.disconnect(); resolveExit(0); }, (e) => { logger.error(String(e)); resolveExit(1); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
