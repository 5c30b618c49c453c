/**
 * @gatehouse/plugin-rate-limit — token buckets per endpoint, per traffic route and per caller,
 * on every surface, exact across `--workers` (in memory) and across replicas (Redis).
 *
 * Where it runs:
 *  - `admit` (post): a traffic route's limit, once per call; a caller's own `attributes.limit`.
 *  - the attempt loop (`before`): the limit of the endpoint an attempt is about to call, so a
 *    fallback destination's limit counts for the attempt that uses it. One bucket per endpoint,
 *    whatever path (`/endpoints`, `/gateway`, `/v1`) reached it.
 *  - `observe.finish`: token limits are trued up with the answer's usage (streams included).
 */
import { createHash } from 'node:crypto';
import {
  createServiceToken, definePlugin, GatewayError,
  type Caller, type ConfigView, type EndpointInfo, type Invocation, type JSONSchema, type PluginContext, type RequestOutcome,
  type RouteInfo, type RouteRequest,
} from '@gatehouse/sdk';
import { adjust, peek, take, type BucketStore, type Decision } from './bucket.js';
import { limitField, policyField, retryAfterSeconds, type PolicyInfo, type ServiceLimit } from './headers.js';
import { compileLimit, keyLabel, limitProblems, type CompiledLimit, type KeyKind, type LimitConfig, type Rate } from './limit.js';
import { createRedisClient, displayUri, memoryStore, redisStore, whenReady } from './stores.js';
import { chunkTextOf, completionTextOf, createPool, encoder, encodingFor, promptOf, tokenCounter, type EncodingName } from './tokens.js';

export { parsePeriod, compileLimit, limitProblems, PARSE_MESSAGE } from './limit.js';
export { take, adjust, peek, type BucketStore, type Decision } from './bucket.js';
export { memoryStore, redisStore, createRedisClient, BOUNDED_ADD_LUA } from './stores.js';
export { policyField, limitField } from './headers.js';
export { encodingFor, promptOf, tokenCounter } from './tokens.js';

const NAME = 'rate-limit';

// ---------------------------------------------------------------------------------------------
// Config

/** The `limit:` block of an endpoint or a traffic route. */
export const LIMIT_SCHEMA: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['calls', 'renewal_period'],
  properties: {
    calls: { type: 'integer', description: 'calls per renewal_period (MLflow); 0 refuses every call' },
    renewal_period: { type: 'string', description: 'second, minute, hour, day, month, year; plurals and multiples such as "5 minutes"' },
    burst: { type: 'integer', description: 'bucket capacity (default: calls)' },
    key: { type: ['string', 'null'], description: "who shares a bucket: ip (default), endpoint, caller, header:<name>" },
    tokens: { type: 'integer', description: 'prompt + completion tokens per renewal_period' },
  },
};

export interface RateLimitSection {
  storage_uri?: string;
  fail_mode?: 'open' | 'closed';
  redis?: { password?: string; timeout_ms?: number; key_prefix?: string };
  tokenizer?: { offload_above_chars?: number };
}

/**
 * Prompts longer than this are counted in the worker pool. Measured (README, "Token limits"):
 * below it, handing a prompt to a worker costs the event loop more than counting it.
 */
export const DEFAULT_OFFLOAD_ABOVE_CHARS = 4096;

export const SECTION_SCHEMA: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    storage_uri: { type: 'string', description: 'memory:// (default), redis://[:password@]host:port[/db] or rediss://…; else MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI' },
    fail_mode: { enum: ['open', 'closed'], default: 'open', description: 'when the store is unreachable: admit (open) or answer 503 (closed)' },
    redis: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        password: { type: 'string' },
        timeout_ms: { type: 'integer', minimum: 1, default: 1000 },
        key_prefix: { type: 'string', default: 'gatehouse:rl:' },
      },
    },
    tokenizer: {
      type: 'object', additionalProperties: false, default: {},
      properties: { offload_above_chars: { type: 'integer', minimum: 0, default: DEFAULT_OFFLOAD_ABOVE_CHARS } },
    },
  },
};

