/**
 * The OpenAPI 3.1 document of the running gateway, rebuilt from `GatewayApi` on every request.
 *
 * Paths are not hard-coded: every mounted route whose `RouteDefinition.openapi` is set
 * (`GatewayApi.httpRoutes()`) is described by the operation its plugin gave. Three extensions
 * let an operation ask for what only the running configuration knows; docs-ui reads them and
 * removes them from the document:
 *
 * - `x-components: { schemas?, tags? }` on an operation: component schemas its `$ref`s point at
 *   and tag descriptions (the first definition of a name wins).
 * - `x-gatehouse-invocation` on an invocation operation (see {@link InvocationExtension}): the
 *   request and response schemas of the endpoint type, examples, streaming; with `in: 'path'`
 *   one operation per configured endpoint and traffic route (name, provider, model, limit and
 *   default parameters in its description), with `in: 'body'` one operation whose body field
 *   lists the names of the right type.
 * - `x-gatehouse-names: 'endpoints' | 'routes' | 'targets'` on a parameter: its schema gets an
 *   `enum` of the configured names.
 *
 * The document always has the sdk's unified schemas as components: `ChatRequest`,
 * `CompletionsRequest`, `EmbeddingsRequest`, their `...Response`s, `ChatChunk`, `CompletionsChunk`.
 */
import {
  ENDPOINT_TYPES, chunkSchemas, requestSchemas, responseSchemas, type EndpointInfo, type EndpointType, type GatewayApi,
  type HttpRouteInfo, type OpenAPIOperation, type RouteInfo,
} from '@gatehouse/sdk';

type Schema = Record<string, unknown>;

export interface OpenAPIOptions {
  version: string;
  title?: string;
}

/** What an invocation operation's `x-gatehouse-invocation` says. */
export interface InvocationExtension {
  /** Where the endpoint or traffic route is named: a path parameter, or a body field. */
  in: 'path' | 'body';
  /** The path parameter (default `name`) or body field (default `model`). */
  param?: string;
  /** The endpoint type the route serves (`in: 'body'`; required there). With `in: 'path'`, any type. */
  type?: EndpointType;
  /** `in: 'path'`: the tag of traffic-route operations (default: the operation's tags). */
  routeTag?: string;
  /** Other paths that answer the same (`{name}` stands for the name), named in each description. */
  aliases?: string[];
  /** The event written after the last chunk (e.g. `[DONE]`); `null` or absent: none. */
  terminator?: string | null;
  /** Add an example that asks for a last usage chunk with `stream_options.include_usage`. */
  usageExample?: boolean;
  /** Extra top-level fields of the JSON answer, per endpoint type. */
  responseProperties?: Partial<Record<EndpointType, Record<string, Schema>>>;
  /** Extra top-level fields of each stream chunk, per endpoint type. */
  chunkProperties?: Partial<Record<EndpointType, Record<string, Schema>>>;
  /** `in: 'body'`: extra request body fields (e.g. `encoding_format`). */
  requestProperties?: Record<string, Schema>;
  /** More examples: each value is merged over the basic example. */
  examples?: Record<string, { summary: string; value: Record<string, unknown> }>;
}

const KIND: Record<EndpointType, 'Chat' | 'Completions' | 'Embeddings'> = {
  'llm/v1/chat': 'Chat', 'llm/v1/completions': 'Completions', 'llm/v1/embeddings': 'Embeddings',
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, extra: Record<string, unknown> = {}) => ({ 'application/json': { schema, ...extra } });
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A schema from the sdk, without `$id` (in OpenAPI an `$id` would change how `$ref`s nearby resolve). */
function plain(schema: Schema): Schema {
  const { $id: _id, ...rest } = schema;
  return structuredClone(rest);
}

function unifiedSchemas(): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const t of ENDPOINT_TYPES) {
    out[`${KIND[t]}Request`] = plain(requestSchemas[t]);
    out[`${KIND[t]}Response`] = plain(responseSchemas[t]);
  }
  out.ChatChunk = plain(chunkSchemas['llm/v1/chat']);
  out.CompletionsChunk = plain(chunkSchemas['llm/v1/completions']);
  return out;
}

const firstExample = (type: EndpointType): Record<string, unknown> =>
  structuredClone(((requestSchemas[type].examples as unknown[] | undefined)?.[0] ?? {}) as Record<string, unknown>);

/** A koa-router path as an OpenAPI path: `/a/:name` → `/a/{name}`. */
export const openAPIPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)[?*+]?/g, '{$1}');
const pathParams = (path: string) => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
const opId = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
const withSchema = (schema: Schema, props: Record<string, Schema> | undefined): Schema =>
  props && Object.keys(props).length ? { allOf: [schema, { type: 'object', properties: structuredClone(props) }] } : schema;

