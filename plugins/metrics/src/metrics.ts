/**
 * The metric set and how each request outcome feeds it. Made once per process (it lives in
 * `ctx.keep`), so counters survive reloads; every label value comes from `labels.ts`.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Attempt, Invocation, RequestOutcome } from '@gatehouse/sdk';
import { FastCounter, FastHistogram } from './fast.js';
import {
  COUNTED_EVENTS, NONE, UNMATCHED, attemptKind, codeLabel, endpointLabels, statusClass, targetLabels,
} from './labels.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const REQUEST_LABELS = ['surface', 'handler', 'endpoint', 'route', 'provider', 'model', 'status_class'];
const ERROR_LABELS = ['surface', 'handler', 'endpoint', 'route', 'provider', 'model', 'code'];
const TARGET_LABELS = ['surface', 'endpoint', 'route', 'provider', 'model'];
const UPSTREAM_LABELS = ['endpoint', 'provider', 'model', 'outcome'];

/** What the metrics plugin keeps in `inv.state` for the length of one request. */
export interface InvocationMark {
  /** Overhead measured when the answer was ready (streams: at the first chunk). */
  overheadMs?: number;
  /** Labels of the `gateway_active_streams` series this request raised. */
  stream?: { surface: string; endpoint: string };
}

export const STATE_KEY = 'metrics';

