import { readFileSync } from 'node:fs';
import { createHttpClient, type EndpointType, type Logger, type ProviderInstance } from '@gatehouse/sdk';
import provider from '../src/index.js';

export const text = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
export const fixture = (name: string): any => JSON.parse(text(name));
/** The NDJSON fixture as parsed events. */
export const events = (name: string): any[] => text(name).split('\n').filter(Boolean).map((l) => JSON.parse(l));

const noop = () => {};
export const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
export const call = () => ({ signal: new AbortController().signal });

export function instance(baseUrl: string, endpointType: EndpointType = 'llm/v1/chat', modelName: string | null = 'command'): ProviderInstance {
  return provider.create({
    config: { cohere_api_key: 'test-key', cohere_api_base: `${baseUrl}/v1` },
    model: { name: modelName, provider: 'cohere' },
    endpoint: { name: 'e', endpoint_type: endpointType },
    http: createHttpClient(),
    logger,
    timeoutMs: 5000,
  });
}
