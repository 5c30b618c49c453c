/**
 * The MLflow AI Gateway's routes (spec §2, §5, §9): health, the endpoint list and reads (2.0,
 * legacy 2.0 `gateway/routes`, 3.0), and the two invocation paths. The limits APIs belong to
 * the rate-limit plugin.
 */
import {
  GatewayError, type EndpointInfo, type GatewayApi, type RouteDefinition, type RouteRequest, type RouteResult,
} from '@gatehouse/sdk';
import { getEndpointOperation, healthOperation, invocationOperation, listEndpointsOperation } from './openapi.js';
import { SURFACE } from './surface.js';
import { mlflowChunks, mlflowResponse } from './wire.js';

export const PAGE_SIZE = 3000;

const limitJson = (e: EndpointInfo) => (e.limit ? { calls: e.limit.calls, key: e.limit.key ?? null, renewal_period: e.limit.renewal_period } : null);

/** MLflow's `Endpoint` object, in its field order. */
export const endpointJson = (e: EndpointInfo) => ({
  name: e.name,
  endpoint_type: e.endpoint_type,
  model: { name: e.model.name, provider: e.model.provider },
  endpoint_url: `/gateway/${e.name}/invocations`,
  limit: limitJson(e),
});

/** MLflow's deprecated `Route` object (`/api/2.0/gateway/routes/`). */
export const legacyRouteJson = (e: EndpointInfo) => ({
  name: e.name,
  route_type: e.endpoint_type,
  model: { name: e.model.name, provider: e.model.provider },
  route_url: `/gateway/${e.name}/invocations`,
  limit: limitJson(e),
});

/** MLflow's page token: base64 of Python's `json.dumps({"index": N})`. */
export const encodePageToken = (index: number): string => Buffer.from(`{"index": ${index}}`).toString('base64');

export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { index?: unknown };
    if (Number.isInteger(v.index) && (v.index as number) >= 0) return v.index as number;
  } catch { /* fall through */ }
  throw new GatewayError('GW_ERR_REQUEST_BAD', `Invalid page_token '${token}'. Use the next_page_token of a previous answer.`, { param: 'page_token' });
}

/**
 * A query parameter as FastAPI reads a scalar one: a repeated parameter (`?page_token=a&page_token=b`)
 * gives its last value (the edge hands repeated parameters over as an array).
 */
export const queryValue = (v: string | readonly string[] | undefined): string | undefined => (Array.isArray(v) ? v.at(-1) : v as string | undefined);

export function page<T>(items: readonly T[], token: string | undefined, size = PAGE_SIZE): { items: T[]; next: string | null } {
  const start = decodePageToken(token);
  const end = start + size;
  return { items: items.slice(start, end), next: end < items.length ? encodePageToken(end) : null };
}

const notFoundEndpoint = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The endpoint '${name}' is not present or active on the server. Please verify the endpoint name.`);
const notFoundRoute = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The route '${name}' is not present or active on the server. Please verify the route name.`);

/**
 * Both invocation paths. An unknown name is MLflow's bare 404 before anything else (the body is
 * not read: the kernel's `receive` step reads it inside the pipeline).
 */
export async function invoke(req: RouteRequest, gw: GatewayApi): Promise<RouteResult> {
  const name = req.params.name ?? '';
  if (!gw.lookup(name)) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
  const r = await gw.invoke({ req, surface: SURFACE, target: name });
  const inv = r.invocation;
  // The endpoint that served: the target itself or, for a traffic route, the chosen destination.
  const provider = () => inv.endpoint?.model.provider ?? null;
  if (r.kind === 'json') return { json: mlflowResponse(r.value, provider()) };
  return { sse: mlflowChunks(r.chunks, provider), invocation: inv };
}

/**
 * MLflow registers one invocation route per configured name: a path naming no endpoint or traffic
 * route matches no route at all, so every method gets the bare 404 (not 405) and a trailing slash
 * is not redirected.
 */
const named = (params: Readonly<Record<string, string>>, gw: GatewayApi): boolean => gw.lookup(params.name ?? '') !== undefined;

/** The endpoints the caller may call (all of them when no guard restricts it). */
const visible = (gw: GatewayApi, req: RouteRequest): readonly EndpointInfo[] => {
  const c = req.caller;
  return c?.may ? gw.endpoints().filter((e) => c.may!(e.name)) : gw.endpoints();
};

/** Every MLflow route, as plain route definitions. */
export function mlflowRoutes(): RouteDefinition[] {
  const routes: RouteDefinition[] = [
    { method: 'GET', path: '/health', access: 'public', openapi: healthOperation, handler: async () => ({ json: { status: 'OK' } }) },
    {
      method: 'GET', path: '/api/2.0/endpoints/', access: 'caller', openapi: listEndpointsOperation,
      handler: async (req, gw) => {
        const p = page(visible(gw, req), queryValue(req.query.page_token));
        return { json: { endpoints: p.items.map(endpointJson), next_page_token: p.next } };
      },
    },
    {
      method: 'GET', path: '/api/2.0/endpoints/:name', access: 'caller', openapi: getEndpointOperation,
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name ?? '');
        if (f?.kind !== 'endpoint') throw notFoundEndpoint(req.params.name ?? '');
        return { json: endpointJson(f.info) };
      },
    },
    {
      method: 'GET', path: '/api/2.0/gateway/routes/', access: 'caller',
      handler: async (req, gw) => {
        const p = page(visible(gw, req), queryValue(req.query.page_token));
        return { json: { routes: p.items.map(legacyRouteJson), next_page_token: p.next } };
      },
    },
    {
      method: 'GET', path: '/api/2.0/gateway/routes/:name', access: 'caller',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name ?? '');
        if (f?.kind !== 'endpoint') throw notFoundRoute(req.params.name ?? '');
        return { json: legacyRouteJson(f.info) };
      },
    },
    {
      method: 'GET', path: '/api/3.0/gateway/endpoint/:name', access: 'caller',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name ?? '');
        if (f?.kind !== 'endpoint') throw notFoundEndpoint(req.params.name ?? '');
        return { json: endpointJson(f.info) };
      },
    },
    {
      method: 'GET', path: '/api/3.0/gateway/route/:name', access: 'caller',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name ?? '');
        if (f?.kind !== 'route') throw notFoundRoute(req.params.name ?? '');
        const r = f.info;
        return {
          json: {
            name: r.name,
            task_type: r.task_type,
            destinations: r.destinations.map((d) => ({ name: d.name, traffic_percentage: d.traffic_percentage })),
            routing_strategy: r.routing_strategy,
          },
        };
      },
    },
    { method: 'POST', path: '/endpoints/:name/invocations', access: 'caller', openapi: invocationOperation, exists: named, handler: invoke },
    // The `endpoint_url` the list advertises; not in MLflow's OpenAPI document.
    { method: 'POST', path: '/gateway/:name/invocations', access: 'caller', exists: named, handler: invoke },
  ];
  return routes.map((r) => ({ ...r, surface: SURFACE }));
}
