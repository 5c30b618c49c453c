/**
 * The routing plugin's config: the keys it owns in each traffic route (and, as defaults for every
 * route, in its top-level `routing:` section), their schemas, the resolved policy of a route, and
 * the strategy rules the kernel's generic route checks leave to the plugin.
 */
import type { ConfigView, JSONSchema, RouteInfo } from '@gatehouse/sdk';

export const STRATEGIES = ['TRAFFIC_SPLIT', 'FALLBACK'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const isOurStrategy = (s: string): s is Strategy => (STRATEGIES as readonly string[]).includes(s);

/** An HTTP status (`503`) or a status class (`'5xx'`, `'4xx'`). */
export type StatusMatcher = number | '4xx' | '5xx';

export interface RetryPolicy {
  /** Retries per destination after its first try (0: none). */
  attempts: number;
  /** Base of the exponential backoff: retry k waits a uniform random time in [0, min(max_backoff_ms, backoff_ms * 2^(k-1))). */
  backoff_ms: number;
  max_backoff_ms: number;
  /** No retry starts once this much time has passed since the call started (its delay included). */
  max_total_ms: number;
  /** Statuses worth retrying on the same destination. */
  on: StatusMatcher[];
}

export interface CooldownPolicy {
  /** Cool-down after an upstream 429/503 without `Retry-After` (0: none). */
  default_ms: number;
  /** Upper bound of a cool-down (a `Retry-After` of a day is capped to this); 0 turns cool-downs off. */
  max_ms: number;
}

export interface BreakerPolicy {
  /** Open after this many failures in a row (0: this rule is off). */
  consecutive_failures: number;
  /** Open when the share of failed calls over the window reaches this (null: this rule is off). */
  error_ratio: number | null;
  window_ms: number;
  /** The ratio rule needs at least this many calls in the window. */
  min_calls: number;
  /** How long the breaker stays open before one probe may try the destination again. */
  cooldown_ms: number;
}

export interface RoutePolicy {
  strategy: Strategy;
  /** Whether a failed destination hands over to the next one (always for FALLBACK; opt-in for TRAFFIC_SPLIT). */
  fallback: boolean;
  fallback_on: StatusMatcher[];
  retries: RetryPolicy;
  cooldown: CooldownPolicy;
  breaker: BreakerPolicy | null;
}

export const DEFAULT_RETRIES: RetryPolicy = { attempts: 0, backoff_ms: 100, max_backoff_ms: 2_000, max_total_ms: 10_000, on: [429, 500, 502, 503, 504] };
export const DEFAULT_FALLBACK_ON: StatusMatcher[] = [429, '5xx'];
export const DEFAULT_COOLDOWN: CooldownPolicy = { default_ms: 0, max_ms: 60_000 };
export const DEFAULT_BREAKER: BreakerPolicy = { consecutive_failures: 5, error_ratio: null, window_ms: 60_000, min_calls: 10, cooldown_ms: 30_000 };

const ms = (min = 0) => ({ type: 'integer', minimum: min });
const statusList: JSONSchema = {
  type: 'array',
  uniqueItems: true,
  items: { anyOf: [{ type: 'integer', minimum: 400, maximum: 599 }, { enum: ['4xx', '5xx'] }] },
};

/** Schemas of the keys this plugin owns in a route (and in its section, as defaults). */
export const ROUTE_KEYS: Record<string, JSONSchema> = {
  retries: {
    type: 'object',
    additionalProperties: false,
    properties: {
      attempts: { type: 'integer', minimum: 0, maximum: 10 },
      backoff_ms: ms(),
      max_backoff_ms: ms(),
      max_total_ms: ms(),
      on: statusList,
    },
  },
  fallback: { type: 'boolean' },
  fallback_on: statusList,
  cooldown: {
    type: 'object',
    additionalProperties: false,
    properties: { default_ms: ms(), max_ms: ms() },
  },
  breaker: {
    anyOf: [
      { const: false },
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          consecutive_failures: ms(),
          error_ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          window_ms: ms(1),
          min_calls: ms(1),
          cooldown_ms: ms(),
        },
      },
    ],
  },
};

/** The top-level `routing:` section: defaults for every route (a route's own keys win, field by field). */
export const SECTION_SCHEMA: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ...ROUTE_KEYS },
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);

