import 'reflect-metadata';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import { createLogger } from './logger.js';
import { discover, PluginError } from './plugins/discovery.js';
import { loadPlugin, orderPlugins } from './plugins/load.js';
import { resolveHostDir, startGateway, VERSION } from './server/server.js';

const HELP = `gatehouse ${VERSION} — an AI gateway, wire-compatible with the MLflow AI Gateway

Usage:
  gatehouse start --config-path FILE [--host 127.0.0.1] [--port 5000] [--workers 1] [--grace-period 30] [--no-watch]
  gatehouse config validate FILE
  gatehouse plugins list [--config-path FILE]
  gatehouse --help | --version

Options:
  --config-path FILE   the gateway config (also MLFLOW_DEPLOYMENTS_CONFIG, MLFLOW_GATEWAY_CONFIG, GATEHOUSE_CONFIG)
  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port to listen on (default 5000)
  --workers N          worker processes sharing the port (default 1)
  --grace-period S     seconds to let in-flight requests finish on SIGTERM/SIGINT (default 30)
  --no-watch           do not reload the config when the file changes
  --root DIR           the package whose dependencies are the installed plugins (also GATEHOUSE_ROOT)

Exit codes: 0 ok, 1 unexpected failure, 2 invalid config or plugin set.`;

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function configPathFrom(v: string | undefined): string | undefined {
  return v ?? process.env.MLFLOW_DEPLOYMENTS_CONFIG ?? process.env.MLFLOW_GATEWAY_CONFIG ?? process.env.GATEHOUSE_CONFIG;
}

function setupError(e: unknown): number {
  if (e instanceof ConfigError) { err(`Invalid gateway configuration: ${e.message}`); return 2; }
  if (e instanceof PluginError) { err(`Invalid plugin set: ${e.message}`); return 2; }
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
  const rows = d.entries.map((e) => [e.name, e.kind, e.packageName, e.version]);
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['NAME', 'KIND', 'PACKAGE'][i]!.length));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(width[i]!) : c)).join('  ');
  out(`host package: ${d.hostDir}`);
  out(line(['NAME', 'KIND', 'PACKAGE', 'VERSION']));
  for (const r of rows.sort((a, b) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!))) out(line(r));
  // Registration order follows declared dependencies, never discovery order.
  const features = d.entries.filter((e) => e.kind === 'plugin');
  let order: string[];
  if (configPath) {
    const config = await loadConfigFile(configPath, d);
    order = orderPlugins(config.plugins.map((p) => p.def), new Set(features.map((f) => f.name))).map((p) => p.name);
  } else {
    const defs = await Promise.all(features.map((f) => loadPlugin(f)));
    order = orderPlugins(defs, new Set()).map((p) => p.name);
  }
  out(`plugin order: ${order.join(' -> ') || '(no feature plugins)'}`);
  return 0;
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
  const logger = createLogger({}, cluster.isWorker ? { worker: cluster.worker?.id } : {});

  if (workers > 1 && cluster.isPrimary) {
    // Validate once before forking, so a bad config fails fast with exit 2.
    await loadConfigFile(configPath, discover(resolveHostDir(o.root as string | undefined)));
    return new Promise<number>((resolveExit) => {
      let stopping = false;
      const spawn = () => cluster.fork();
      for (let i = 0; i < workers; i++) spawn();
      cluster.on('exit', (w, code, signal) => {
        if (stopping) {
          if (Object.keys(cluster.workers ?? {}).length === 0) resolveExit(0);
          return;
        }
        logger.error(`worker ${w.id} exited (${signal ?? code}); starting another`);
        if (code === 2) { stopping = true; resolveExit(2); return; }
        spawn();
      });
      const stop = () => {
        if (stopping) return;
        stopping = true;
        logger.info('stopping workers');
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  }

  const gw = await startGateway({ configPath, host: o.host as string, port, hostDir: o.root as string | undefined, logger, watch: !o['no-watch'] });
  const gen = gw.current();
  logger.info(`Gatehouse ${VERSION} listening on ${gw.url}`, {
    endpoints: gen.config.endpoints.map((e) => e.name),
    routes: gen.config.routes.map((r) => r.name),
    plugins: gen.pluginOrder,
  });
  logger.debug('pipeline', { steps: gen.pipeline.map((s) => `${s.stage}:${s.step}`) });
  return new Promise<number>((resolveExit) => {
    const stop = (signal: string) => {
      logger.info(`${signal} received; finishing in-flight requests (grace period ${grace / 1000} s)`);
      gw.close(grace).then(() => { logger.info('stopped'); cluster.worker?.disconnect(); resolveExit(0); }, (e) => { logger.error(String(e)); resolveExit(1); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
