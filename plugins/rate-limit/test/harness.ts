/**
 * Drive the plugin without a kernel: a PluginContext that records what the plugin joins
 * (stages, attempt policies, observers, routes) over a fake SharedState and a manual clock.
 */
import {
  defineErrorCodes, type AttemptPolicy, type Caller, type EndpointInfo, type Invocation, type Observer, type PluginContext,
  type PluginDefinition, type RequestOutcome, type RouteDefinition, type RouteInfo, type SharedState, type StageMiddleware, type Usage,
} from '@gatehouse/sdk';
import { fakeShared, ManualClock } from './fakes.js';

export interface Harness {
  clock: ManualClock;
  shared: SharedState;
  logs: string[];
  admit: StageMiddleware[];
  policies: AttemptPolicy[];
  observers: Observer[];
  routes: RouteDefinition[];
  provided: Map<string, unknown>;
  /** Registers another generation (a reload) over the same process state. */
  reload(config: { endpoints: EndpointInfo[]; routes?: RouteInfo[]; section?: Record<string, unknown> }): Promise<Harness>;
}

export const endpoint = (name: string, limit: Record<string, unknown> | null, model = 'gpt-4o-mini'): EndpointInfo => Object.freeze({
  name, endpoint_type: 'llm/v1/chat', model: { name: model, provider: 'openai' },
  limit: limit ? { key: null, ...limit } as EndpointInfo['limit'] : null, defaults: {}, slices: limit ? { limit } : {},
});

export const route = (name: string, destinations: string[], limit?: Record<string, unknown>): RouteInfo => Object.freeze({
  name, task_type: 'llm/v1/chat', destinations: destinations.map((d) => ({ name: d })), routing_strategy: 'TRAFFIC_SPLIT', slices: limit ? { limit } : {},
});

export async function harness(plugin: PluginDefinition, config: { endpoints: EndpointInfo[]; routes?: RouteInfo[]; section?: Record<string, unknown> },
  proc?: { clock: ManualClock; shared: SharedState; kept: Map<string, unknown>; logs: string[] }): Promise<Harness> {
  if (plugin.errors) defineErrorCodes(plugin.name, plugin.errors);
  const clock = proc?.clock ?? new ManualClock();
  const shared = proc?.shared ?? fakeShared(clock);
  const kept = proc?.kept ?? new Map<string, unknown>();
  const logs = proc?.logs ?? [];
  const h: Harness = {
    clock, shared, logs, admit: [], policies: [], observers: [], routes: [], provided: new Map(),
    reload: (c) => harness(plugin, c, { clock, shared, kept, logs }),
  };
  const log = (level: string) => (msg: string) => { logs.push(`${level}: ${msg}`); };
  const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  const all = [...config.endpoints, ...(config.routes ?? [])];
  const ctx: PluginContext = {
    name: plugin.name,
    config: config.section ?? {},
    logger,
    gateway: {
      version: 'test',
      httpRoutes: () => [],
      endpoints: () => config.endpoints,
      routes: () => config.routes ?? [],
      lookup: (n: string) => {
        const e = config.endpoints.find((x) => x.name === n);
        if (e) return { kind: 'endpoint' as const, info: e };
        const r = (config.routes ?? []).find((x) => x.name === n);
        return r ? { kind: 'route' as const, info: r } : undefined;
      },
      invoke: () => { throw new Error('not in the harness'); },
      capabilities: () => [],
    },
    provide: (t, v) => { h.provided.set(t.id, v); },
    resolve: (t) => h.provided.get(t.id) as never,
    resolveAll: () => [],
    use: (stage, mw) => { if (stage === 'admit') h.admit.push(mw); else throw new Error(`unexpected stage ${stage}`); },
    attempts: (p) => { h.policies.push(p); },
    observe: (o) => { h.observers.push(o); },
    guard: () => { throw new Error('no guard expected'); },
    route: (d) => { h.routes.push(d); },
    surface: () => { throw new Error('no surface expected'); },
    onClose: () => {},
    keep: <T>(key: string, make: () => T) => { if (!kept.has(key)) kept.set(key, make()); return kept.get(key) as T; },
    shared,
    cluster: { isWorker: false, workerId: null, request: async () => { throw new Error('no primary'); } },
    clock,
    random: { next: () => 0.5 },
    scrub: <T>(value: T): T => value,
    env: process.env,
  };
  void all;
  await plugin.register(ctx);
  return h;
}

