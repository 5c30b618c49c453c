import { readFileSync } from 'node:fs';
import type { EndpointType, Logger, ProviderInstance } from '@gatehouse/sdk';
import { createProviderInstance, silentLogger } from '@gatehouse/sdk/testing';
import provider from '../src/index.js';

export const text = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
export const fixture = (name: string): any => JSON.parse(text(name));
/** The NDJSON fixture as parsed events. */
export const events = (name: string): any[] => text(name).split('\n').filter(Boolean).map((l) => JSON.parse(l));

export const logger: Logger = silentLogger;
export { testCall as call } from '@gatehouse/sdk/testing';

export function instance(baseUrl: string, endpointType: EndpointType = 'llm/v1/chat', modelName: string | null = 'command'): ProviderInstance {
  return createProviderInstance(provider, { config: { cohere_api_key: 'test-key', cohere_api_base: `${baseUrl}/v1` }, model: modelName, endpointType });
}