function streamText(type: EndpointType, terminator: string | null | undefined): string {
  return `Server-sent events, one \`data: <${KIND[type]}Chunk JSON>\` per chunk${terminator ? `, then \`data: ${terminator}\`` : ' (no terminator: the stream ends when the connection closes)'}. ` +
    'An error after the stream started arrives as a last `data: {"error": {...}}` event.';
}

function okResponse(type: EndpointType, streams: boolean, ext: InvocationExtension): Schema {
  const content: Record<string, unknown> = json(withSchema(ref(`${KIND[type]}Response`), ext.responseProperties?.[type]));
  if (streams) {
    content['text/event-stream'] = {
      schema: { type: 'string', description: streamText(type, ext.terminator) },
      // For the docs only: the chunk shape each `data:` line carries.
      'x-chunk-schema': withSchema(ref(`${KIND[type]}Chunk`), ext.chunkProperties?.[type]),
    };
  }
  return { description: streams ? 'The answer; with `"stream": true`, a stream of chunks.' : 'The answer.', content };
}

function requestExamples(type: EndpointType, streams: boolean, ext: InvocationExtension, named?: { field: string; name: string }): Record<string, unknown> {
  const basic = named ? { [named.field]: named.name, ...firstExample(type) } : firstExample(type);
  const examples: Record<string, unknown> = { basic: { summary: KIND[type], value: basic } };
  if (streams) {
    examples.stream = { summary: `${KIND[type]}, streamed (server-sent events)`, value: { ...basic, stream: true } };
    if (ext.usageExample) {
      examples.stream_usage = { summary: `${KIND[type]}, streamed, with a last usage chunk`, value: { ...basic, stream: true, stream_options: { include_usage: true } } };
    }
  }
  for (const [name, ex] of Object.entries(ext.examples ?? {})) {
    examples[name] = { summary: ex.summary, value: { ...basic, ...ex.value } };
  }
  return examples;
}

const fmt = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** What the description of one endpoint's operation says about it. */
export function describeEndpoint(e: EndpointInfo, aliases: string[] = []): string {
  const model = e.model.name ? `${e.model.provider} model \`${e.model.name}\`` : `provider \`${e.model.provider}\``;
  const parts = [`\`${e.endpoint_type}\` endpoint on ${model}.`];
  if (e.limit) parts.push(`Limited to ${e.limit.calls} calls per ${e.limit.renewal_period}.`);
  const defaults = Object.entries(e.defaults ?? {});
  if (defaults.length) {
    parts.push(`Default parameters: ${defaults.map(([k, v]) => `\`${k}\` ${fmt(v)}`).join(', ')} (a request's own value wins).`);
  }
  if (aliases.length) parts.push(`Also at ${aliases.map((a) => `\`${a.replace('{name}', e.name)}\``).join(', ')}.`);
  return parts.join(' ');
}

function describeRoute(r: RouteInfo, aliases: string[] = []): string {
  const dests = r.destinations.map((d) => `\`${d.name}\`${d.traffic_percentage !== undefined ? ` ${d.traffic_percentage}%` : ''}`).join(', ');
  const parts = [`\`${r.task_type}\` traffic route, strategy \`${r.routing_strategy}\`: ${dests}.`];
  if (aliases.length) parts.push(`Also at ${aliases.map((a) => `\`${a.replace('{name}', r.name)}\``).join(', ')}.`);
  return parts.join(' ');
}

interface Collected { schemas: Record<string, Schema>; tags: Map<string, string | undefined> }

/** Take the docs-ui extensions off an operation (a copy), remembering its components. */
function takeExtensions(op: OpenAPIOperation, into: Collected): { op: Record<string, unknown>; ext: InvocationExtension | null } {
  const copy = structuredClone(op) as Record<string, unknown>;
  const comps = copy['x-components'];
  delete copy['x-components'];
  if (isObject(comps)) {
    for (const [name, schema] of Object.entries(isObject(comps.schemas) ? comps.schemas : {})) {
      if (!(name in into.schemas) && isObject(schema)) into.schemas[name] = schema;
    }
    for (const t of Array.isArray(comps.tags) ? comps.tags : []) {
      if (isObject(t) && typeof t.name === 'string' && !into.tags.get(t.name) && typeof t.description === 'string') into.tags.set(t.name, t.description);
    }
  }
  const ext = copy['x-gatehouse-invocation'];
  delete copy['x-gatehouse-invocation'];
  return { op: copy, ext: isObject(ext) && (ext.in === 'path' || ext.in === 'body') ? (ext as unknown as InvocationExtension) : null };
}

/** Parameters for every path parameter (declared ones kept), with `x-gatehouse-names` filled in. */
function parameters(op: Record<string, unknown>, path: string, gw: GatewayApi, skip?: string): unknown[] | undefined {
  const declared = Array.isArray(op.parameters) ? (op.parameters as unknown[]) : [];
  const out = declared.filter((p) => !(isObject(p) && p.in === 'path' && p.name === skip)).map((p) => structuredClone(p));
  for (const name of pathParams(path)) {
    if (name === skip) continue;
    if (!out.some((p) => isObject(p) && p.in === 'path' && p.name === name)) out.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const p of out) {
    if (!isObject(p) || !('x-gatehouse-names' in p)) continue;
    const which = p['x-gatehouse-names'];
    delete p['x-gatehouse-names'];
    const names = [
      ...(which === 'endpoints' || which === 'targets' ? gw.endpoints().map((e) => e.name) : []),
      ...(which === 'routes' || which === 'targets' ? gw.routes().map((r) => r.name) : []),
    ];
    if (names.length) p.schema = { ...(isObject(p.schema) ? p.schema : { type: 'string' }), enum: names };
  }
  return out.length ? out : undefined;
}

/** Build the document for the gateway as it is configured right now. */
export function buildOpenAPI(gw: GatewayApi, options: OpenAPIOptions): Record<string, unknown> {
  const streams = (name: string, type: EndpointType) => {
    if (type === 'llm/v1/embeddings') return false;
    return gw.capabilities(name).includes(type === 'llm/v1/chat' ? 'chatStream' : 'completionsStream');
  };
  // A route streams when every destination does; a destination that cannot answers 501.
  const routeStreams = (r: RouteInfo) => r.task_type !== 'llm/v1/embeddings' && r.destinations.every((d) => streams(d.name, r.task_type));

  const collected: Collected = { schemas: {}, tags: new Map() };
  const paths: Record<string, Record<string, unknown>> = {};
  const usedTags: string[] = [];
  const put = (path: string, method: string, op: Record<string, unknown>) => {
    const item = (paths[path] ??= {});
    if (item[method]) return;
    item[method] = op;
    for (const t of Array.isArray(op.tags) ? op.tags : []) if (typeof t === 'string' && !usedTags.includes(t)) usedTags.push(t);
  };

  for (const route of gw.httpRoutes() as readonly HttpRouteInfo[]) {
    if (!route.openapi) continue;
    const method = route.method.toLowerCase();
    const { op, ext } = takeExtensions(route.openapi, collected);
    if (!Array.isArray(op.tags) || !op.tags.length) op.tags = [route.owner];

    if (ext?.in === 'path') {
      const param = ext.param ?? 'name';
      const { parameters: _declared, ...rest } = op;
      const one = (name: string, type: EndpointType, canStream: boolean, tags: unknown, description: string) => {
        const concrete = route.path.replace(new RegExp(`:${param}(?![A-Za-z0-9_])[?]?`), name);
        const params = parameters(op, concrete, gw, param);
        put(openAPIPath(concrete), method, {
          ...rest,
          tags,
          summary: `${KIND[type]}: ${name}`,
          description: op.description ? `${description}\n\n${String(op.description)}` : description,
          operationId: opId(typeof op.operationId === 'string' ? op.operationId : 'invoke', name),
          ...(params ? { parameters: params } : {}),
          requestBody: { required: true, content: json(ref(`${KIND[type]}Request`), { examples: requestExamples(type, canStream, ext) }) },
          responses: { 200: okResponse(type, canStream, ext), ...(isObject(op.responses) ? op.responses : {}) },
        });
      };
      for (const e of gw.endpoints()) {
        if (ext.type && e.endpoint_type !== ext.type) continue;
        one(e.name, e.endpoint_type, streams(e.name, e.endpoint_type), op.tags, describeEndpoint(e, ext.aliases));
      }
      for (const r of gw.routes()) {
        if (ext.type && r.task_type !== ext.type) continue;
        one(r.name, r.task_type, routeStreams(r), ext.routeTag ? [ext.routeTag] : op.tags, describeRoute(r, ext.aliases));
      }
      continue;
    }

    if (ext?.in === 'body' && ext.type) {
      const type = ext.type;
      const field = ext.param ?? 'model';
      const names = [
        ...gw.endpoints().filter((e) => e.endpoint_type === type).map((e) => e.name),
        ...gw.routes().filter((r) => r.task_type === type).map((r) => r.name),
      ];
      const target: Schema = { type: 'string', description: `The endpoint or traffic route to call (an \`${type}\` one).` };
      if (names.length) target.enum = names;
      const schema = { allOf: [ref(`${KIND[type]}Request`), { type: 'object', required: [field], properties: { [field]: target, ...structuredClone(ext.requestProperties ?? {}) } }] };
      const canStream = type !== 'llm/v1/embeddings';
      op.requestBody = { required: true, content: json(schema, { examples: requestExamples(type, canStream, ext, { field, name: names[0] ?? 'my-endpoint' }) }) };
      op.responses = { 200: okResponse(type, canStream, ext), ...(isObject(op.responses) ? op.responses : {}) };
    }
    const params = parameters(op, route.path, gw);
    if (params) op.parameters = params;
    put(openAPIPath(route.path), method, op);
  }

  const schemas: Record<string, Schema> = { ...unifiedSchemas() };
  for (const [name, s] of Object.entries(collected.schemas)) if (!(name in schemas)) schemas[name] = s;

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Gatehouse',
      version: options.version,
      description: 'An AI gateway, wire-compatible with the MLflow AI Gateway. Applications call one unified, OpenAI-shaped schema; the gateway holds the provider keys. This document describes the gateway as it is configured right now.',
    },
    tags: usedTags.map((name) => {
      const description = collected.tags.get(name);
      return description ? { name, description } : { name };
    }),
    paths,
    components: { schemas },
  };
}
