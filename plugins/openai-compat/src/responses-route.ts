/** The `/v1/responses` route: the Responses API over the endpoint's chat capability. */
import { GatewayError, nowSeconds, sseEvent, type ChatChunk, type ChatResponse, type GatewayApi, type RouteDefinition, type RouteRequest, type RouteResult } from '@gatehouse/sdk';
import { RESPONSES_SURFACE } from './surface.js';
import { ItemCache, ResponseIds, responseEvents, toChatBody, toResponse } from './responses.js';
import { targetOf } from './target.js';
import { responsesOperation } from './openapi.js';

/** Every Responses stream event is written with an `event:` line naming its `type`, as OpenAI does. */
export async function* named(items: AsyncIterable<{ type: string }>): AsyncGenerator<unknown> {
  for await (const item of items) yield sseEvent(item.type, item);
}

export function responsesRoute(cache: ItemCache): RouteDefinition {
  return {
    method: 'POST',
    path: '/v1/responses',
    surface: RESPONSES_SURFACE,
    openapi: responsesOperation,
    async handler(req: RouteRequest, gw: GatewayApi): Promise<RouteResult> {
      const body = await req.json();
      const target = targetOf(body, gw);
      const { chat, echo, stream } = toChatBody(body as Record<string, unknown>, cache);
      const r = await gw.invoke({ req, surface: RESPONSES_SURFACE, target, expectType: 'llm/v1/chat', modelNamesTarget: true, body: chat });
      const ids = new ResponseIds(r.invocation.id);
      const headers = { 'x-request-id': r.invocation.id };
      if (r.kind === 'json') return { headers, json: toResponse(r.value as ChatResponse, echo, ids, cache) };
      if (!stream) throw new GatewayError('GW_ERR_INTERNAL', 'expected a JSON answer');
      const events = responseEvents(r.chunks as AsyncIterable<ChatChunk>, { ids, echo, createdAt: nowSeconds(), model: target, cache });
      return { headers, sse: named(events), invocation: r.invocation };
    },
  };
}
