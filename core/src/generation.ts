import Koa from 'koa';
import Router from '@koa/router';
import {
  defineErrorCodes, GatewayError, STAGES, type AttemptPolicy, type Capability, type ClusterApi, type Clock,
  type EndpointInfo, type GatewayApi, type Guard, type HttpClient, type Invocation, type InvokeRequest, type InvokeResult, type Logger,
  type Observer, type PluginContext, type PluginDefinition, type Random, type RouteDefinition, type RouteInfo, type SharedState,
  type Stage, type StageMiddleware, type SurfaceDefinition, type UnifiedChunk,
} from '@gatehouse/sdk';
import type { ActivePlugin, GatewayConfig } from './config/load.js';
import type { Services } from './container.js';
import { orderPlugins } from './plugins/load.js';
import { compose, type Step } from './pipeline/compose.js';
import { INTERNALS, internals, kernelStages, type BoundEndpoint, type InvocationInternals } from './pipeline/stages.js';
import { exchangeOf, mountRoutes, scrub, scrubError } from './server/koa.js';
import { VERSION } from './version.js';

const CAPABILITIES: Capability[] = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'];
const TYPE_LABEL = { 'llm/v1/chat': 'a chat', 'llm/v1/completions': 'a completions', 'llm/v1/embeddings': 'an embeddings' } as const;

/** What lives for the whole process, across configurations. */
export interface Runtime {
  services: Services;
  logger: Logger;
  http: HttpClient;
  clock: Clock;
  random: Random;
  shared: SharedState;
  cluster: ClusterApi;
  env: NodeJS.ProcessEnv;
  /** `ctx.keep` values, by plugin and key. */
  kept: Map<string, { value: unknown; dispose?: (v: unknown) => unknown }>;
  /** Called when this process has no request in flight any more (see idle-gc.ts). */
  idle?: () => void;
}

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

interface Registry {
  surfaces: Map<string, SurfaceDefinition>;
  routes: Array<{ def: RouteDefinition; owner: string }>;
  joined: Array<{ stage: Stage; order: 'pre' | 'post'; mw: StageMiddleware; owner: string }>;
  policies: AttemptPolicy[];
  observers: Observer[];
  guard: { fn: Guard; owner: string } | null;
  closers: Array<() => Promise<void> | void>;
}

/** Bind one provider instance per endpoint. */
function bindProviders(config: GatewayConfig, rt: Runtime, closers: Registry['closers']): Map<string, BoundEndpoint> {
  const bound = new Map<string, BoundEndpoint>();
  for (const ep of config.endpoints) {
    const instance = ep.provider.create({
      config: ep.providerConfig,
      model: ep.info.model,
      endpoint: { name: ep.info.name, endpoint_type: ep.info.endpoint_type },
      http: rt.http,
      logger: rt.logger.child({ endpoint: ep.info.name, provider: ep.info.model.provider }),
      timeoutMs: ep.timeoutMs,
    });
    if (instance.close) closers.push(() => instance.close!());
    bound.set(ep.info.name, { def: ep.provider, instance });
  }
  return bound;
}

