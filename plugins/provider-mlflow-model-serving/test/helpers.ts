import { createHttpClient, type EndpointType, type HttpClient, type ProviderDefinition } from '@gatehouse/sdk';
import { createProviderInstance, fixtures, silentLogger } from '@gatehouse/sdk/testing';

export { rejection, testCall as call } from '@gatehouse/sdk/testing';
export const logger = silentLogger;
export const { text, json: fixture } = fixtures(new URL('./fixtures/', import.meta.url));
export const newHttp = (): HttpClient => createHttpClient();

export function makeInstance<C>(def: ProviderDefinition<C>, http: HttpClient, config: C, model: string | null, endpointType: EndpointType) {
  return createProviderInstance(def, { config, model, endpointType, http });
}