export interface MetricsOptions {
  /** Node's default process metrics (`process_*`, `nodejs_*`). */
  defaultMetrics?: boolean;
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];

  const requests = new FastCounter('gateway_requests_total', 'Requests answered, by surface, HTTP route, endpoint, traffic route, provider, model and status class.', REQUEST_LABELS, registry);
  const latency = new FastHistogram('gateway_latency_seconds', 'Time from the request to the end of the answer (streams: the last chunk).', REQUEST_LABELS, LATENCY_BUCKETS, registry);
  const errors = new FastCounter('gateway_errors_total', 'Answers that were errors, by error code.', ERROR_LABELS, registry);
  const upstreamLatency = new FastHistogram('gateway_upstream_latency_seconds', 'Time one attempt spent waiting on its upstream, by outcome (ok or the error code).', UPSTREAM_LABELS, LATENCY_BUCKETS, registry);
  const upstreamAttempts = new FastCounter('gateway_upstream_attempts_total', 'Attempts at an upstream call, by outcome (ok or the error code).', UPSTREAM_LABELS, registry);
  const overhead = new FastHistogram('gateway_overhead_seconds', "The gateway's own time per request: total time minus time waiting on upstreams (streams: up to the first chunk).", ['surface', 'endpoint', 'route'], OVERHEAD_BUCKETS, registry);
  const ttft = new FastHistogram('gateway_time_to_first_token_seconds', 'Time from the request to the first chunk of a stream.', TARGET_LABELS, LATENCY_BUCKETS, registry);
  const tokens = new FastCounter('gateway_tokens_total', 'Tokens as the upstream reported them, by type (input or output).', [...TARGET_LABELS, 'type'], registry);
  const rateLimited = new FastCounter('gateway_rate_limited_total', 'Requests refused by a rate limit (GW_ERR_RATE_LIMITED).', ['surface', 'endpoint', 'route'], registry);
  const fallbackAttempts = new FastCounter('gateway_fallback_attempts_total', 'Attempts after the first: a retry of the same endpoint or a fallback to another.', ['route', 'endpoint', 'kind'], registry);
  const events = new FastCounter('gateway_pipeline_events_total', 'Pipeline events (rate_limited, retry, fallback_triggered, cooldown, breaker_open, first_token).', ['event', 'endpoint', 'route'], registry);
  const breakerOpen = new Gauge({ name: 'gateway_breaker_open', help: "1 while an endpoint's circuit breaker is open as last observed (a breaker_open event), 0 once an attempt on it succeeded.", labelNames: ['endpoint'], aggregator: 'max', registers: r });
  const activeStreams = new Gauge({ name: 'gateway_active_streams', help: 'Streams being written right now.', labelNames: ['surface', 'endpoint'], registers: r });
  // Every worker reloads the same file, so across workers the count is the largest, not the sum.
  const reloads = new Counter({ name: 'gateway_config_reloads_total', help: 'Configurations swapped in after the first (successful reloads).', aggregator: 'max', registers: r });
  const lastReloadTime = new Gauge({ name: 'gateway_config_last_reload_success_timestamp_seconds', help: 'When the running configuration was loaded: at start or by the last successful reload (Unix seconds).', aggregator: 'max', registers: r });

  let generations = 0;
  const breakerSeen = new Set<string>();

  return {
    registry,
    requests, latency, errors, upstreamLatency, upstreamAttempts, overhead, ttft, tokens, rateLimited, fallbackAttempts, events,
    breakerOpen, activeStreams, reloads, lastReloadTime,

    /** How many configuration generations registered so far. */
    generations: () => generations,

    /** A configuration generation registered: the first is the start, each later one a reload. */
    generationStarted(nowMs: number): number {
      generations += 1;
      if (generations > 1) reloads.inc();
      lastReloadTime.set(Math.floor(nowMs / 1000));
      return generations;
    },

    /** The answer is ready (JSON) or primed (stream): remember the overhead, count a live stream. */
    answerReady(inv: Invocation, overheadMs: number): InvocationMark {
      const mark: InvocationMark = { overheadMs };
      if (inv.stream && inv.result && typeof (inv.result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
        mark.stream = { surface: inv.surface || NONE, endpoint: targetLabels(inv).endpoint };
        activeStreams.inc(mark.stream);
      }
      inv.state.set(STATE_KEY, mark);
      return mark;
    },

    /** One finished attempt. */
    attempt(inv: Invocation, a: Attempt): void {
      const ep = endpointLabels(a.endpoint);
      const values = [ep.endpoint, ep.provider, ep.model, a.error ? codeLabel(a.error.code) : 'ok'];
      upstreamAttempts.inc(values);
      upstreamLatency.observe(values, Math.max(0, a.upstreamMs) / 1000);
      if (a.n > 1) fallbackAttempts.inc([inv.route?.name ?? NONE, ep.endpoint, attemptKind(inv, a)]);
      if (!a.error && breakerSeen.has(ep.endpoint)) breakerOpen.set({ endpoint: ep.endpoint }, 0);
    },

    /** One finished request (every route, pre-pipeline failures included). */
    finish(o: RequestOutcome): void {
      const inv = o.invocation;
      const t = targetLabels(inv);
      const surface = o.surface ?? NONE;
      const handler = o.route ?? UNMATCHED;
      const req = [surface, handler, t.endpoint, t.route, t.provider, t.model, statusClass(o.status)];
      requests.inc(req);
      latency.observe(req, Math.max(0, o.durationMs) / 1000);
      if (o.code !== null || o.status >= 400) errors.inc([surface, handler, t.endpoint, t.route, t.provider, t.model, codeLabel(o.code)]);
      if (o.code === 'GW_ERR_RATE_LIMITED') rateLimited.inc([surface, t.endpoint, t.route]);
      if (!inv) return;

      const mark = inv.state.get(STATE_KEY) as InvocationMark | undefined;
      if (mark?.stream) activeStreams.dec(mark.stream);
      const own = mark?.overheadMs ?? Math.max(0, o.durationMs - o.upstreamMs);
      overhead.observe([surface, t.endpoint, t.route], own / 1000);
      if (o.stream && o.chunks > 0 && o.ttfbMs !== null) ttft.observe([surface, t.endpoint, t.route, t.provider, t.model], Math.max(0, o.ttfbMs) / 1000);
      const input = o.usage?.prompt_tokens;
      const output = o.usage?.completion_tokens;
      if (input && input > 0) tokens.inc([surface, t.endpoint, t.route, t.provider, t.model, 'input'], input);
      if (output && output > 0) tokens.inc([surface, t.endpoint, t.route, t.provider, t.model, 'output'], output);
      for (const ev of inv.events) {
        if (!COUNTED_EVENTS.has(ev.name)) continue;
        events.inc([ev.name, t.endpoint, t.route]);
        if (ev.name === 'breaker_open') {
          const name = breakerEndpoint(inv, ev.attributes);
          if (name) { breakerSeen.add(name); breakerOpen.set({ endpoint: name }, 1); }
        }
      }
    },
  };
}

/** The endpoint a `breaker_open` event names: only a configured one (a destination of the route, or the endpoint itself). */
function breakerEndpoint(inv: Invocation, attrs: Record<string, unknown> | undefined): string | null {
  const name = attrs?.endpoint ?? attrs?.destination;
  if (typeof name !== 'string') return null;
  if (inv.endpoint?.name === name) return name;
  if (inv.route?.destinations.some((d) => d.name === name)) return name;
  if (inv.attempts.some((a) => a.endpoint.name === name)) return name;
  return null;
}
