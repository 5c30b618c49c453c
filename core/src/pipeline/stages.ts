/**
 * The request pipeline, in order. Every call — whatever surface it came from — runs these
 * stages; plugins join a stage `pre` (before the kernel's own step) or `post` (after it).
 * The table is a `Record<Stage, ...>`, so a stage added to the sdk without a line here does
 * not compile.
 */
import {
  GatewayError, toGatewayError, unsupportedCapability, type AttemptDecision, type AttemptHooks, type AttemptPolicy, type Attempt,
  type Capability, type Clock, type Invocation, type Observer, type ProviderDefinition, type ProviderInstance, type Stage,
  type StageMiddleware, type UnifiedChunk, type Usage, parameterAliases, validateRequest,
} from '@gatehouse/sdk';

export interface BoundEndpoint { def: ProviderDefinition; instance: ProviderInstance }

/** What the kernel keeps on an invocation besides the public fields. */
export interface InvocationInternals {
  /** The body given to `invoke` (a list prompt's item), or undefined: read the request's. */
  body: unknown;
  req: { json(): Promise<unknown> };
  modelNamesTarget: boolean;
  /** Summed from stream chunks or taken from the response. */
  usage: Usage | null;
  chunks: number;
  firstChunkAt: number | null;
  /** The number of the attempt in progress (0: none): `inv.event` names it, so tracing puts the event on that attempt's span. */
  attempt: number;
}
export const INTERNALS = Symbol('gatehouse.invocation');
/**
 * Where the kernel's HTTP client finds the current attempt's extra headers and timing sink: a
 * property of the invocation's signal. Not a WeakMap keyed by signal: one ephemeron per request
 * in a long-lived WeakMap made every scavenge walk the table until a full GC, which tripled GC
 * time under load.
 */
const HOOKS = Symbol('gatehouse.attemptHooks');
export const attemptHooksOf = (signal: AbortSignal): AttemptHooks | undefined => (signal as unknown as Record<symbol, AttemptHooks | undefined>)[HOOKS];
/** An attempt's hooks for the HTTP client: its extra upstream headers, and where its upstream time goes. */
class Timing implements AttemptHooks {
  constructor(private readonly attempt: Attempt) {}
  get headers(): Record<string, string> { return this.attempt.upstreamHeaders; }
  upstream(ms: number, status: number | null): void {
    this.attempt.upstreamMs += ms;
    if (status !== null) this.attempt.upstreamStatus = status;
  }
}
export const internals = (inv: Invocation): InvocationInternals => (inv as unknown as Record<symbol, InvocationInternals>)[INTERNALS]!;

export interface KernelStageDeps {
  endpoint(name: string): BoundEndpoint | undefined;
  policies: AttemptPolicy[];
  observers: Observer[];
  clock: Clock;
  /** Configured secrets out of an error before observers (traces, logs) see it. */
  scrubError(err: GatewayError): GatewayError;
  onObserverError(e: unknown, what: string): void;
}

const capabilityOf = (inv: Invocation): Capability => {
  switch (inv.type) {
    case 'llm/v1/chat': return inv.stream ? 'chatStream' : 'chat';
    case 'llm/v1/completions': return inv.stream ? 'completionsStream' : 'completions';
    default: return 'embeddings';
  }
};

const addUsage = (a: Usage | null, b: Usage): Usage => (a === null ? b : {
  prompt_tokens: b.prompt_tokens ?? a.prompt_tokens,
  completion_tokens: b.completion_tokens ?? a.completion_tokens,
  total_tokens: b.total_tokens ?? a.total_tokens,
});

/**
 * Start a stream and wait for its first chunk, so a failure before any output is an attempt
 * failure (fallback, retry, or a plain HTTP error). The wrapper also feeds observers and sums
 * usage, in the same `next()` the writer calls: no extra async hop per chunk.
 */
async function primed(source: AsyncIterable<UnifiedChunk>, inv: Invocation, deps: KernelStageDeps): Promise<AsyncIterable<UnifiedChunk>> {
  const it = source[Symbol.asyncIterator]();
  const st = internals(inv);
  const seen = (step: IteratorResult<UnifiedChunk>): IteratorResult<UnifiedChunk> => {
    if (step.done) return step;
    const c = step.value;
    if (st.chunks++ === 0) { st.firstChunkAt = performance.now(); inv.event('first_token'); }
    if (c.usage) st.usage = addUsage(st.usage, c.usage);
    for (const o of deps.observers) if (o.chunk) try { o.chunk(inv, c); } catch (e) { deps.onObserverError(e, 'chunk'); }
    return step;
  };
  const first = seen(await it.next());
  let started = false;
  return {
    [Symbol.asyncIterator]() {
      return {
        next: () => {
          if (!started) { started = true; return Promise.resolve(first); }
          return it.next().then(seen);
        },
        return: async (v?: unknown) => { await it.return?.(v); return { done: true as const, value: undefined }; },
      } as AsyncIterator<UnifiedChunk>;
    },
  };
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', stop); resolve(); }, ms);
  const stop = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', stop, { once: true });
});

