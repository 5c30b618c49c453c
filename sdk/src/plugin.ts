/**
 * The plugin and provider contracts. Plugins are plain branded objects made by `definePlugin`
 * and `defineProvider`; the kernel recognises them by brand, never by `instanceof`.
 */
import type { HttpClient } from './http.js';
import type {
  Capability, ChatChunk, ChatRequest, ChatResponse, CompletionsChunk, CompletionsRequest, CompletionsResponse,
  EmbeddingsRequest, EmbeddingsResponse, EndpointType, UnifiedChunk, UnifiedResponse,
} from './types.js';
import type { GatewayError } from './errors.js';

/** The plugin API version this sdk speaks. A manifest's `gateway.apiVersion` must equal it. */
export const API_VERSION = 1;

const PLUGIN_BRAND = Symbol.for('gatehouse.plugin');
const PROVIDER_BRAND = Symbol.for('gatehouse.provider');

export type JSONSchema = Record<string, unknown>;

/** A typed service token: a string id plus the type it stands for. */
export interface ServiceToken<T> { readonly id: string; readonly multi: boolean; readonly __type?: T }

/**
 * Make a service token. Ids are namespaced strings, e.g. `'rate-limit.store'`.
 * @example
 * export const StoreToken = createServiceToken<Store>('rate-limit.store');
 */
export function createServiceToken<T>(id: string, options: { multi?: boolean } = {}): ServiceToken<T> {
  return Object.freeze({ id, multi: options.multi ?? false });
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface Clock { now(): number }

// ---------------------------------------------------------------------------------------------
// Providers

/** What a provider instance gets when it is created for one endpoint. */
export interface ProviderContext<C = Record<string, unknown>> {
  /** The endpoint's `model.config`, validated against the provider's schema, keys resolved. */
  config: C;
  /** The endpoint's `model` block. */
  model: { name: string | null; provider: string };
  endpoint: { name: string; endpoint_type: EndpointType };
  http: HttpClient;
  logger: Logger;
  /** The upstream timeout for this endpoint. */
  timeoutMs: number;
}

/** Per-call context. */
export interface CallContext {
  /** Aborted when the caller disconnects or the gateway shuts down. */
  signal: AbortSignal;
}

/** A provider bound to one endpoint. Absent methods answer 501. */
export interface ProviderInstance {
  chat?(req: ChatRequest, call: CallContext): Promise<ChatResponse>;
  chatStream?(req: ChatRequest, call: CallContext): AsyncIterable<ChatChunk>;
  completions?(req: CompletionsRequest, call: CallContext): Promise<CompletionsResponse>;
  completionsStream?(req: CompletionsRequest, call: CallContext): AsyncIterable<CompletionsChunk>;
  embeddings?(req: EmbeddingsRequest, call: CallContext): Promise<EmbeddingsResponse>;
  close?(): Promise<void> | void;
}

export interface ProviderDefinition<C = any> {
  readonly [PROVIDER_BRAND]: true;
  readonly kind: 'provider';
  /** The name a config's `model.provider` says (kebab-case), equal to the manifest entry. */
  readonly name: string;
  /** Other manifest names this definition answers to (e.g. `amazon-bedrock`). */
  readonly aliases: readonly string[];
  /** Used in MLflow's messages, e.g. `The chat route is not implemented for {displayName} models.` */
  readonly displayName: string;
  readonly apiVersion: number;
  /** JSON Schema of `model.config`. */
  readonly configSchema?: JSONSchema;
  /** Whether `model.config` must be present (MLflow requires it for built-in providers). */
  readonly requiresConfig: boolean;
  /**
   * Dot paths in `model.config` resolved like API keys (`$ENV`, key file, literal). Defaults to
   * every top-level key ending in `_api_key`. Values of fields whose name contains key, secret,
   * token, password or credential are scrubbed from every response and log line.
   */
  readonly keyFields?: readonly string[];
  /** Accept a `model` field in the request body (MLflow rejects it for most providers). */
  readonly allowModelField: boolean;
  /** If set, a deprecation warning printed at start-up when the provider is used. */
  readonly deprecated?: string;
  /** What the provider can do, for docs and `plugins list` (derived from `create` if omitted). */
  readonly capabilities?: readonly Capability[];
  /** Extra config rules beyond the schema; return messages for each problem. */
  validate?(config: C, model: { name: string | null; provider: string }, endpointType: EndpointType): string[] | string | void;
  create(ctx: ProviderContext<C>): ProviderInstance;
}

export type ProviderInput<C> = Omit<ProviderDefinition<C>, typeof PROVIDER_BRAND | 'kind' | 'apiVersion' | 'aliases' | 'requiresConfig' | 'allowModelField'>
  & { apiVersion?: number; aliases?: readonly string[]; requiresConfig?: boolean; allowModelField?: boolean };

/**
 * Define a provider.
 * @example
 * export default defineProvider({
 *   name: 'acme', displayName: 'Acme',
 *   configSchema: { type: 'object', required: ['acme_api_key'], properties: { acme_api_key: { type: 'string' } } },
 *   create: (ctx) => ({ async chat(req, call) { ... } }),
 * });
 */
export function defineProvider<C = Record<string, unknown>>(def: ProviderInput<C>): ProviderDefinition<C> {
  if (!def.name || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(def.name)) throw new TypeError(`provider name '${def.name}' must be kebab-case`);
  return Object.freeze({
    aliases: [],
    requiresConfig: true,
    allowModelField: false,
    ...def,
    apiVersion: def.apiVersion ?? API_VERSION,
    kind: 'provider' as const,
    [PROVIDER_BRAND]: true as const,
  });
}

export function isProviderDefinition(x: unknown): x is ProviderDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PROVIDER_BRAND] === true;
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/** The pipeline stages, in order. `core/src/pipeline/stages.ts` implements exactly these. */
export const STAGES = ['receive', 'admit', 'route', 'invoke', 'respond'] as const;
export type Stage = (typeof STAGES)[number];

