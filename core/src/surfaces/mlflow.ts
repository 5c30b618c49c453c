/**
 * The MLflow AI Gateway's HTTP surface: its routes, field sets and order, `{"detail": ...}`
 * errors and SSE streams without a terminator (spec §2, §4, §5, §10).
 */
import {
  GatewayError, type EndpointInfo, type GatewayApi, type RouteDefinition, type RouteRequest, type SurfaceDefinition,
  type UnifiedChunk,
} from '@gatehouse/sdk';

const PAGE_SIZE = 3000;

export const mlflowSurface: SurfaceDefinition = {
  name: 'mlflow',
  renderError(err) {
    if (err.code === 'GW_ERR_RATE_LIMITED') return { status: err.status, body: { error: err.message } };
    return { status: err.status, body: { detail: err.expose ? err.detail : 'Internal Server Error' } };
  },
  renderStreamError(err) {
    return { error: { message: err.expose ? err.message : 'Internal Server Error', type: err.type, code: err.code, status: err.status } };
  },
};

const endpointJson = (e: EndpointInfo) => ({
  name: e.name,
  endpoint_type: e.endpoint_type,
  model: { name: e.model.name, provider: e.model.provider },
  endpoint_url: `/gateway/${e.name}/invocations`,
  limit: e.limit ? { calls: e.limit.calls, key: e.limit.key, renewal_period: e.limit.renewal_period } : null,
});

const legacyRouteJson = (e: EndpointInfo) => ({
  name: e.name,
  route_type: e.endpoint_type,
  model: { name: e.model.name, provider: e.model.provider },
  route_url: `/gateway/${e.name}/invocations`,
  limit: e.limit ? { calls: e.limit.calls, key: e.limit.key, renewal_period: e.limit.renewal_period } : null,
});

/** MLflow's page token: base64 of Python's `json.dumps({"index": N})`. */
export const encodePageToken = (index: number): string => Buffer.from(`{"index": ${index}}`).toString('base64');

function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { index?: unknown };
    if (Number.isInteger(v.index) && (v.index as number) >= 0) return v.index as number;
  } catch { /* fall through */ }
  throw new GatewayError('GW_ERR_REQUEST_BAD', `Invalid page_token '${token}'. Use the next_page_token of a previous answer.`, { param: 'page_token' });
}

function page<T>(items: readonly T[], token: string | undefined): { items: T[]; next: string | null } {
  const start = decodePageToken(token);
  const end = start + PAGE_SIZE;
  return { items: items.slice(start, end), next: end < items.length ? encodePageToken(end) : null };
}

/** Chunks as MLflow shows them: no `usage` (unless the caller asked for it), no usage-only chunks. */
async function* mlflowChunks(chunks: AsyncIterable<UnifiedChunk>, includeUsage: boolean): AsyncGenerator<unknown> {
  for await (const c of chunks) {
    if (includeUsage) { yield c; continue; }
    if (c.choices.length === 0) continue;
    if (c.usage) { const { usage: _u, ...rest } = c; yield rest; } else yield c;
  }
}

async function invocation(req: RouteRequest, gw: GatewayApi) {
  const name = req.params.name!;
  if (!gw.lookup(name)) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
  const body = await req.json();
  const r = await gw.invoke({ surface: 'mlflow', target: name, body, path: req.path, client: { ip: req.ip }, signal: req.signal });
  if (r.kind === 'json') return { json: r.value };
  const opts = r.invocation.body.stream_options as { include_usage?: boolean } | null | undefined;
  return { sse: mlflowChunks(r.chunks, opts?.include_usage === true) };
}

