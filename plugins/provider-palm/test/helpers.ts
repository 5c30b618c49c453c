import { readFileSync } from 'node:fs';
import type { EndpointType, Logger, ProviderInstance } from '@gatehouse/sdk';
import { createProviderInstance, silentLogger } from '@gatehouse/sdk/testing';
import provider from '../src/index.js';

export const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

export const logger: Logger = silentLogger;
export { testCall as call } from '@gatehouse/sdk/testing';

export function instance(baseUrl: string, endpointType: EndpointType, modelName: string): ProviderInstance {
  return createProviderInstance(provider, { config: { palm_api_key: 'test-key', palm_api_base: `${baseUrl}/v1beta3/models/` }, model: modelName, endpointType });
}
