/**
 * Prometheus metrics for the gateway: `GET /metrics` (prom-client), fed by the kernel's
 * observers, kept across reloads, summed across `--workers` in the cluster primary; and the
 * `x-gatehouse-overhead-ms` header on every pipeline answer.
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import { definePlugin, type Invocation, type PluginContext } from '@gatehouse/sdk';
import { overheadMs, parseListen } from './labels.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { serveMetrics } from './server.js';

export { createMetrics, type GatewayMetrics, type InvocationMark, STATE_KEY } from './metrics.js';
export { attemptKind, codeLabel, overheadMs, parseListen, statusClass, targetLabels, NONE, UNMATCHED, OTHER } from './labels.js';
export { serveMetrics } from './server.js';

export interface MetricsConfig {
  /** Serve `/metrics` on this `host:port` instead of the gateway's port (read at start-up). */
  listen?: string;
  /** Node's default process metrics (read at start-up). Default true. */
  default_metrics?: boolean;
}

/** The response header that carries the gateway's own time for the request, in milliseconds. */
export const OVERHEAD_HEADER = 'x-gatehouse-overhead-ms';

const OPENAPI = {
  summary: 'Prometheus metrics',
  description: 'The gateway\'s metrics in the Prometheus text format (summed over all workers). Needs the `admin` scope when an auth plugin guards the gateway.',
  tags: ['Observability'],
  responses: { 200: { description: 'Metrics in the Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
};

export default definePlugin<MetricsConfig>({
  name: 'metrics',
  config: {
    section: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen: { type: 'string', description: 'host:port to serve /metrics on, apart from the gateway port', examples: ['127.0.0.1:9464'] },
        default_metrics: { type: 'boolean', default: true },
      },
    },
    check({ section }) {
      if (typeof section.listen !== 'string') return [];
      try { parseListen(section.listen); return []; } catch (e) { return [{ path: ['metrics', 'listen'], message: (e as Error).message }]; }
    },
  },

  /** In the cluster primary: answer workers' `collect` with every worker's metrics summed, and serve `listen`. */
  async primary(pctx) {
    if (pctx.workers <= 1) return; // one process: register() serves the local registry itself
    const aggregator = new AggregatorRegistry();
    const collect = async () => ({ text: await aggregator.clusterMetrics(), contentType: aggregator.contentType as string });
    pctx.handle('collect', async () => (await collect()).text);
    const listen = pctx.config?.listen;
    if (typeof listen === 'string') {
      const srv = await serveMetrics(parseListen(listen), collect, (e) => pctx.logger.error(`metrics listener: ${e.message}`));
      pctx.logger.info(`metrics on ${srv.url}`);
      pctx.onShutdown(() => srv.close());
    }
  },

  async register(ctx) {
    const cfg = ctx.config ?? {};
    const m = ctx.keep('registry', () => makeMetrics(ctx, cfg), (v) => { v.registry.clear(); });
    m.generationStarted(ctx.clock.now());

    // Outermost in the pipeline, so errors of any stage get the header too; for streams next()
    // returns once the first chunk is there. A `then` on next()'s promise, not an async function
    // with try/finally: one promise per request instead of the async function's and its await's.
    const ready = (inv: Invocation): void => {
      const ms = overheadMs(performance.now(), inv);
      m.answerReady(inv, ms);
      inv.setHeader(OVERHEAD_HEADER, ms.toFixed(2));
    };
    ctx.use('receive', (inv, next) => {
      let p: Promise<void>;
      try { p = next(); } catch (e) { p = Promise.reject(e); }
      return p.then(() => ready(inv), (e: unknown) => { ready(inv); throw e; });
    }, { order: 'pre' });

    ctx.observe({
      attempt: (inv, a) => m.attempt(inv, a),
      finish: (o) => m.finish(o),
    });

    const collectLocal = async () => ({ text: await m.registry.metrics(), contentType: m.registry.contentType as string });
    if (typeof cfg.listen === 'string') {
      if (!ctx.cluster.isWorker) {
        // Like the primary's listener under --workers, the first configuration's address stays
        // for the life of the process; a reload that changes it takes effect at the next start.
        const listen = parseListen(cfg.listen);
        const kept = ctx.keep('listen', () => ({
          address: `${listen.host}:${listen.port}`,
          server: serveMetrics(listen, collectLocal, (e) => ctx.logger.error(`metrics listener: ${e.message}`)),
        }), (k) => k.server.then((s) => s.close(), () => undefined));
        const srv = await kept.server;
        if (kept.address !== `${listen.host}:${listen.port}`) ctx.logger.warn(`metrics.listen changed to ${cfg.listen}; /metrics stays on ${srv.url} until the gateway restarts`);
        else if (m.generations() === 1) ctx.logger.info(`metrics on ${srv.url}`);
      }
      return; // /metrics lives on its own address, not on the gateway's port
    }
    ctx.route({
      method: 'GET',
      path: '/metrics',
      access: 'admin',
      openapi: OPENAPI,
      handler: async () => {
        if (!ctx.cluster.isWorker) return collectLocal();
        return { text: await ctx.cluster.request<string>('collect'), contentType: Registry.PROMETHEUS_CONTENT_TYPE };
      },
    });
  },
});

function makeMetrics(ctx: PluginContext<MetricsConfig>, cfg: MetricsConfig): GatewayMetrics {
  const m = createMetrics({ defaultMetrics: cfg.default_metrics !== false });
  if (ctx.cluster.isWorker) {
    // prom-client's cluster protocol: the primary's AggregatorRegistry asks every worker over
    // the IPC channel; constructing one here installs the worker's answering listener, and
    // setRegistries makes it answer with this registry instead of prom-client's global one.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([m.registry]);
  }
  return m;
}