const notFoundEndpoint = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The endpoint '${name}' is not present or active on the server. Please verify the endpoint name.`);
const notFoundRoute = (name: string) =>
  new GatewayError('GW_ERR_ENDPOINT_NOT_FOUND', `The route '${name}' is not present or active on the server. Please verify the route name.`);

async function setLimits(req: RouteRequest): Promise<never> {
  const body = await req.json() as { route?: unknown; limits?: unknown } | undefined;
  const detail: unknown[] = [];
  if (!body || typeof body !== 'object') detail.push({ type: 'missing', loc: ['body'], msg: 'Field required', input: null });
  else {
    if (typeof body.route !== 'string') detail.push(body.route === undefined ? { type: 'missing', loc: ['body', 'route'], msg: 'Field required', input: body } : { type: 'string_type', loc: ['body', 'route'], msg: 'Input should be a valid string', input: body.route });
    if (!Array.isArray(body.limits)) detail.push(body.limits === undefined ? { type: 'missing', loc: ['body', 'limits'], msg: 'Field required', input: body } : { type: 'list_type', loc: ['body', 'limits'], msg: 'Input should be a valid list', input: body.limits });
  }
  if (detail.length) throw new GatewayError('GW_ERR_REQUEST_VALIDATION', 'Invalid set_limits request', { detail });
  throw new GatewayError('GW_ERR_NOT_IMPLEMENTED', 'The set_limits API is not available yet.');
}

/** The MLflow routes, as plain route definitions (the same contract plugins use). */
export function mlflowRoutes(): RouteDefinition[] {
  const getLimits = async (): Promise<never> => { throw new GatewayError('GW_ERR_NOT_IMPLEMENTED', 'The get_limits API is not available yet.'); };
  return [
    { method: 'GET', path: '/health', openapi: true, handler: async () => ({ json: { status: 'OK' } }) },
    {
      method: 'GET', path: '/api/2.0/endpoints/', openapi: true,
      handler: async (req, gw) => {
        const p = page(gw.endpoints(), req.query.page_token);
        return { json: { endpoints: p.items.map(endpointJson), next_page_token: p.next } };
      },
    },
    { method: 'GET', path: '/api/2.0/endpoints/limits/:endpoint', openapi: true, handler: getLimits },
    { method: 'POST', path: '/api/2.0/endpoints/limits/', openapi: true, handler: setLimits },
    {
      method: 'GET', path: '/api/2.0/endpoints/:name', openapi: true,
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name!);
        if (f?.kind !== 'endpoint') throw notFoundEndpoint(req.params.name!);
        return { json: endpointJson(f.info) };
      },
    },
    {
      method: 'GET', path: '/api/2.0/gateway/routes/',
      handler: async (req, gw) => {
        const p = page(gw.endpoints(), req.query.page_token);
        return { json: { routes: p.items.map(legacyRouteJson), next_page_token: p.next } };
      },
    },
    {
      method: 'GET', path: '/api/2.0/gateway/routes/:name',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name!);
        if (f?.kind !== 'endpoint') throw notFoundRoute(req.params.name!);
        return { json: legacyRouteJson(f.info) };
      },
    },
    { method: 'GET', path: '/api/2.0/gateway/limits/:endpoint', handler: getLimits },
    { method: 'POST', path: '/api/2.0/gateway/limits/', handler: setLimits },
    {
      method: 'GET', path: '/api/3.0/gateway/endpoint/:name',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name!);
        if (f?.kind !== 'endpoint') throw notFoundEndpoint(req.params.name!);
        return { json: endpointJson(f.info) };
      },
    },
    {
      method: 'GET', path: '/api/3.0/gateway/route/:name',
      handler: async (req, gw) => {
        const f = gw.lookup(req.params.name!);
        if (f?.kind !== 'route') throw notFoundRoute(req.params.name!);
        const r = f.info;
        return { json: { name: r.name, task_type: r.task_type, destinations: r.destinations.map((d) => ({ name: d.name, traffic_percentage: d.traffic_percentage })), routing_strategy: r.routing_strategy } };
      },
    },
    { method: 'POST', path: '/endpoints/:name/invocations', openapi: true, handler: invocation },
    { method: 'POST', path: '/gateway/:name/invocations', handler: invocation },
  ];
}
