/**
 * Traffic routes: TRAFFIC_SPLIT (MLflow's weighted split) and FALLBACK (ordered destinations),
 * with retries, cool-downs from `Retry-After`, and a circuit breaker per destination.
 *
 * - `route` stage (pre): picks `inv.candidates` for a call to a route of ours.
 * - attempt policy: skips destinations that became unavailable, decides retry / next / fail,
 *   records cool-downs and breaker state, names the endpoint that served in `x-gatehouse-endpoint`.
 */
import {
  type Attempt, definePlugin, GatewayError, type EndpointInfo, type Invocation, type PluginContext, type RouteInfo,
} from '@gatehouse/sdk';
import {
  checkConfig, isOurStrategy, resolvePolicy, ROUTE_KEYS, SECTION_SCHEMA, STRATEGIES, type RoutePolicy,
} from './config.js';
import { Health } from './health.js';
import { CODES, cooldownFor, countsForBreaker, decideAfterFailure, planCandidates, type Availability } from './select.js';

export { checkConfig, resolvePolicy, statusMatches, STRATEGIES } from './config.js';
export type { RoutePolicy, RetryPolicy, CooldownPolicy, BreakerPolicy, StatusMatcher } from './config.js';
export { weightedIndex, planCandidates, backoffDelay, decideAfterFailure, cooldownFor, countsForBreaker, CODES } from './select.js';
export { Health, PROBE_LATCH_MS } from './health.js';

export const HEADER_ENDPOINT = 'x-gatehouse-endpoint';
export const HEADER_ROUTE = 'x-gatehouse-route';

/** What the plugin keeps on a route call (`inv.state.get('routing')`). */
export interface RouteCallState {
  policy: RoutePolicy;
  /** `ctx.clock.now()` when the route stage ran. */
  startedAt: number;
  /** Destinations the planner saw half-open: their attempt must win the probe first. */
  halfOpen: Set<string>;
  /** Probe latches this call holds. */
  probes: Set<string>;
}

const ERRORS = {
  /** No destination of a route can take the call (all cooling down, open, or failed). */
  [CODES.unavailable]: { status: 503, expose: true, type: 'unavailable_error' },
  /** Internal: an attempt skipped a destination that became unavailable; the next candidate is tried. */
  [CODES.skipped]: { status: 503, expose: true, type: 'unavailable_error' },
};

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export default definePlugin<Record<string, unknown>>({
  name: 'routing',
  config: {
    section: SECTION_SCHEMA,
    route: ROUTE_KEYS,
    strategies: STRATEGIES,
    check: (view) => checkConfig(view),
  },
  errors: ERRORS,
  register(ctx) { registerRouting(ctx); },
});

