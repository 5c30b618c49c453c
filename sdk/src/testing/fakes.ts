/**
 * Contract objects for unit tests of observers and stage middleware, without a gateway:
 * `fakeOutcome({ status: 429 })`, `fakeInvocation({ endpoint: fakeEndpoint('chat') })`.
 */
import { GatewayError } from '../errors.js';
import type { Attempt, EndpointInfo, Invocation, RequestOutcome, RouteInfo } from '../pipeline.js';

export const fakeEndpoint = (name: string, provider = 'openai', model: string | null = 'gpt-4o-mini'): EndpointInfo => ({
  name, endpoint_type: 'llm/v1/chat', model: { name: model, provider }, limit: null, defaults: {}, slices: {},
});

export const fakeRoute = (name: string, dests: string[]): RouteInfo => ({
  name, task_type: 'llm/v1/chat', destinations: dests.map((d) => ({ name: d })), routing_strategy: 'traffic-split', slices: {},
});

export function fakeAttempt(n: number, ep: EndpointInfo, o: { upstreamMs?: number; error?: string } = {}): Attempt {
  return {
    n, endpoint: ep, startedAt: 0, upstreamHeaders: {}, durationMs: o.upstreamMs ?? 0, upstreamMs: o.upstreamMs ?? 0,
    upstreamStatus: o.error ? 502 : 200, error: o.error ? new GatewayError(o.error, 'failed') : null,
  };
}

export function fakeInvocation(o: Partial<Omit<Invocation, 'attempts' | 'events'>> & { attempts?: Attempt[]; events?: Invocation['events'] } = {}): Invocation {
  const headers: Record<string, string> = {};
  return {
    id: 'req-1', surface: 'mlflow', path: '/endpoints/chat/invocations', target: 'chat', type: 'llm/v1/chat',
    headers: {}, setHeader: (k: string, v: string) => { headers[k] = v; }, event() {}, stream: false,
    client: { ip: '127.0.0.1' }, caller: null, signal: new AbortController().signal, startedAt: 0,
    route: null, endpoint: null, candidates: [], attempts: [], events: [], body: {}, result: null, state: new Map(),
    ...o,
  } as Invocation;
}

export function fakeOutcome(o: Partial<RequestOutcome> = {}): RequestOutcome {
  return {
    id: 'req-1', method: 'POST', path: '/endpoints/chat/invocations', route: '/endpoints/:name/invocations', surface: 'mlflow',
    status: 200, code: null, message: null, startedAt: 0, durationMs: 120, ttfbMs: 100, upstreamMs: 100, stream: false,
    chunks: 0, bytes: 10, aborted: false, client: { ip: '127.0.0.1' }, caller: null, usage: null, invocation: null,
    ...o,
  };
}
