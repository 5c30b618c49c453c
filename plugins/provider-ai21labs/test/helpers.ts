import { readFileSync } from 'node:fs';
import { createHttpClient, type EndpointType, type HttpClient, type Logger, type ProviderDefinition } from '@gatehouse/sdk';

export const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };

export function makeInstance<C>(def: ProviderDefinition<C>, http: HttpClient, config: C, model: string | null, endpoint_type: EndpointType) {
  return def.create({ config, model: { name: model, provider: def.name }, endpoint: { name: 'e', endpoint_type }, http, logger, timeoutMs: 5000 });
}

export const newHttp = (): HttpClient => createHttpClient();
export const call = () => ({ signal: new AbortController().signal });
export const text = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
export const fixture = <T = any>(name: string): T => JSON.parse(text(name)) as T;

/** Catch a rejection and return it (fails the test if there is none). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected a rejection');
}