export function kernelStages(deps: KernelStageDeps): Record<Stage, StageMiddleware | null> {
  const notifyAttempt = (inv: Invocation, a: Attempt) => {
    for (const o of deps.observers) if (o.attempt) try { o.attempt(inv, a); } catch (e) { deps.onObserverError(e, 'attempt'); }
  };

  /** One try at one candidate; throws what the provider (or a policy's `before`) threw. */
  async function attemptOnce(inv: Invocation, attempt: Attempt): Promise<void> {
    for (const p of deps.policies) if (p.before) { const r = p.before(inv, attempt); if (r) await r; }
    const bound = deps.endpoint(attempt.endpoint.name);
    if (!bound) throw new GatewayError('GW_ERR_INTERNAL', `no provider is bound to '${attempt.endpoint.name}'`);
    let body = inv.body;
    if (body.model !== undefined && body.model !== null && !bound.def.allowModelField) {
      throw new GatewayError('GW_ERR_REQUEST_MODEL_FIELD', "The parameter 'model' is not permitted to be passed. The route being queried already defines a model instance.", { param: 'model' });
    }
    const defaults = attempt.endpoint.defaults;
    for (const k in defaults) { if (body[k] === undefined || body[k] === null) { body = withDefaults(body, defaults); break; } }
    const cap = capabilityOf(inv);
    const method = bound.instance[cap] as ((req: unknown, call: unknown) => any) | undefined;
    if (!method) throw unsupportedCapability(cap, bound.def.displayName);
    (inv.signal as unknown as Record<symbol, AttemptHooks>)[HOOKS] = new Timing(attempt);
    const call = { signal: inv.signal, invocationId: inv.id, attempt: attempt.n, headers: attempt.upstreamHeaders };
    inv.result = inv.stream
      ? await primed(method.call(bound.instance, body, call) as AsyncIterable<UnifiedChunk>, inv, deps)
      : await method.call(bound.instance, body, call);
    inv.endpoint = attempt.endpoint;
  }

  return {
    /** Read the body (lazily: plugins joining `pre` run on headers alone), validate it for the endpoint type (FastAPI-shaped 422s). */
    receive: async (inv, next) => {
      const st = internals(inv);
      let body = st.body !== undefined ? st.body : await st.req.json();
      if (st.modelNamesTarget && body && typeof body === 'object' && !Array.isArray(body)) {
        const { model: _m, ...rest } = body as Record<string, unknown>;
        body = rest;
      }
      inv.body = validateRequest(inv.type, body);
      inv.stream = inv.type !== 'llm/v1/embeddings' && inv.body.stream === true;
      await next();
    },
    /** Authentication and limits are plugins. */
    admit: null,
    /** The candidates: a named endpoint is its own; a traffic route needs a routing plugin to choose. */
    route: (inv, next) => {
      if (!inv.candidates.length) {
        if (inv.endpoint) inv.candidates = [inv.endpoint];
        else if (inv.route) return Promise.reject(new GatewayError('GW_ERR_NOT_IMPLEMENTED', `'${inv.route.name}' is a traffic route, and no routing plugin chose a destination for it.`));
      }
      return next();
    },
    /** Try the candidates as attempts; policies decide between attempts. Streams are primed per attempt, so a fallback only happens before the first byte. */
    invoke: async (inv, next) => {
      const st = internals(inv);
      let i = 0;
      try {
        for (;;) {
          const endpoint = inv.candidates[i];
          const last = inv.attempts[inv.attempts.length - 1];
          if (!endpoint) throw last?.error ?? new GatewayError('GW_ERR_INTERNAL', 'no candidate endpoint to call');
          const attempt: Attempt = { n: inv.attempts.length + 1, endpoint, startedAt: deps.clock.now(), upstreamHeaders: {}, durationMs: 0, upstreamMs: 0, upstreamStatus: null, error: null };
          inv.attempts.push(attempt);
          st.attempt = attempt.n;
          const t0 = performance.now();
          try {
            await attemptOnce(inv, attempt);
            attempt.durationMs = performance.now() - t0;
            for (const p of deps.policies) p.succeeded?.(inv, attempt);
            notifyAttempt(inv, attempt);
            break;
          } catch (e) {
            const err = deps.scrubError(toGatewayError(e));
            attempt.error = err;
            attempt.durationMs = performance.now() - t0;
            notifyAttempt(inv, attempt);
            if (inv.signal.aborted) throw err;
            let decision: AttemptDecision | undefined;
            for (const p of deps.policies) {
              if (!p.failed) continue;
              decision = (await p.failed(inv, attempt, err)) ?? undefined;
              if (decision) break;
            }
            if (!decision || decision.action === 'fail') throw decision?.error ?? err;
            if (decision.delayMs && decision.delayMs > 0) await sleep(decision.delayMs, inv.signal);
            if (decision.action === 'next') i++;
          }
        }
      } finally { st.attempt = 0; } // events after the attempts (the respond stage, a stream's later chunks) name none
      await next();
    },
    /** Post-processing (metrics, tracing, usage accounting) are plugins. */
    respond: null,
  };
}

/**
 * The endpoint's defaults under the body. An explicit null in the body means "not given" (to
 * providers), so the default applies; a default whose other name the body gives (`max_tokens`
 * against a caller's `max_completion_tokens`) does not.
 */
function withDefaults(body: Record<string, unknown>, defaults: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in defaults) { const alias = parameterAliases[k]; if (alias === undefined || body[alias] === undefined || body[alias] === null) out[k] = defaults[k]; }
  for (const k in body) if (!(k in defaults) || (body[k] !== null && body[k] !== undefined)) out[k] = body[k];
  return out;
}