export interface EndpointInfo {
  name: string;
  endpoint_type: EndpointType;
  model: { name: string | null; provider: string };
  limit: { calls: number; key: string | null; renewal_period: string } | null;
}

export interface RouteInfo {
  name: string;
  task_type: EndpointType;
  destinations: Array<{ name: string; traffic_percentage: number }>;
  routing_strategy: string;
}

/** One call through the pipeline. Stage middleware reads and extends it. */
export interface Invocation {
  readonly id: string;
  /** The surface that was called, e.g. `mlflow` or `openai`. */
  readonly surface: string;
  /** The request path that reached the gateway. */
  readonly path: string;
  /** The endpoint or route name the caller asked for. */
  readonly target: string;
  readonly type: EndpointType;
  /** Whether the caller asked for a stream; set by the `receive` stage. */
  stream: boolean;
  readonly client: { ip: string };
  readonly signal: AbortSignal;
  readonly startedAt: number;
  /** Set when `target` names a traffic route. */
  route: RouteInfo | null;
  /** The endpoint that will be called; set by the `route` stage. */
  endpoint: EndpointInfo | null;
  /** The request body; validated with defaults applied once the `receive` stage's kernel step ran. */
  body: Record<string, unknown>;
  /** Set by the `invoke` stage: a response, or the chunks of a stream. */
  result: UnifiedResponse | AsyncIterable<UnifiedChunk> | null;
  /** Free-form state shared between plugins, keyed by plugin name. */
  readonly state: Map<string, unknown>;
}

export type StageMiddleware = (inv: Invocation, next: () => Promise<void>) => Promise<void>;

// ---------------------------------------------------------------------------------------------
// HTTP routes and surfaces

export interface RouteRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  /** Aborted when the caller disconnects. */
  signal: AbortSignal;
  /** The parsed JSON body; a malformed body throws GW_ERR_REQUEST_INVALID_JSON. */
  json(): Promise<unknown>;
}

export type RouteResult =
  | { status?: number; headers?: Record<string, string>; json: unknown }
  | { status?: number; headers?: Record<string, string>; text: string | Uint8Array; contentType: string }
  | { status?: number; redirect: string }
  /** Server-sent events: each item is written as `data: <json>\n\n`. */
  | { sse: AsyncIterable<unknown>; headers?: Record<string, string> }
  /** A file or stream body. */
  | { status?: number; headers?: Record<string, string>; stream: NodeJS.ReadableStream; contentType: string };

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** The surface whose error shape this route uses (default `mlflow`). */
  surface?: string;
  /** Whether the route appears in `/openapi.json`. */
  openapi?: boolean;
  handler(req: RouteRequest, gateway: GatewayApi): Promise<RouteResult>;
}

/** How a surface shapes errors and streams. */
export interface SurfaceDefinition {
  name: string;
  /** Unmatched paths under this prefix (404, 405) are answered in this surface's shape, e.g. `/v1/`. */
  pathPrefix?: string;
  renderError(err: GatewayError): { status: number; body: unknown; headers?: Record<string, string> };
  /** The event written after the last chunk, e.g. `[DONE]`. */
  streamTerminator?: string;
  /** The event written when a stream fails after it started. */
  renderStreamError?(err: GatewayError): unknown;
}

