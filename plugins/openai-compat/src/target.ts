/** How a `/v1` body names its endpoint or traffic route. */
import { GatewayError, type GatewayApi } from '@gatehouse/sdk';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export const modelNotFound = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The model '${name}' does not exist: it is neither an endpoint nor a traffic route of this gateway.`, { param: 'model' });

/** The endpoint or route a `/v1` body names, checked before anything else so a bad `model` reads as OpenAI's errors do. */
export function targetOf(body: unknown, gw: GatewayApi): string {
  if (!isObject(body)) throw new GatewayError('GW_ERR_REQUEST_BAD', 'The request body must be a JSON object.');
  const model = body.model;
  if (model === undefined || model === null || model === '') {
    throw new GatewayError('GW_ERR_REQUEST_BAD', 'You must provide a model parameter: the name of an endpoint or traffic route of this gateway.', { param: 'model' });
  }
  if (typeof model !== 'string') throw new GatewayError('GW_ERR_REQUEST_BAD', "'model' must be a string.", { param: 'model' });
  if (!gw.lookup(model)) throw modelNotFound(model);
  return model;
}