/** The policy of one route: built-in defaults, then the `routing:` section, then the route's own keys. */
export function resolvePolicy(route: Pick<RouteInfo, 'routing_strategy' | 'slices'>, section: Obj = {}): RoutePolicy {
  const strategy = (isOurStrategy(route.routing_strategy) ? route.routing_strategy : 'TRAFFIC_SPLIT') as Strategy;
  const own = route.slices ?? {};
  const pick = <T>(key: string): T | undefined => (own[key] !== undefined ? own[key] : section[key]) as T | undefined;
  const merged = <T extends object>(key: string, base: T): T => ({ ...base, ...(obj(section[key]) ?? {}), ...(obj(own[key]) ?? {}) });

  const breakerOff = own.breaker === false || (own.breaker === undefined && section.breaker === false);
  const breakerOn = !breakerOff && (obj(own.breaker) !== undefined || obj(section.breaker) !== undefined);
  const breaker = breakerOn ? merged<BreakerPolicy>('breaker', DEFAULT_BREAKER) : null;
  if (breaker && breaker.error_ratio === undefined) breaker.error_ratio = null;

  return {
    strategy,
    fallback: strategy === 'FALLBACK' ? true : pick<boolean>('fallback') ?? false,
    fallback_on: pick<StatusMatcher[]>('fallback_on') ?? DEFAULT_FALLBACK_ON,
    retries: merged<RetryPolicy>('retries', DEFAULT_RETRIES),
    cooldown: merged<CooldownPolicy>('cooldown', DEFAULT_COOLDOWN),
    breaker,
  };
}

/** Whether a status is in a list of statuses and classes. */
export function statusMatches(list: readonly StatusMatcher[], status: number): boolean {
  for (const m of list) {
    if (m === status) return true;
    if (m === '5xx' && status >= 500 && status <= 599) return true;
    if (m === '4xx' && status >= 400 && status <= 499) return true;
  }
  return false;
}

export type Problem = { path: Array<string | number>; message: string };

/**
 * The strategy rules: MLflow's for TRAFFIC_SPLIT (messages as MLflow words them), ours for
 * FALLBACK, and the consistency of the retry and breaker settings.
 */
export function checkConfig(view: Pick<ConfigView, 'section' | 'routes'>): Problem[] {
  const problems: Problem[] = [];
  const section = view.section ?? {};
  checkKeys(section, ['routing'], problems);
  view.routes.forEach((route, i) => {
    if (!isOurStrategy(route.routing_strategy)) return;
    const base: Array<string | number> = ['routes', i];
    if (route.routing_strategy === 'TRAFFIC_SPLIT') {
      let sum = 0;
      let missing = false;
      route.destinations.forEach((d, j) => {
        const p = d.traffic_percentage;
        if (p === undefined || p === null) {
          missing = true;
          problems.push({ path: [...base, 'destinations', j], message: `The destination '${d.name}' of the TRAFFIC_SPLIT route '${route.name}' needs a traffic_percentage (an integer from 0 to 100).` });
          return;
        }
        if (!Number.isInteger(p)) {
          missing = true;
          problems.push({ path: [...base, 'destinations', j, 'traffic_percentage'], message: `The route destination traffic percentage must be an integer, but got '${String(p)}'.` });
          return;
        }
        if (p < 0 || p > 100) {
          problems.push({ path: [...base, 'destinations', j, 'traffic_percentage'], message: 'The route destination traffic percentage must between 0 and 100.' });
        }
        sum += p;
      });
      if (!missing && sum !== 100) {
        problems.push({ path: [...base, 'destinations'], message: `For each route configuration, the traffic percentage sum of destinations must be 100, but got invalid configuration of route '${route.name}'. (The sum is ${sum}.)` });
      }
    } else {
      const seen = new Set<string>();
      route.destinations.forEach((d, j) => {
        if (d.traffic_percentage !== undefined && d.traffic_percentage !== null) {
          problems.push({ path: [...base, 'destinations', j, 'traffic_percentage'], message: `traffic_percentage has no meaning in the FALLBACK route '${route.name}': it tries its destinations in the order listed. Remove it, or use routing_strategy: TRAFFIC_SPLIT.` });
        }
        if (seen.has(d.name)) {
          problems.push({ path: [...base, 'destinations', j, 'name'], message: `The FALLBACK route '${route.name}' lists the destination '${d.name}' twice; list each endpoint once, in the order to try them.` });
        }
        seen.add(d.name);
      });
      if (route.slices?.fallback === false) {
        problems.push({ path: [...base, 'fallback'], message: `A FALLBACK route always falls back ('${route.name}' says fallback: false); use routing_strategy: TRAFFIC_SPLIT for a split without fallback.` });
      }
    }
    checkKeys(route.slices ?? {}, base, problems);
  });
  return problems;
}

function checkKeys(keys: Obj, base: Array<string | number>, problems: Problem[]): void {
  const retries = obj(keys.retries);
  if (retries && typeof retries.backoff_ms === 'number' && typeof retries.max_backoff_ms === 'number' && retries.max_backoff_ms < retries.backoff_ms) {
    problems.push({ path: [...base, 'retries', 'max_backoff_ms'], message: `retries.max_backoff_ms (${retries.max_backoff_ms}) must be at least retries.backoff_ms (${retries.backoff_ms}).` });
  }
  const breaker = obj(keys.breaker);
  if (breaker && breaker.consecutive_failures === 0 && (breaker.error_ratio === undefined || breaker.error_ratio === null)) {
    problems.push({ path: [...base, 'breaker'], message: 'A breaker needs consecutive_failures above 0 or an error_ratio (or say breaker: false to turn it off).' });
  }
}