const STORAGE_ENV = 'MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI';
const URI_RE = /^(memory|redis|rediss):\/\//i;

function storageUri(section: RateLimitSection, vars: Readonly<Record<string, string | undefined>>): { uri: string; from: string } {
  if (section.storage_uri) return { uri: section.storage_uri, from: `${NAME}.storage_uri` };
  const env = vars[STORAGE_ENV];
  if (env) return { uri: env, from: STORAGE_ENV };
  return { uri: 'memory://', from: 'the default' };
}

function check(view: ConfigView): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  view.endpoints.forEach((e, i) => {
    const l = e.slices.limit ?? e.limit;
    if (l) for (const p of limitProblems(l)) out.push({ path: ['endpoints', i, 'limit', ...p.path], message: p.message });
  });
  view.routes.forEach((r, i) => {
    const l = r.slices.limit;
    if (l) for (const p of limitProblems(l)) out.push({ path: ['routes', i, 'limit', ...p.path], message: p.message });
  });
  const { uri, from } = storageUri(view.section as RateLimitSection, view.env ?? process.env);
  if (!URI_RE.test(uri)) {
    out.push({ path: from === STORAGE_ENV ? [NAME] : [NAME, 'storage_uri'], message: `${from} must be memory://, redis://host:port or rediss://host:port; got '${displayUri(uri)}'` });
  } else if (!/^memory:/i.test(uri)) {
    try { new URL(uri); } catch { out.push({ path: [NAME, 'storage_uri'], message: `${from} is not a valid URI: '${displayUri(uri)}'` }); }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The stats other plugins may read (e.g. metrics)

export interface RateLimitStatsSnapshot {
  /** `memory` or `redis`. */
  store: 'memory' | 'redis';
  /** False while the Redis store is unreachable. */
  storeUp: boolean;
  /** Limit checks that admitted, and that refused with 429. */
  admitted: number;
  refused: number;
  /** Store operations that failed (unreachable, timed out). */
  storeErrors: number;
  /** Checks admitted without a limit because the store failed (fail_mode: open). */
  failOpen: number;
  /** Calls refused with 503 because the store failed (fail_mode: closed). */
  failClosed: number;
  /** Tokens debited after answers (prompt + completion, net of the estimates taken before). */
  tokensDebited: number;
}

/** Read the counters of this process: `ctx.resolve(RateLimitStatsToken).snapshot()`. The id is `rate-limit.stats`. */
export interface RateLimitStats { snapshot(): RateLimitStatsSnapshot }
export const RateLimitStatsToken = createServiceToken<RateLimitStats>('rate-limit.stats');

// ---------------------------------------------------------------------------------------------
// Per-invocation state

interface Debit { storeKey: string; rate: Rate; estimated: number; attempt: number | null }
interface InvState {
  policies: Map<string, PolicyInfo>;
  limits: Map<string, ServiceLimit>;
  estimates: Map<string, Promise<number>>;
  debits: Debit[];
  streamText: string[];
}

const stateOf = (inv: Invocation): InvState => {
  let s = inv.state.get(NAME) as InvState | undefined;
  if (!s) {
    s = { policies: new Map(), limits: new Map(), estimates: new Map(), debits: [], streamText: [] };
    inv.state.set(NAME, s);
  }
  return s;
};

const shortHash = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 16);

/** Who shares a bucket, from what a request shows. Missing header or caller: the client IP. */
function partition(key: KeyKind, from: { ip: string; headers: Readonly<Record<string, string | string[] | undefined>>; caller: Caller | null }): string {
  let v: string;
  switch (key.kind) {
    case 'endpoint': return '*';
    case 'caller': v = from.caller ? `c=${from.caller.name}` : `ip=${from.ip}`; break;
    case 'header': {
      const h = from.headers[key.header];
      const s = Array.isArray(h) ? h.join(',') : h;
      v = s ? `h=${s}` : `ip=${from.ip}`;
      break;
    }
    default: v = `ip=${from.ip}`;
  }
  return v.length > 64 ? `#${shortHash(v)}` : v;
}

