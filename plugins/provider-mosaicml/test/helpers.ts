import { readFileSync } from 'node:fs';
import { createHttpClient, type EndpointType, type Logger, type ProviderInstance } from '@gatehouse/sdk';
import provider from '../src/index.js';

export const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const noop = () => {};
export const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
export const call = () => ({ signal: new AbortController().signal });

export function instance(baseUrl: string, endpointType: EndpointType, modelName: string): ProviderInstance {
  return provider.create({
    config: { mosaicml_api_key: 'test-key', mosaicml_api_base: baseUrl },
    model: { name: modelName, provider: 'mosaicml' },
    endpoint: { name: 'e', endpoint_type: endpointType },
    http: createHttpClient(),
    logger,
    timeoutMs: 5000,
  });
}