export interface FakeCall {
  inv: Invocation;
  headers: Record<string, string>;
  /** Run admit, then one attempt per endpoint until one passes `before`; returns the error thrown, if any. */
  run(): Promise<unknown>;
  /** Finish the call as the kernel's writer would. */
  finish(usage: Usage | null, status?: number): void;
}

export function call(h: Harness, opts: {
  target: EndpointInfo | RouteInfo; candidates?: EndpointInfo[]; ip?: string; headers?: Record<string, string>; caller?: Caller | null;
  body?: Record<string, unknown>; stream?: boolean; failAttempt?: (n: number) => Error | null;
}): FakeCall {
  const headers: Record<string, string> = {};
  const isRoute = 'destinations' in opts.target;
  const events: Array<{ name: string; at: number; attributes?: Record<string, unknown> }> = [];
  const inv = {
    id: `req-${Math.random().toString(36).slice(2)}`, surface: 'mlflow', path: `/endpoints/${opts.target.name}/invocations`, target: opts.target.name,
    type: 'llm/v1/chat', headers: opts.headers ?? {}, setHeader: (n: string, v: string) => { headers[n.toLowerCase()] = v; },
    events,
    event(name: string, attributes?: Record<string, unknown>) { events.push({ name, at: h.clock.now(), attributes }); },
    stream: opts.stream ?? false, client: { ip: opts.ip ?? '127.0.0.1' }, caller: opts.caller ?? null, signal: new AbortController().signal,
    startedAt: 0, route: isRoute ? opts.target as RouteInfo : null, endpoint: isRoute ? null : opts.target as EndpointInfo,
    candidates: [] as EndpointInfo[], attempts: [] as Invocation['attempts'][number][],
    body: opts.body ?? { messages: [{ role: 'user', content: 'hello world' }] }, result: null, state: new Map(),
  } as unknown as Invocation;
  const fc: FakeCall = {
    inv, headers,
    async run() {
      try {
        const chain = async (i: number): Promise<void> => { if (i < h.admit.length) await h.admit[i]!(inv, () => chain(i + 1)); };
        await chain(0);
        const candidates = opts.candidates ?? (isRoute ? [] : [opts.target as EndpointInfo]);
        let last: unknown = null;
        for (const endpoint of candidates) {
          const attempt = { n: inv.attempts.length + 1, endpoint, startedAt: h.clock.now(), upstreamHeaders: {}, durationMs: 0, upstreamMs: 0, upstreamStatus: null, error: null } as Invocation['attempts'][number];
          (inv.attempts as unknown[]).push(attempt);
          try {
            for (const p of h.policies) await p.before?.(inv, attempt);
            const fail = opts.failAttempt?.(attempt.n);
            if (fail) throw fail;
            inv.endpoint = endpoint;
            return null;
          } catch (e) { (attempt as { error: unknown }).error = e; last = e; }
        }
        return last;
      } catch (e) { return e; }
    },
    finish(usage, status = 200) {
      const outcome = { id: inv.id, status, usage, invocation: inv, stream: inv.stream } as unknown as RequestOutcome;
      for (const o of h.observers) o.finish?.(outcome);
    },
  };
  return fc;
}

/** Call a route the plugin added. */
export async function get(h: Harness, path: string, params: Record<string, string>, opts: { ip?: string; query?: Record<string, string>; body?: unknown; method?: string } = {}) {
  const def = h.routes.find((r) => r.path === path && r.method === (opts.method ?? 'GET'));
  if (!def) throw new Error(`no route ${path}`);
  const req = {
    id: 'r', method: def.method, path, params, query: opts.query ?? {}, headers: {}, ip: opts.ip ?? '127.0.0.1', signal: new AbortController().signal,
    caller: null, setHeader() {}, json: async () => opts.body,
  };
  return def.handler(req, null as never);
}

/** Let fire-and-forget work (the finish observer's debit) run. */
export const settle = () => new Promise((r) => setTimeout(r, 20));