export interface InvokeRequest {
  surface: string;
  target: string;
  /** The endpoint type the caller's path expects; a mismatch is a 400. */
  expectType?: EndpointType;
  /** Ignore a `model` field in the body (the OpenAI surface uses it to name the endpoint). */
  modelNamesTarget?: boolean;
  body: unknown;
  path: string;
  client: { ip: string };
  signal: AbortSignal;
}

export type InvokeResult =
  | { kind: 'json'; value: UnifiedResponse; invocation: Invocation }
  | { kind: 'stream'; chunks: AsyncIterable<UnifiedChunk>; invocation: Invocation };

/** One mounted HTTP route, as `GatewayApi.httpRoutes()` lists it. */
export interface HttpRouteInfo { method: string; path: string; surface: string; openapi: boolean; owner: string }

/** What plugins may ask of the running gateway. */
export interface GatewayApi {
  /** The kernel's version. */
  readonly version: string;
  /** Every HTTP route of this configuration, kernel's and plugins', with the plugin that added it. */
  httpRoutes(): readonly HttpRouteInfo[];
  endpoints(): readonly EndpointInfo[];
  routes(): readonly RouteInfo[];
  /** Find an endpoint or a traffic route by name. */
  lookup(name: string): { kind: 'endpoint'; info: EndpointInfo } | { kind: 'route'; info: RouteInfo } | undefined;
  /** Run a call through the whole pipeline. */
  invoke(req: InvokeRequest): Promise<InvokeResult>;
  /** The capabilities the provider of an endpoint has. */
  capabilities(endpoint: string): readonly Capability[];
}

// ---------------------------------------------------------------------------------------------
// Feature plugins

export interface PluginContext<C = Record<string, unknown>> {
  readonly name: string;
  /** The plugin's own config section (the top-level key equal to its name), validated. */
  readonly config: C;
  readonly logger: Logger;
  readonly gateway: GatewayApi;
  /** Provide a service under a token. Providing a non-multi token twice is an error. */
  provide<T>(token: ServiceToken<T>, value: T): void;
  /** Resolve a service (at registration time, never per request). */
  resolve<T>(token: ServiceToken<T>): T;
  resolveAll<T>(token: ServiceToken<T>): T[];
  /** Join a pipeline stage. `pre` runs before the kernel's own work in that stage, `post` after. */
  use(stage: Stage, middleware: StageMiddleware, options?: { order?: 'pre' | 'post' }): void;
  /** Add an HTTP route. */
  route(def: RouteDefinition): void;
  /** Add a surface (error and stream shapes). */
  surface(def: SurfaceDefinition): void;
  /** Called when this configuration generation is retired (reload or shutdown). */
  onClose(fn: () => Promise<void> | void): void;
}

export interface PluginDefinition<C = any> {
  readonly [PLUGIN_BRAND]: true;
  readonly kind: 'plugin';
  readonly name: string;
  readonly apiVersion: number;
  /** Plugins that must register before this one. */
  readonly dependsOn: readonly string[];
  /** JSON Schema of the plugin's config section; `enabled` is added by the kernel. */
  readonly configSchema?: JSONSchema;
  register(ctx: PluginContext<C>): void | Promise<void>;
}

export type PluginInput<C> = Omit<PluginDefinition<C>, typeof PLUGIN_BRAND | 'kind' | 'apiVersion' | 'dependsOn'> & { apiVersion?: number; dependsOn?: readonly string[] };

/**
 * Define a feature plugin.
 * @example
 * export default definePlugin({
 *   name: 'hello',
 *   register(ctx) { ctx.route({ method: 'GET', path: '/hello', handler: async () => ({ json: { hello: 'world' } }) }); },
 * });
 */
export function definePlugin<C = Record<string, unknown>>(def: PluginInput<C>): PluginDefinition<C> {
  if (!def.name || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(def.name)) throw new TypeError(`plugin name '${def.name}' must be kebab-case`);
  return Object.freeze({
    ...def,
    dependsOn: def.dependsOn ?? [],
    apiVersion: def.apiVersion ?? API_VERSION,
    kind: 'plugin' as const,
    [PLUGIN_BRAND]: true as const,
  });
}

export function isPluginDefinition(x: unknown): x is PluginDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}
