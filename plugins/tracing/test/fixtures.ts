/** Fakes for unit tests: an invocation, its outcome, and a PluginContext that records what the plugin joins. */
import type {
  Attempt, AttemptPolicy, EndpointInfo, Invocation, InvocationEvent, Observer, PluginContext, RequestOutcome,
  RouteDefinition, Stage, StageMiddleware,
} from '@gatehouse/sdk';
import { GatewayError } from '@gatehouse/sdk';

export const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

export function endpoint(name = 'chat', provider = 'openai', model = 'gpt-4o-mini'): EndpointInfo {
  return { name, endpoint_type: 'llm/v1/chat', model: { name: model, provider }, limit: null, defaults: {}, slices: {} };
}

export function invocation(over: Partial<Invocation> & { headers?: Record<string, string> } = {}): Invocation & { responseHeaders: Record<string, string> } {
  const responseHeaders: Record<string, string> = {};
  const events: InvocationEvent[] = [];
  const inv = {
    id: 'req-1',
    surface: 'mlflow',
    path: '/endpoints/chat/invocations',
    target: 'chat',
    type: 'llm/v1/chat',
    headers: {},
    setHeader(n: string, v: string) { responseHeaders[n.toLowerCase()] = v; },
    event(name: string, attributes?: Record<string, unknown>) { events.push({ name, at: Date.now(), attributes }); },
    stream: false,
    client: { ip: '127.0.0.1' },
    caller: null,
    signal: new AbortController().signal,
    startedAt: performance.now(),
    route: null,
    endpoint: endpoint(),
    candidates: [],
    attempts: [] as Attempt[],
    events,
    body: { messages: [{ role: 'user', content: 'Explain MLflow' }], temperature: 0.2 },
    result: null,
    state: new Map(),
    responseHeaders,
    ...over,
  };
  return inv as Invocation & { responseHeaders: Record<string, string> };
}

export function attempt(n: number, ep: EndpointInfo, startedAt: number, durationMs: number, error: GatewayError | null = null, upstreamStatus: number | null = 200): Attempt {
  return { n, endpoint: ep, startedAt, upstreamHeaders: {}, durationMs, upstreamMs: durationMs * 0.9, upstreamStatus, error };
}

export function outcome(inv: Invocation | null, over: Partial<RequestOutcome> = {}): RequestOutcome {
  return {
    id: inv?.id ?? 'req-x',
    method: 'POST',
    path: inv?.path ?? '/health',
    route: '/endpoints/:name/invocations',
    surface: 'mlflow',
    status: 200,
    code: null,
    message: null,
    startedAt: Date.now() - 50,
    durationMs: 50,
    ttfbMs: 40,
    upstreamMs: 30,
    stream: false,
    chunks: 0,
    bytes: 100,
    aborted: false,
    client: { ip: '127.0.0.1' },
    caller: null,
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
    invocation: inv,
    ...over,
  };
}

export const chatResponse = (content = 'MLflow is an open source platform.') => ({
  id: 'chatcmpl-1', object: 'chat.completion' as const, created: 1, model: 'gpt-4o-mini-2024',
  choices: [{ index: 0, message: { role: 'assistant', content, tool_calls: null, refusal: null }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
});

/** A PluginContext that records registrations; `run` drives one request through the joined stages. */
export function fakeContext(config: Record<string, unknown>, opts: { random?: () => number; now?: () => number; workerId?: number | null } = {}) {
  const uses: Array<{ stage: Stage; mw: StageMiddleware; order?: string }> = [];
  const policies: AttemptPolicy[] = [];
  const observers: Observer[] = [];
  const routes: RouteDefinition[] = [];
  const closers: Array<() => unknown> = [];
  const kept = new Map<string, { value: unknown; dispose?: (v: any) => unknown }>();
  const ctx = {
    name: 'tracing',
    config,
    logger: silent,
    gateway: {} as never,
    provide() {}, resolve() { throw new Error('no'); }, resolveAll: () => [],
    use(stage: Stage, mw: StageMiddleware, o?: { order?: 'pre' | 'post' }) { uses.push({ stage, mw, order: o?.order }); },
    attempts(p: AttemptPolicy) { policies.push(p); },
    observe(o: Observer) { observers.push(o); },
    guard() {},
    route(d: RouteDefinition) { routes.push(d); },
    surface() {},
    onClose(fn: () => unknown) { closers.push(fn); },
    keep<T>(key: string, make: () => T, dispose?: (v: T) => unknown): T {
      if (!kept.has(key)) kept.set(key, { value: make(), dispose });
      return kept.get(key)!.value as T;
    },
    shared: {} as never,
    cluster: { isWorker: false, workerId: opts.workerId ?? null, request: async () => undefined },
    clock: { now: opts.now ?? (() => Date.now()) },
    random: { next: opts.random ?? Math.random },
  } as unknown as PluginContext;

  /** The kernel's chain, flattened: every stage's `pre` middleware, then the stage's own step. */
  async function run(inv: Invocation, steps: Partial<Record<Stage, (inv: Invocation) => Promise<void> | void>> = {}) {
    const stages: Stage[] = ['receive', 'admit', 'route', 'invoke', 'respond'];
    const chain: StageMiddleware[] = [];
    for (const s of stages) {
      for (const u of uses.filter((x) => x.stage === s)) chain.push(u.mw);
      const step = steps[s];
      chain.push(async (i, next) => { if (step) await step(i); await next(); });
    }
    const dispatch = (k: number): Promise<void> => (chain[k] ? chain[k]!(inv, () => dispatch(k + 1)) : Promise.resolve());
    await dispatch(0);
  }

  return {
    ctx, uses, policies, observers, routes, run,
    finish(o: RequestOutcome) { for (const ob of observers) ob.finish?.(o); },
    async close() { for (const c of closers) await c(); for (const k of kept.values()) await k.dispose?.(k.value); },
    route(method: string, path: string) { return routes.find((r) => r.method === method && r.path === path)!; },
  };
}

/** A RouteRequest for calling a route handler directly. */
export function routeRequest(query: Record<string, string> = {}, params: Record<string, string> = {}) {
  return {
    id: 'r', method: 'GET', path: '/', params, query, headers: {}, ip: '127.0.0.1',
    signal: new AbortController().signal, caller: null, setHeader() {}, json: async () => ({}),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { GatewayError };
