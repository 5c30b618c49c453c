/**
 * Helpers for testing a provider without the gateway: build an instance for one endpoint, call
 * it, read golden fixtures. Every first-party provider's tests use these.
 */
import { readFileSync } from 'node:fs';
import { createHttpClient, type HttpClient } from '../http.js';
import type { CallContext, Logger, ProviderDefinition, ProviderInstance } from '../plugin.js';
import type { EndpointType } from '../types.js';

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };

let sharedHttp: HttpClient | undefined;

/**
 * Create a provider instance as the kernel would for one endpoint.
 * @example
 * const p = createProviderInstance(anthropic, { config: { anthropic_api_key: 'k', anthropic_api_base: `${up.url}/v1` }, model: 'claude-x' });
 * await p.chat!(req, testCall());
 */
export function createProviderInstance<C>(def: ProviderDefinition<C>, opts: {
  config: C;
  model?: string | null;
  endpointType?: EndpointType;
  endpointName?: string;
  http?: HttpClient;
  logger?: Logger;
  timeoutMs?: number;
}): ProviderInstance {
  return def.create({
    config: opts.config,
    model: { name: opts.model === undefined ? 'test-model' : opts.model, provider: def.name },
    endpoint: { name: opts.endpointName ?? 'e', endpoint_type: opts.endpointType ?? 'llm/v1/chat' },
    http: opts.http ?? (sharedHttp ??= createHttpClient()),
    logger: opts.logger ?? silentLogger,
    timeoutMs: opts.timeoutMs ?? 5000,
  });
}

/** A call context with a fresh, never-aborted signal. */
export const testCall = (): CallContext => ({ signal: new AbortController().signal });

/** Await a promise, drain a stream, or call a function, any of which must fail, and return what it threw. */
export async function rejection(p: Promise<unknown> | AsyncIterable<unknown> | (() => unknown)): Promise<any> {
  try {
    const v = typeof p === 'function' ? p() : p;
    if (v && typeof v === 'object' && Symbol.asyncIterator in v) { for await (const _ of v as AsyncIterable<unknown>) { /* drain */ } }
    else await v;
  } catch (e) { return e; }
  throw new Error('expected a rejection');
}

/**
 * Read golden fixtures from a folder next to the test.
 * @example const { json, text } = fixtures(new URL('./fixtures/', import.meta.url));
 */
export function fixtures(dir: URL) {
  const text = (name: string): string => readFileSync(new URL(name, dir), 'utf8');
  return { text, json: <T = any>(name: string): T => JSON.parse(text(name)) as T };
}