// ---------------------------------------------------------------------------------------------

export default definePlugin<RateLimitSection>({
  name: NAME,
  config: {
    section: SECTION_SCHEMA,
    endpoint: { limit: LIMIT_SCHEMA },
    route: { limit: LIMIT_SCHEMA },
    secrets: ['redis.password'],
    check,
  },
  errors: {
    GW_ERR_LIMIT_STORE_UNAVAILABLE: { status: 503, expose: true, type: 'unavailable_error' },
  },
  async register(ctx) {
    await registerLimiter(ctx);
  },
});

interface Counters extends Omit<RateLimitStatsSnapshot, 'store'> { lastWarnAt: number; suppressed: number }

async function registerLimiter(ctx: PluginContext<RateLimitSection>): Promise<void> {
  const section = ctx.config ?? {};
  const failMode = section.fail_mode ?? 'open';
  const { uri, from } = storageUri(section, ctx.env ?? process.env);
  const counters = ctx.keep<Counters>('stats', () => ({
    storeUp: true, admitted: 0, refused: 0, storeErrors: 0, failOpen: 0, failClosed: 0, tokensDebited: 0, lastWarnAt: 0, suppressed: 0,
  }));

  // The store: kept for the process's lifetime, so a reload neither reconnects nor forgets.
  let store: BucketStore;
  if (/^memory:/i.test(uri)) {
    store = memoryStore(ctx.shared);
    counters.storeUp = true;
    ctx.logger.info(`rate-limit: buckets in memory${ctx.cluster.isWorker ? ', shared by all workers through the primary' : ''} (from ${from})`);
  } else {
    const r = section.redis ?? {};
    const timeoutMs = r.timeout_ms ?? 1000;
    const keyPrefix = r.key_prefix ?? 'gatehouse:rl:';
    const shown = displayUri(uri);
    const client = ctx.keep(`redis ${uri} ${shortHash(r.password ?? '')} ${timeoutMs}`, () => createRedisClient({
      uri, password: r.password, timeoutMs, keyPrefix, logger: ctx.logger,
      onState: (up) => { counters.storeUp = up; },
    }), async (c) => { try { await c.quit(); } catch { c.disconnect(); } });
    store = redisStore(client, keyPrefix);
    const ready = await whenReady(client, Math.min(5000, Math.max(1000, timeoutMs * 2)));
    counters.storeUp = ready;
    if (ready) ctx.logger.info(`rate-limit: buckets in Redis at ${shown} (from ${from}), fail_mode ${failMode}`);
    else {
      ctx.logger.warn(`rate-limit: buckets in Redis at ${shown} (from ${from}), which is not reachable yet; until it answers, ${failMode === 'open'
        ? 'calls are admitted without limits (fail_mode: open)' : 'limited calls are refused with 503 (fail_mode: closed)'}. Reconnecting in the background.`);
    }
  }

  ctx.provide(RateLimitStatsToken, {
    snapshot: () => {
      const { lastWarnAt: _l, suppressed: _s, ...rest } = counters;
      return { store: store.kind, ...rest };
    },
  });

  const offloadAbove = section.tokenizer?.offload_above_chars ?? DEFAULT_OFFLOAD_ABOVE_CHARS;
  let pool: ReturnType<typeof createPool> | null = null;
  const counter = tokenCounter(offloadAbove, () => (pool ??= ctx.keep('tokenizer-pool', createPool, (p) => p.destroy())));

  // Compiled limits, per config object (endpoint and route infos are frozen per generation).
  const compiled = new WeakMap<object, CompiledLimit | null>();
  const compiledOf = (owner: object, l: unknown): CompiledLimit | null => {
    let c = compiled.get(owner);
    if (c === undefined) {
      c = l && typeof l === 'object' && !limitProblems(l).length ? compileLimit(l as LimitConfig) : null;
      compiled.set(owner, c);
    }
    return c;
  };
  const endpointLimit = (e: EndpointInfo) => compiledOf(e, e.slices.limit ?? e.limit);
  const routeLimit = (r: RouteInfo) => compiledOf(r, r.slices.limit);
  const badCallerLimits = new Set<string>();
  const callerLimit = (c: Caller | null): CompiledLimit | null => {
    const l = c?.attributes?.limit as unknown;
    if (!c || !l || typeof l !== 'object') return null;
    let cl = compiled.get(l as object);
    if (cl === undefined) {
      const problems = limitProblems(l, { callsRequired: false });
      cl = problems.length ? null : compileLimit({ ...(l as LimitConfig), key: 'caller' });
      if (problems.length && !badCallerLimits.has(c.name)) {
        badCallerLimits.add(c.name);
        ctx.logger.warn(`rate-limit: the limit of caller '${c.name}' is ignored: ${problems.map((p) => p.message).join('; ')}`);
      }
      compiled.set(l as object, cl);
    }
    return cl;
  };

  // Start-up: warn of limits that refuse everything; load the tokenizer ranks token limits need
  // now (≈0.5 s of CPU each), not on the first call.
  const encodings = new Set<EncodingName>();
  try {
    for (const e of ctx.gateway.endpoints()) {
      const c = endpointLimit(e);
      if (c?.tokens) encodings.add(encodingFor(e.model.name));
      if (c?.calls && c.config.calls === 0) ctx.logger.warn(`rate-limit: endpoint '${e.name}' has limit.calls 0, so every call to it is refused with 429 (as in MLflow). Remove the limit or set calls to 1 or more.`);
    }
    for (const r of ctx.gateway.routes()) {
      const c = routeLimit(r);
      if (c?.tokens) for (const d of r.destinations) { const f = ctx.gateway.lookup(d.name); if (f?.kind === 'endpoint') encodings.add(encodingFor(f.info.model.name)); }
      if (c?.calls && c.config.calls === 0) ctx.logger.warn(`rate-limit: route '${r.name}' has limit.calls 0, so every call to it is refused with 429. Remove the limit or set calls to 1 or more.`);
    }
  } catch { /* the gateway API may not list anything yet; limits compile on first use */ }
  for (const enc of encodings) await encoder(enc);

  /** Run a store operation under the fail mode: null when it failed and the mode is open. */
  async function guarded<T>(op: () => Promise<T>): Promise<T | null> {
    try {
      return await op();
    } catch (e) {
      counters.storeErrors++;
      const now = ctx.clock.now();
      const shout = now - counters.lastWarnAt >= 10_000;
      if (shout) {
        ctx.logger.warn(`rate-limit: the ${store.kind} store failed (${(e as Error).message}); ${failMode === 'open' ? 'admitting without limits (fail_mode: open)' : 'refusing with 503 (fail_mode: closed)'}${counters.suppressed ? `; ${counters.suppressed} more failures since the last warning` : ''}`);
        counters.lastWarnAt = now;
        counters.suppressed = 0;
      } else counters.suppressed++;
      if (failMode === 'closed') {
        counters.failClosed++;
        throw new GatewayError('GW_ERR_LIMIT_STORE_UNAVAILABLE', 'The rate-limit store is unavailable, so limited calls are refused for now (fail_mode: closed). Try again shortly.', { headers: { 'retry-after': '1' } });
      }
      counters.failOpen++;
      return null;
    }
  }

  /** A store operation that answers no call (a refund, a true-up): a failure is counted, never thrown. */
  async function quietly(op: () => Promise<unknown>): Promise<boolean> {
    try { await op(); return true; } catch { counters.storeErrors++; return false; }
  }

  const setHeaders = (inv: Invocation, st: InvState) => {
    if (!st.policies.size) return;
    inv.setHeader('RateLimit-Policy', policyField(st.policies));
    inv.setHeader('RateLimit', limitField(st.limits));
  };

  const refuse = (inv: Invocation, scope: string, name: string, c: CompiledLimit, message: string, d: Decision, extra?: Record<string, unknown>): never => {
    counters.refused++;
    const retryS = Number.isFinite(d.retryAfterMs) ? retryAfterSeconds(d.retryAfterMs) : Math.ceil(c.period.periodMs / 1000);
    inv.event('rate_limited', { scope, name, key: keyLabel(c.key), limit: message.replace(/^Rate limit exceeded: /, ''), retry_after_s: retryS, ...extra });
    throw new GatewayError('GW_ERR_RATE_LIMITED', message, { headers: { 'retry-after': String(retryS) } });
  };

  /** The model a call will most likely reach, for the tokenizer (a route: its first destination). */
  const modelOf = (inv: Invocation, endpoint: EndpointInfo | null): string | null => {
    if (endpoint) return endpoint.model.name;
    if (inv.endpoint) return inv.endpoint.model.name;
    const first = inv.route?.destinations[0]?.name;
    const f = first ? ctx.gateway.lookup(first) : undefined;
    return f?.kind === 'endpoint' ? f.info.model.name : null;
  };

  const estimate = (inv: Invocation, model: string | null): Promise<number> => {
    const st = stateOf(inv);
    const enc = encodingFor(model);
    let p = st.estimates.get(enc);
    if (!p) {
      const { text, extra } = promptOf(inv.type, inv.body);
      p = counter.count(text, enc).then((n) => n + extra);
      st.estimates.set(enc, p);
    }
    return p;
  };

  /** Check one limit for one call or attempt: calls, then tokens. Throws the 429. */
  async function apply(inv: Invocation, c: CompiledLimit, scope: 'endpoint' | 'route' | 'caller', name: string, endpoint: EndpointInfo | null, attempt: number | null): Promise<void> {
    const st = stateOf(inv);
    const part = scope === 'caller' ? '*' : partition(c.key, { ip: inv.client.ip, headers: inv.headers, caller: inv.caller });
    const base = `${scope[0]}:${name}:`;
    const policyId = `${scope}:${name}`;
    let callKey: string | null = null;
    if (c.calls) {
      const calls = c.calls;
      const key = `${base}${calls.fingerprint}:${part}`;
      const now = ctx.clock.now();
      const d = await guarded(() => take(store, key, calls.rate, now));
      if (d) {
        st.policies.set(policyId, { q: c.config.calls ?? 0, w: c.period.periodMs / 1000, ...(c.config.burst !== undefined && c.config.burst !== c.config.calls ? { burst: c.config.burst } : {}) });
        st.limits.set(policyId, { r: d.remaining, t: Math.ceil(d.resetMs / 1000) });
        setHeaders(inv, st);
        if (!d.ok) refuse(inv, scope, name, c, calls.message, d);
        counters.admitted++;
        callKey = key;
      }
    }
    if (c.tokens) {
      const tokens = c.tokens;
      const est = await estimate(inv, modelOf(inv, endpoint));
      const key = `${base}${tokens.fingerprint}:${part}`;
      const now = ctx.clock.now();
      const d = await guarded(() => take(store, key, tokens.rate, now, Math.max(0, est)));
      if (!d) return;
      if (!d.ok) {
        // The call was not made: give back the call it took.
        if (callKey && c.calls) await quietly(() => adjust(store, callKey!, c.calls!.rate, ctx.clock.now(), -1));
        const tooBig = !Number.isFinite(d.retryAfterMs);
        refuse(inv, scope, name, c, tooBig ? `${tokens.message} (this prompt alone is about ${est} tokens)` : tokens.message, d, { tokens: est });
      }
      st.debits.push({ storeKey: key, rate: tokens.rate, estimated: est, attempt });
    }
  }

  // Not async where no limit applies: a call without one costs no promise here.
  ctx.use('admit', (inv, next) => {
    const rl = inv.route ? routeLimit(inv.route) : null;
    const cl = callerLimit(inv.caller);
    if (!rl && !cl) return next();
    return (async () => {
      if (rl) await apply(inv, rl, 'route', inv.route!.name, null, null);
      if (cl) await apply(inv, cl, 'caller', inv.caller!.name, null, null);
      await next();
    })();
  }, { order: 'post' });

  ctx.attempts({
    before(inv, attempt) {
      const c = endpointLimit(attempt.endpoint);
      return c ? apply(inv, c, 'endpoint', attempt.endpoint.name, attempt.endpoint, attempt.n) : undefined;
    },
  });

  ctx.observe({
    chunk(inv, chunk) {
      const st = inv.state.get(NAME) as InvState | undefined;
      if (st?.debits.length) st.streamText.push(chunkTextOf(chunk));
    },
    finish(outcome) {
      const inv = outcome.invocation;
      const st = inv?.state.get(NAME) as InvState | undefined;
      if (!inv || !st?.debits.length) return;
      settle(inv, st, outcome).catch((e) => ctx.logger.warn(`rate-limit: could not debit the tokens of ${outcome.id}: ${(e as Error).message}`));
    },
  });

  /** After the answer: true up every token bucket the call drew from. */
  async function settle(inv: Invocation, st: InvState, outcome: RequestOutcome): Promise<void> {
    const served = inv.endpoint;
    let completion = outcome.usage?.completion_tokens ?? null;
    if (completion === null) {
      const text = inv.stream ? st.streamText.join('') : completionTextOf(inv.result);
      completion = text ? await counter.count(text, encodingFor(served?.model.name)) : 0;
    }
    const promptActual = outcome.usage?.prompt_tokens ?? null;
    const now = ctx.clock.now();
    // A call none of whose attempts succeeded, with no usage reported, generated nothing.
    const callFailed = !outcome.usage && !inv.attempts.some((a) => a.error === null);
    for (const d of st.debits) {
      const failed = d.attempt !== null ? inv.attempts[d.attempt - 1]?.error != null : callFailed;
      // A failed attempt (or call) generated nothing: its estimate goes back. Otherwise: actual − estimated.
      const units = failed ? -d.estimated : (promptActual ?? d.estimated) + completion - d.estimated;
      if (!units) continue;
      if (await quietly(() => adjust(store, d.storeKey, d.rate, now, units))) counters.tokensDebited += units;
    }
  }

  // -------------------------------------------------------------------------------------------
  // MLflow's limits API: get_limits answers the configured limits and their state.

  const notFound = (name: string) => new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The endpoint '${name}' is not present or active on the server. Please verify the endpoint name.`);

  async function getLimits(req: RouteRequest) {
    const name = req.params.endpoint!;
    const f = ctx.gateway.lookup(name);
    if (!f) throw notFound(name);
    const c = f.kind === 'endpoint' ? endpointLimit(f.info) : routeLimit(f.info);
    if (!c) return { json: { limits: [] } };
    const scope = f.kind === 'endpoint' ? 'endpoint' : 'route';
    const keyValue = typeof req.query.key_value === 'string' ? req.query.key_value : null;
    const part = keyValue !== null
      ? (c.key.kind === 'endpoint' ? '*' : (() => { const v = c.key.kind === 'ip' ? `ip=${keyValue}` : c.key.kind === 'caller' ? `c=${keyValue}` : `h=${keyValue}`; return v.length > 64 ? `#${shortHash(v)}` : v; })())
      : partition(c.key, { ip: req.ip, headers: req.headers, caller: req.caller });
    const base = `${scope[0]}:${name}:`;
    const now = ctx.clock.now();
    const state: Record<string, unknown> = { partition: part === '*' ? null : part.replace(/^(ip|c|h)=/, ''), store: store.kind };
    try {
      if (c.calls) {
        const p = await peek(store, `${base}${c.calls.fingerprint}:${part}`, c.calls.rate, now);
        state.remaining = p.remaining;
        state.reset_seconds = Math.ceil(p.resetMs / 1000);
      }
      if (c.tokens) {
        const p = await peek(store, `${base}${c.tokens.fingerprint}:${part}`, c.tokens.rate, now);
        state.tokens_remaining = p.remaining;
        state.tokens_reset_seconds = Math.ceil(p.resetMs / 1000);
      }
    } catch (e) {
      state.error = `the ${store.kind} store is unavailable (${(e as Error).message})`;
    }
    const l = c.config;
    return {
      json: {
        limits: [{
          calls: l.calls ?? null, key: l.key ?? null, renewal_period: l.renewal_period,
          burst: l.burst ?? l.calls ?? null, tokens: l.tokens ?? null, applies_to: scope, state,
        }],
      },
    };
  }

  async function setLimits(req: RouteRequest): Promise<never> {
    const body = await req.json() as { route?: unknown; limits?: unknown } | undefined;
    const detail: unknown[] = [];
    if (!body || typeof body !== 'object') detail.push({ type: 'missing', loc: ['body'], msg: 'Field required', input: null });
    else {
      if (typeof body.route !== 'string') detail.push(body.route === undefined ? { type: 'missing', loc: ['body', 'route'], msg: 'Field required', input: body } : { type: 'string_type', loc: ['body', 'route'], msg: 'Input should be a valid string', input: body.route });
      if (!Array.isArray(body.limits)) detail.push(body.limits === undefined ? { type: 'missing', loc: ['body', 'limits'], msg: 'Field required', input: body } : { type: 'list_type', loc: ['body', 'limits'], msg: 'Input should be a valid list', input: body.limits });
    }
    if (detail.length) throw new GatewayError('GW_ERR_REQUEST_VALIDATION', 'Invalid set_limits request', { detail });
    throw new GatewayError('GW_ERR_NOT_IMPLEMENTED', 'The set_limits API is not available yet.');
  }

  const limitsDoc = {
    summary: 'Get the limits of an endpoint or a traffic route, with the caller\'s current bucket state',
    tags: ['limits'],
    parameters: [
      { name: 'endpoint', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'key_value', in: 'query', required: false, schema: { type: 'string' }, description: 'the partition to show (an IP, header value or caller name); default: the calling request\'s' },
    ],
    responses: {
      200: { description: 'The limits: MLflow\'s fields (calls, key, renewal_period) plus burst, tokens and state', content: { 'application/json': { schema: { type: 'object', properties: { limits: { type: 'array', items: { type: 'object' } } } } } } },
      404: { description: 'No such endpoint or route' },
    },
  };
  const setDoc = {
    summary: 'Set limits (not available: limits come from the config file)',
    tags: ['limits'],
    requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['route', 'limits'], properties: { route: { type: 'string' }, limits: { type: 'array', items: { type: 'object' } } } } } } },
    responses: { 422: { description: 'Invalid body' }, 501: { description: 'The set_limits API is not available yet.' } },
  };
  for (const base of ['/api/2.0/endpoints/limits/', '/api/2.0/gateway/limits/']) {
    const documented = base.startsWith('/api/2.0/endpoints');
    ctx.route({ method: 'GET', path: `${base}:endpoint`, surface: 'mlflow', access: 'admin', ...(documented ? { openapi: limitsDoc } : {}), handler: getLimits });
    ctx.route({ method: 'POST', path: base, surface: 'mlflow', access: 'admin', ...(documented ? { openapi: setDoc } : {}), handler: setLimits });
  }
}
