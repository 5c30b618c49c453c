import { readFileSync } from 'node:fs';
import { createHttpClient, type EndpointType, type Logger, type ProviderInstance } from '@gatehouse/sdk';
import provider from '../src/index.js';

export const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const noop = () => {};
export const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
export const call = () => ({ signal: new AbortController().signal });

export function instance(baseUrl: string, endpointType: EndpointType, modelName: string): ProviderInstance {
  return provider.create({
    config: { palm_api_key: 'test-key', palm_api_base: `${baseUrl}/v1beta3/models/` },
    model: { name: modelName, provider: 'palm' },
    endpoint: { name: 'e', endpoint_type: endpointType },
    http: createHttpClient(),
    logger,
    timeoutMs: 5000,
  });
}
