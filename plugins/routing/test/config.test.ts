import { describe, expect, it } from 'vitest';
import type { RouteInfo } from '@gatehouse/sdk';
import plugin, { checkConfig, resolvePolicy } from '../src/index.js';

const route = (over: Partial<RouteInfo>): RouteInfo => ({
  name: 'r', task_type: 'llm/v1/chat', routing_strategy: 'TRAFFIC_SPLIT', slices: {},
  destinations: [{ name: 'a', traffic_percentage: 80 }, { name: 'b', traffic_percentage: 20 }], ...over,
});
const check = (routes: RouteInfo[], section: Record<string, unknown> = {}) => checkConfig({ section, routes });

describe('the plugin definition', () => {
  it('owns both strategies, its route keys, its section and its error codes', () => {
    expect(plugin.name).toBe('routing');
    expect(plugin.config?.strategies).toEqual(['TRAFFIC_SPLIT', 'FALLBACK']);
    expect(Object.keys(plugin.config?.route ?? {}).sort()).toEqual(['breaker', 'cooldown', 'fallback', 'fallback_on', 'retries']);
    expect(plugin.errors?.GW_ERR_ROUTE_UNAVAILABLE).toEqual({ status: 503, expose: true, type: 'unavailable_error' });
  });
});

describe('TRAFFIC_SPLIT rules (MLflow messages)', () => {
  it('accepts seed 000 (80/20)', () => {
    expect(check([route({})])).toEqual([]);
  });

  it('percentages sum to 100', () => {
    expect(check([route({ name: 'chat-route', destinations: [{ name: 'a', traffic_percentage: 70 }, { name: 'b', traffic_percentage: 20 }] })])).toEqual([{
      path: ['routes', 0, 'destinations'],
      message: "For each route configuration, the traffic percentage sum of destinations must be 100, but got invalid configuration of route 'chat-route'. (The sum is 90.)",
    }]);
  });

  it('each percentage is within 0..100', () => {
    const problems = check([route({ destinations: [{ name: 'a', traffic_percentage: 120 }, { name: 'b', traffic_percentage: -20 }] })]);
    expect(problems).toEqual([
      { path: ['routes', 0, 'destinations', 0, 'traffic_percentage'], message: 'The route destination traffic percentage must between 0 and 100.' },
      { path: ['routes', 0, 'destinations', 1, 'traffic_percentage'], message: 'The route destination traffic percentage must between 0 and 100.' },
    ]);
  });

  it('each destination has an integer percentage', () => {
    const problems = check([route({ destinations: [{ name: 'a', traffic_percentage: 100 }, { name: 'b' }] })]);
    expect(problems).toEqual([{ path: ['routes', 0, 'destinations', 1], message: "The destination 'b' of the TRAFFIC_SPLIT route 'r' needs a traffic_percentage (an integer from 0 to 100)." }]);
    expect(check([route({ destinations: [{ name: 'a', traffic_percentage: 99.5 }, { name: 'b', traffic_percentage: 0.5 }] })])[0]!.message)
      .toBe("The route destination traffic percentage must be an integer, but got '99.5'.");
  });

  it('leaves routes of other strategies to their owners', () => {
    expect(check([route({ routing_strategy: 'LEAST_LATENCY', destinations: [{ name: 'a' }] })])).toEqual([]);
  });
});

describe('FALLBACK rules', () => {
  it('accepts ordered destinations without percentages', () => {
    expect(check([route({ routing_strategy: 'FALLBACK', destinations: [{ name: 'a' }, { name: 'b' }] })])).toEqual([]);
  });

  it('refuses percentages, duplicates and fallback: false', () => {
    const problems = check([route({
      name: 'fb', routing_strategy: 'FALLBACK', slices: { fallback: false },
      destinations: [{ name: 'a', traffic_percentage: 50 }, { name: 'a' }],
    })]);
    expect(problems.map((p) => p.path)).toEqual([
      ['routes', 0, 'destinations', 0, 'traffic_percentage'],
      ['routes', 0, 'destinations', 1, 'name'],
      ['routes', 0, 'fallback'],
    ]);
    expect(problems[0]!.message).toContain("traffic_percentage has no meaning in the FALLBACK route 'fb'");
    expect(problems[1]!.message).toContain("lists the destination 'a' twice");
  });

  it('checks retry and breaker settings in routes and in the section', () => {
    const problems = check([route({ slices: { retries: { backoff_ms: 500, max_backoff_ms: 100 } } })], { breaker: { consecutive_failures: 0 } });
    expect(problems.map((p) => p.path)).toEqual([['routing', 'breaker'], ['routes', 0, 'retries', 'max_backoff_ms']]);
  });
});

describe('resolvePolicy', () => {
  it('defaults: no retries, no breaker, Retry-After cool-downs, fallback on 429 and 5xx for FALLBACK only', () => {
    const s = resolvePolicy({ routing_strategy: 'TRAFFIC_SPLIT', slices: {} });
    expect(s).toMatchObject({ strategy: 'TRAFFIC_SPLIT', fallback: false, breaker: null, fallback_on: [429, '5xx'] });
    expect(s.retries.attempts).toBe(0);
    expect(s.cooldown).toEqual({ default_ms: 0, max_ms: 60_000 });
    expect(resolvePolicy({ routing_strategy: 'FALLBACK', slices: {} }).fallback).toBe(true);
  });

  it('merges the section under the route, field by field', () => {
    const section = { retries: { attempts: 3, backoff_ms: 50 }, breaker: { consecutive_failures: 2 }, fallback_on: [503] };
    const p = resolvePolicy({ routing_strategy: 'FALLBACK', slices: { retries: { attempts: 1 }, breaker: { cooldown_ms: 5 } } }, section);
    expect(p.retries).toMatchObject({ attempts: 1, backoff_ms: 50, max_backoff_ms: 2000 });
    expect(p.breaker).toEqual({ consecutive_failures: 2, error_ratio: null, window_ms: 60_000, min_calls: 10, cooldown_ms: 5 });
    expect(p.fallback_on).toEqual([503]);
    expect(resolvePolicy({ routing_strategy: 'FALLBACK', slices: { breaker: false } }, section).breaker).toBeNull();
    expect(resolvePolicy({ routing_strategy: 'TRAFFIC_SPLIT', slices: {} }, { fallback: true }).fallback).toBe(true);
  });
});
