import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import {
  GatewayError, STAGES, Tokens, type Capability, type EndpointInfo, type GatewayApi, type HttpClient, type Invocation,
  type InvokeRequest, type InvokeResult, type Logger, type PluginContext, type RouteDefinition, type RouteInfo,
  type Stage, type StageMiddleware, type SurfaceDefinition, type UnifiedChunk,
} from '@gatehouse/sdk';
import type { GatewayConfig } from './config/load.js';
import type { Services } from './container.js';
import { orderPlugins } from './plugins/load.js';
import { compose } from './pipeline/compose.js';
import { kernelStages, type BoundEndpoint } from './pipeline/stages.js';
import { mountRoutes } from './server/koa.js';
import { mlflowRoutes, mlflowSurface } from './surfaces/mlflow.js';
import { VERSION } from './version.js';

const CAPABILITIES: Capability[] = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'];
const TYPE_LABEL = { 'llm/v1/chat': 'a chat', 'llm/v1/completions': 'a completions', 'llm/v1/embeddings': 'an embeddings' } as const;

/** One configuration, fully built: providers bound, plugins registered, pipeline composed, app ready. Swapped whole on reload. */
export interface Generation {
  readonly config: GatewayConfig;
  readonly api: GatewayApi;
  readonly app: Koa;
  readonly handler: ReturnType<Koa['callback']>;
  /** Plugin names in registration order. */
  readonly pluginOrder: string[];
  /** The pipeline as it runs: stage by stage, who joins where. */
  readonly pipeline: Array<{ stage: Stage; step: string }>;
  inflight(): number;
  /** Resolves when no request of this generation is in flight. */
  drained(): Promise<void>;
  close(): Promise<void>;
}

export interface BuildOptions {
  config: GatewayConfig;
  services: Services;
  logger: Logger;
  http: HttpClient;
}