function registerRouting(ctx: PluginContext<Record<string, unknown>>): void {
  const health = new Health(ctx.shared, ctx.clock);
  const section = (ctx.config ?? {}) as Record<string, unknown>;
  const policies = new WeakMap<RouteInfo, RoutePolicy>();
  const policyOf = (route: RouteInfo): RoutePolicy => {
    let p = policies.get(route);
    if (!p) { p = resolvePolicy(route, section); policies.set(route, p); }
    return p;
  };
  const endpointOf = (name: string): EndpointInfo | undefined => {
    const hit = ctx.gateway.lookup(name);
    return hit?.kind === 'endpoint' ? hit.info : undefined;
  };
  const stateOf = (inv: Invocation) => inv.state.get('routing') as RouteCallState | undefined;
  const warn = (what: string) => (e: unknown) => ctx.logger.warn(`routing: ${what} failed`, { error: (e as Error)?.message });

  /** The 503 when no destination can take the call; Retry-After is when the first one comes back. */
  const unavailable = async (route: RouteInfo, failures: Array<{ endpoint: string; error: GatewayError }>): Promise<GatewayError> => {
    const now = ctx.clock.now();
    const names = [...new Set(route.destinations.map((d) => d.name))];
    const states = await Promise.all(names.map(async (n) => [n, await health.availability(n)] as const));
    const soonest = Math.min(...states.map(([, s]) => ('until' in s ? s.until - now : Infinity)));
    const retryAfter = seconds(Number.isFinite(soonest) ? soonest : 1000);
    const last = new Map<string, GatewayError>();
    for (const f of failures) last.set(f.endpoint, f.error);
    const why = states.map(([n, s]) => {
      const err = last.get(n);
      if (err && err.code !== CODES.skipped) return `'${n}' failed (${err.status}: ${err.message})`;
      if (s.state === 'cooling') return `'${n}' is cooling down for ${seconds(s.until - now)} s`;
      if (s.state === 'open') return `'${n}' has an open circuit breaker for ${seconds(s.until - now)} s`;
      if (s.state === 'half_open') return `'${n}' is being probed after its circuit breaker opened`;
      return `'${n}' was not tried`;
    });
    const msg = failures.length
      ? `Every destination of route '${route.name}' failed or is unavailable: ${why.join('; ')}. Retry after ${retryAfter} s.`
      : `No destination of route '${route.name}' is available: ${why.join('; ')}. Retry after ${retryAfter} s.`;
    return new GatewayError(CODES.unavailable, msg, { headers: { 'retry-after': String(retryAfter) } });
  };

  /** Plan the candidates of a call to a route with one of our strategies. */
  const plan = async (inv: Invocation, route: RouteInfo, next: () => Promise<void>): Promise<void> => {
    inv.setHeader(HEADER_ROUTE, route.name);
    const policy = policyOf(route);
    const names = [...new Set(route.destinations.map((d) => d.name))];
    const seen = new Map<string, Availability>(await Promise.all(names.map(async (n) => [n, await health.availability(n)] as const)));
    const plan = planCandidates(route.destinations, policy, (n) => seen.get(n) ?? { state: 'ok' }, () => ctx.random.next());
    const candidates = plan.candidates.map(endpointOf).filter((e): e is EndpointInfo => e !== undefined);
    if (!candidates.length) throw await unavailable(route, []);
    inv.candidates = candidates;
    inv.state.set('routing', {
      policy, startedAt: ctx.clock.now(), probes: new Set(),
      halfOpen: new Set(names.filter((n) => seen.get(n)?.state === 'half_open')),
    } satisfies RouteCallState);
    await next();
  };
  // Joined only when the configuration has routes of ours: otherwise it would add a step per call that only calls next().
  const ours = ctx.gateway.routes().some((r) => isOurStrategy(r.routing_strategy));
  if (ours) {
    ctx.use('route', (inv, next) => {
      const route = inv.route;
      return !route || !isOurStrategy(route.routing_strategy) || inv.candidates.length ? next() : plan(inv, route, next);
    }, { order: 'pre' });
  }

  /** Before an attempt at a route's destination: skip it while it cools down or its breaker is open; probe it when half open. */
  const probe = async (st: RouteCallState, attempt: Attempt): Promise<void> => {
    const name = attempt.endpoint.name;
    // The planner's view is fresh for the first attempt; later ones look again (a breaker may have opened meanwhile).
    const now = attempt.n === 1 && !st.halfOpen.has(name) ? { state: 'ok' as const } : await health.availability(name);
    if (now.state === 'cooling' || now.state === 'open') {
      throw new GatewayError(CODES.skipped, `'${name}' is ${now.state === 'open' ? 'behind an open circuit breaker' : 'cooling down'}.`);
    }
    if (now.state === 'half_open') {
      if (!(await health.acquireProbe(name))) throw new GatewayError(CODES.skipped, `'${name}' is being probed by another call.`);
      st.probes.add(name);
    }
  };

  ctx.attempts({
    /** Not async: a call that is not to one of our routes costs no promise here. */
    before: ours ? (inv, attempt) => {
      const st = stateOf(inv);
      return st ? probe(st, attempt) : undefined;
    } : undefined,

    async failed(inv, attempt, err) {
      const st = inv.route ? stateOf(inv) : undefined;
      const name = attempt.endpoint.name;
      if (!st || !inv.route) { inv.setHeader(HEADER_ENDPOINT, name); return undefined; }
      const { policy } = st;
      const route = inv.route;
      const wasProbe = st.probes.delete(name);
      if (inv.signal.aborted || err.code === 'GW_ERR_CLIENT_CLOSED') {
        if (wasProbe) await health.releaseProbe(name).catch(warn('releasing a probe'));
        return { action: 'fail' };
      }

      let unavailableNow = err.code === CODES.skipped;
      if (!unavailableNow) {
        const coolMs = cooldownFor(err.upstream, policy.cooldown);
        if (coolMs > 0) {
          const until = await health.coolDown(name, coolMs);
          unavailableNow = true;
          inv.event('cooldown', { route: route.name, endpoint: name, duration_ms: coolMs, until, status: err.status });
        }
        if (policy.breaker && countsForBreaker(String(err.code), err.status)) {
          const r = await health.recordFailure(name, policy.breaker, wasProbe);
          if (r.opened) {
            unavailableNow = true;
            inv.event('breaker_open', { route: route.name, endpoint: name, reason: r.opened.reason, failures: r.opened.failures, cooldown_ms: policy.breaker.cooldown_ms, until: r.opened.until });
            ctx.logger.warn(`routing: circuit breaker of '${name}' opened (${r.opened.reason})`, { route: route.name, endpoint: name, failures: r.opened.failures });
          }
        } else if (policy.breaker) {
          // The upstream answered (a 4xx, a 429): alive, as far as the breaker is concerned.
          await health.recordSuccess(name, policy.breaker, wasProbe);
        } else if (wasProbe) {
          await health.releaseProbe(name);
        }
      }

      const index = inv.candidates.findIndex((c) => c.name === name);
      const triesHere = inv.attempts.filter((a) => a.endpoint.name === name).length;
      const verdict = decideAfterFailure(policy, {
        code: String(err.code), status: err.status, unavailable: unavailableNow, triesHere,
        elapsedMs: ctx.clock.now() - st.startedAt, hasNext: index >= 0 && index < inv.candidates.length - 1,
      }, () => ctx.random.next());

      switch (verdict.action) {
        case 'retry':
          inv.event('retry', { route: route.name, endpoint: name, attempt: attempt.n, retry: triesHere, delay_ms: verdict.delayMs, status: err.status, code: err.code });
          return { action: 'retry', delayMs: verdict.delayMs };
        case 'next':
          inv.event('fallback_triggered', { route: route.name, from: name, to: inv.candidates[index + 1]!.name, status: err.status, code: err.code });
          return { action: 'next' };
        case 'exhausted': {
          const failures = inv.attempts.filter((a) => a.error).map((a) => ({ endpoint: a.endpoint.name, error: a.error! }));
          return { action: 'fail', error: await unavailable(route, failures) };
        }
        default:
          inv.setHeader(HEADER_ENDPOINT, name);
          return { action: 'fail' };
      }
    },

    succeeded(inv, attempt) {
      const name = attempt.endpoint.name;
      inv.setHeader(HEADER_ENDPOINT, name);
      const st = inv.route ? stateOf(inv) : undefined;
      if (!st) return;
      const wasProbe = st.probes.delete(name);
      if (st.policy.breaker) health.recordSuccess(name, st.policy.breaker, wasProbe).catch(warn('recording a success'));
      else if (wasProbe) health.releaseProbe(name).catch(warn('releasing a probe'));
    },
  });

  // A call that ends while holding a probe latch (the client left mid-probe) frees it.
  ctx.observe({
    finish(outcome) {
      const st = outcome.invocation ? stateOf(outcome.invocation) : undefined;
      if (!st?.probes.size) return;
      for (const name of st.probes) health.releaseProbe(name).catch(warn('releasing a probe'));
      st.probes.clear();
    },
  });
}