function gatewayApi(config: GatewayConfig, bound: Map<string, BoundEndpoint>, reg: Registry, run: (inv: Invocation) => Promise<void>): GatewayApi {
  const endpoints: EndpointInfo[] = config.endpoints.map((e) => e.info);
  const endpointsByName = new Map(endpoints.map((e) => [e.name, e]));
  const routesByName = new Map<string, RouteInfo>(config.routes.map((r) => [r.name, r]));
  const api: GatewayApi = {
    version: VERSION,
    httpRoutes: () => reg.routes.map(({ def, owner }) => ({
      method: def.method, path: def.path, surface: def.surface ?? '', access: def.access ?? 'caller', openapi: def.openapi ?? null, owner,
    })),
    endpoints: () => endpoints,
    routes: () => config.routes,
    lookup(name) {
      const e = endpointsByName.get(name);
      if (e) return { kind: 'endpoint', info: e };
      const r = routesByName.get(name);
      return r ? { kind: 'route', info: r } : undefined;
    },
    capabilities(name) {
      const b = bound.get(name);
      return b ? CAPABILITIES.filter((c) => typeof b.instance[c] === 'function') : [];
    },
    async invoke(req: InvokeRequest): Promise<InvokeResult> {
      const found = api.lookup(req.target);
      if (!found) throw new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The endpoint '${req.target}' is not present or active on the server. Please verify the endpoint name.`, { param: 'model' });
      const type = found.kind === 'endpoint' ? found.info.endpoint_type : found.info.task_type;
      if (req.expectType && type !== req.expectType) {
        throw new GatewayError('GW_ERR_ENDPOINT_TYPE_MISMATCH', `Endpoint '${req.target}' is not ${TYPE_LABEL[req.expectType]} endpoint.`, { param: 'model' });
      }
      const x = exchangeOf(req.req);
      // A second invocation of one request (a list prompt) gets a signal of its own: attempts find their upstream headers and timing by signal.
      const inv = new Call(req, type, found, x?.invocation ? childSignal(req.req.signal) : req.req.signal);
      if (x) x.invocation = inv;
      await run(inv);
      if (!inv.result) throw new GatewayError('GW_ERR_INTERNAL', 'the pipeline produced no result');
      if (Symbol.asyncIterator in inv.result) return { kind: 'stream', chunks: inv.result as AsyncIterable<UnifiedChunk>, invocation: inv };
      internals(inv).usage = (inv.result as { usage?: InvocationInternals['usage'] }).usage ?? null;
      return { kind: 'json', value: inv.result, invocation: inv };
    },
  };
  return api;
}

function childSignal(parent: AbortSignal): AbortSignal {
  const ac = new AbortController();
  if (parent.aborted) ac.abort(parent.reason);
  else parent.addEventListener('abort', () => ac.abort(parent.reason), { once: true });
  return ac.signal;
}

/**
 * One pipeline run. A class, not an object literal: its methods live on the prototype, so a
 * request allocates no closures for them, and `state` (a Map) only when a plugin uses it.
 */
class Call implements Invocation {
  readonly [INTERNALS]: InvocationInternals;
  readonly id: string;
  readonly surface: string;
  readonly path: string;
  readonly target: string;
  readonly type: EndpointInfo['endpoint_type'];
  readonly headers: Invocation['headers'];
  stream = false;
  readonly client: { ip: string };
  readonly caller: Invocation['caller'];
  readonly signal: AbortSignal;
  readonly startedAt = performance.now();
  readonly route: RouteInfo | null;
  endpoint: EndpointInfo | null;
  candidates: EndpointInfo[] = [];
  readonly attempts: Invocation['attempts'] = [];
  readonly events: Invocation['events'] = [];
  body: Record<string, unknown> = {};
  result: Invocation['result'] = null;
  readonly #req: InvokeRequest['req'];
  #state: Map<string, unknown> | undefined;

  constructor(req: InvokeRequest, type: EndpointInfo['endpoint_type'], found: NonNullable<ReturnType<GatewayApi['lookup']>>, signal: AbortSignal) {
    const r = req.req;
    this[INTERNALS] = { body: req.body, req: r, modelNamesTarget: req.modelNamesTarget ?? false, usage: null, chunks: 0, firstChunkAt: null, attempt: 0 };
    this.#req = r;
    this.id = r.id; this.surface = req.surface; this.path = r.path; this.target = req.target; this.type = type;
    this.headers = r.headers; this.client = { ip: r.ip }; this.caller = r.caller; this.signal = signal;
    this.route = found.kind === 'route' ? found.info : null;
    this.endpoint = found.kind === 'endpoint' ? found.info : null;
  }

  get state(): Map<string, unknown> { return (this.#state ??= new Map()); }
  setHeader(name: string, value: string): void { this.#req.setHeader(name, value); }
  /** During an attempt, the event names it (`attempt`), unless the caller did: tracing places it on that attempt's span. */
  event(name: string, attributes?: Record<string, unknown>): void {
    const n = this[INTERNALS].attempt;
    this.events.push({ name, at: Date.now(), attributes: n && !(attributes && 'attempt' in attributes) ? { ...attributes, attempt: n } : attributes });
  }
}

/** Register the feature plugins in dependency order, each with its narrow context. */
async function registerPlugins(config: GatewayConfig, rt: Runtime, services: Services, api: GatewayApi, reg: Registry): Promise<PluginDefinition[]> {
  const ordered = orderPlugins(config.plugins.map((p) => p.def), new Set(config.installed));
  const byName = new Map<string, ActivePlugin>(config.plugins.map((p) => [p.def.name, p]));
  for (const def of ordered) {
    const active = byName.get(def.name)!;
    const ctx: PluginContext = {
      name: def.name,
      config: active.config,
      logger: rt.logger.child({ plugin: def.name }),
      gateway: api,
      provide: (token, value) => services.provide(token, value, def.name),
      resolve: (token) => services.resolve(token),
      resolveAll: (token) => services.resolveAll(token),
      use: (stage, mw, options) => {
        if (!STAGES.includes(stage)) throw new Error(`unknown stage '${stage}' (stages: ${STAGES.join(', ')})`);
        reg.joined.push({ stage, order: options?.order ?? 'pre', mw, owner: def.name });
      },
      attempts: (policy) => { reg.policies.push(policy); },
      observe: (observer) => { reg.observers.push(observer); },
      guard: (fn) => {
        if (reg.guard) throw new Error(`a guard is already installed by '${reg.guard.owner}'`);
        reg.guard = { fn, owner: def.name };
      },
      route: (r) => { reg.routes.push({ def: r, owner: def.name }); },
      surface: (s) => {
        if (reg.surfaces.has(s.name)) throw new Error(`surface '${s.name}' is already defined`);
        reg.surfaces.set(s.name, s);
      },
      onClose: (fn) => { reg.closers.push(fn); },
      keep: <T>(key: string, make: () => T, dispose?: (v: T) => unknown): T => {
        const id = `${def.name}:${key}`;
        let k = rt.kept.get(id);
        if (!k) { k = { value: make(), dispose: dispose as ((v: unknown) => unknown) | undefined }; rt.kept.set(id, k); }
        return k.value as T;
      },
      shared: rt.shared,
      cluster: { isWorker: rt.cluster.isWorker, workerId: rt.cluster.workerId, request: (ch, p) => rt.cluster.request(`${def.name}:${ch}`, p) },
      clock: rt.clock,
      random: rt.random,
      scrub: (value) => scrub(value, config.secrets),
      env: rt.env,
    };
    try {
      if (def.errors) defineErrorCodes(def.name, def.errors);
      await def.register(ctx);
    } catch (e) {
      throw new GatewayError('GW_ERR_PLUGIN_LOAD', `plugin '${def.name}' (package ${active.entry.packageName}) failed to register: ${(e as Error).message}`, { cause: e });
    }
  }
  return ordered;
}

/** Stage by stage: plugin 'pre' steps, the kernel's step, plugin 'post' steps. */
function pipelineSteps(reg: Registry, kernel: Record<Stage, StageMiddleware | null>): Step[] {
  const steps: Step[] = [];
  for (const stage of STAGES) {
    for (const order of ['pre', 'post'] as const) {
      if (order === 'post' && kernel[stage]) steps.push({ stage, owner: 'core', mw: kernel[stage]! });
      for (const j of reg.joined) if (j.stage === stage && j.order === order) steps.push({ stage, owner: j.owner, mw: j.mw });
    }
  }
  return steps;
}

export async function buildGeneration(config: GatewayConfig, rt: Runtime): Promise<Generation> {
  const services = rt.services.child();
  const reg: Registry = { surfaces: new Map(), routes: [], joined: [], policies: [], observers: [], guard: null, closers: [] };
  const bound = bindProviders(config, rt, reg.closers);
  let run: (inv: Invocation) => Promise<void> = async () => { throw new Error('pipeline not built'); };
  const api = gatewayApi(config, bound, reg, (inv) => run(inv));
  const ordered = await registerPlugins(config, rt, services, api, reg);

  const kernel = kernelStages({
    endpoint: (n) => bound.get(n), policies: reg.policies, observers: reg.observers, clock: rt.clock,
    scrubError: (err) => scrubError(err, config.secrets),
    onObserverError: (e, what) => rt.logger.warn(`observer failed (${what})`, { error: (e as Error).message }),
  });
  const steps = pipelineSteps(reg, kernel);
  run = compose(steps);

  let inflight = 0;
  let drainWaiters: Array<() => void> = [];
  const app = new Koa();
  app.silent = true;
  app.on('error', (err: { code?: string; message?: string }) => {
    if (err?.code === 'ERR_STREAM_PREMATURE_CLOSE' || err?.code === 'ECONNRESET') return;
    rt.logger.error('unhandled http error', { error: err?.message });
  });
  app.use(async (_ctx, next) => {
    inflight++;
    try { await next(); } finally {
      if (--inflight === 0) {
        rt.idle?.();
        if (drainWaiters.length) { const w = drainWaiters; drainWaiters = []; w.forEach((f) => f()); }
      }
    }
  });
  mountRoutes({
    app, router: new Router({ strict: true, sensitive: true }), routes: reg.routes, api, surfaces: reg.surfaces, guard: reg.guard?.fn ?? null,
    observers: reg.observers, logger: rt.logger, secrets: config.secrets, limits: config.server, now: () => rt.clock.now(),
  });

  return {
    config, api, app,
    handler: app.callback(),
    pluginOrder: ordered.map((d) => d.name),
    pipeline: steps.map((s) => ({ stage: s.stage, step: s.owner })),
    inflight: () => inflight,
    drained: () => (inflight === 0 ? Promise.resolve() : new Promise<void>((r) => drainWaiters.push(r))),
    async close() {
      for (const fn of reg.closers.reverse()) {
        try { await fn(); } catch (e) { rt.logger.warn('error while closing', { error: (e as Error).message }); }
      }
    },
  };
}