export async function buildGeneration({ config, services: rootServices, logger, http }: BuildOptions): Promise<Generation> {
  const services = rootServices.child();
  const closers: Array<() => Promise<void> | void> = [];

  // Providers, one instance per endpoint.
  const bound = new Map<string, BoundEndpoint>();
  const endpointInfos: EndpointInfo[] = [];
  for (const ep of config.endpoints) {
    const instance = ep.provider.create({
      config: ep.model.config,
      model: { name: ep.model.name, provider: ep.model.provider },
      endpoint: { name: ep.name, endpoint_type: ep.endpoint_type },
      http,
      logger: logger.child({ endpoint: ep.name, provider: ep.model.provider }),
      timeoutMs: ep.timeoutMs,
    });
    if (instance.close) closers.push(() => instance.close!());
    bound.set(ep.name, { def: ep.provider, instance });
    endpointInfos.push(Object.freeze({ name: ep.name, endpoint_type: ep.endpoint_type, model: { name: ep.model.name, provider: ep.model.provider }, limit: ep.limit }));
  }
  const endpointsByName = new Map(endpointInfos.map((e) => [e.name, e]));
  const routes: RouteInfo[] = config.routes.map((r) => Object.freeze(r));
  const routesByName = new Map(routes.map((r) => [r.name, r]));

  const surfaces = new Map<string, SurfaceDefinition>([['mlflow', mlflowSurface]]);
  const routeDefs: Array<{ def: RouteDefinition; owner: string }> = mlflowRoutes().map((def) => ({ def, owner: 'core' }));
  const joined: Array<{ stage: Stage; order: 'pre' | 'post'; mw: StageMiddleware; owner: string }> = [];

  let run: (inv: Invocation) => Promise<void> = async () => { throw new Error('pipeline not built'); };
  let inflight = 0;
  let drainWaiters: Array<() => void> = [];

  const api: GatewayApi = {
    version: VERSION,
    httpRoutes: () => routeDefs.map(({ def, owner }) => ({ method: def.method, path: def.path, surface: def.surface ?? 'mlflow', openapi: def.openapi ?? false, owner })),
    endpoints: () => endpointInfos,
    routes: () => routes,
    lookup(name) {
      const e = endpointsByName.get(name);
      if (e) return { kind: 'endpoint', info: e };
      const r = routesByName.get(name);
      return r ? { kind: 'route', info: r } : undefined;
    },
    capabilities(name) {
      const b = bound.get(name);
      if (!b) return [];
      return CAPABILITIES.filter((c) => typeof b.instance[c] === 'function');
    },
    async invoke(req: InvokeRequest): Promise<InvokeResult> {
      const found = api.lookup(req.target);
      if (!found) throw new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The endpoint '${req.target}' is not present or active on the server. Please verify the endpoint name.`, { param: 'model' });
      const type = found.kind === 'endpoint' ? found.info.endpoint_type : found.info.task_type;
      if (req.expectType && type !== req.expectType) {
        throw new GatewayError('GW_ERR_ENDPOINT_TYPE_MISMATCH', `Endpoint '${req.target}' is not ${TYPE_LABEL[req.expectType]} endpoint.`, { param: 'model' });
      }
      let body = req.body;
      if (req.modelNamesTarget && body && typeof body === 'object' && !Array.isArray(body)) {
        const { model: _m, ...rest } = body as Record<string, unknown>;
        body = rest;
      }
      const inv: Invocation = {
        id: randomUUID(),
        surface: req.surface,
        path: req.path,
        target: req.target,
        type,
        stream: false,
        client: req.client,
        signal: req.signal,
        startedAt: performance.now(),
        route: found.kind === 'route' ? found.info : null,
        endpoint: found.kind === 'endpoint' ? found.info : null,
        body: body as Record<string, unknown>,
        result: null,
        state: new Map(),
      };
      await run(inv);
      if (!inv.result) throw new GatewayError('GW_ERR_INTERNAL', 'the pipeline produced no result');
      return Symbol.asyncIterator in inv.result
        ? { kind: 'stream', chunks: inv.result as AsyncIterable<UnifiedChunk>, invocation: inv }
        : { kind: 'json', value: inv.result, invocation: inv };
    },
  };
  services.provide(Tokens.Gateway, api);
  services.provide(Tokens.Config, Object.freeze({ file: config.file }));

  // Feature plugins, in dependency order.
  const ordered = orderPlugins(config.plugins.map((p) => p.def), new Set(config.plugins.map((p) => p.def.name)));
  const byName = new Map(config.plugins.map((p) => [p.def.name, p]));
  for (const def of ordered) {
    const active = byName.get(def.name)!;
    const plog = logger.child({ plugin: def.name });
    const ctx: PluginContext = {
      name: def.name,
      config: active.config,
      logger: plog,
      gateway: api,
      provide: (token, value) => services.provide(token, value, def.name),
      resolve: (token) => services.resolve(token),
      resolveAll: (token) => services.resolveAll(token),
      use: (stage, mw, options) => {
        if (!STAGES.includes(stage)) throw new Error(`plugin '${def.name}': unknown stage '${stage}' (stages: ${STAGES.join(', ')})`);
        joined.push({ stage, order: options?.order ?? 'pre', mw, owner: def.name });
      },
      route: (r) => routeDefs.push({ def: r, owner: def.name }),
      surface: (s) => {
        if (surfaces.has(s.name)) throw new Error(`plugin '${def.name}': surface '${s.name}' is already defined`);
        surfaces.set(s.name, s);
      },
      onClose: (fn) => closers.push(fn),
    };
    try { await def.register(ctx); } catch (e) {
      throw new GatewayError('GW_ERR_PLUGIN_LOAD', `plugin '${def.name}' (package ${active.entry.packageName}) failed to register: ${(e as Error).message}`, { cause: e });
    }
  }

  // The pipeline: stage by stage, plugin 'pre' steps, the kernel's step, plugin 'post' steps.
  const kernel = kernelStages({ endpoint: (n) => bound.get(n) });
  const chain: StageMiddleware[] = [];
  const pipeline: Array<{ stage: Stage; step: string }> = [];
  for (const stage of STAGES) {
    for (const order of ['pre', 'post'] as const) {
      if (order === 'post' && kernel[stage]) { chain.push(kernel[stage]!); pipeline.push({ stage, step: 'core' }); }
      for (const j of joined) if (j.stage === stage && j.order === order) { chain.push(j.mw); pipeline.push({ stage, step: j.owner }); }
    }
  }
  run = compose(chain);

  // The HTTP app.
  const app = new Koa();
  app.silent = true;
  app.on('error', (err: { code?: string; message?: string }) => {
    if (err?.code === 'ERR_STREAM_PREMATURE_CLOSE' || err?.code === 'ECONNRESET') return;
    logger.error('unhandled http error', { error: err?.message });
  });
  app.use(async (_ctx, next) => {
    inflight++;
    try { await next(); } finally {
      if (--inflight === 0 && drainWaiters.length) { const w = drainWaiters; drainWaiters = []; w.forEach((f) => f()); }
    }
  });
  const router = new Router({ strict: true });
  mountRoutes({ app, router, routes: routeDefs, api, surfaces, logger, secrets: config.secrets });

  return {
    config, api, app,
    handler: app.callback(),
    pluginOrder: ordered.map((d) => d.name),
    pipeline,
    inflight: () => inflight,
    drained: () => (inflight === 0 ? Promise.resolve() : new Promise<void>((r) => drainWaiters.push(r))),
    async close() {
      for (const fn of closers.reverse()) {
        try { await fn(); } catch (e) { logger.warn('error while closing', { error: (e as Error).message }); }
      }
    },
  };
}
