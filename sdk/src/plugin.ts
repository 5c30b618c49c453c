/**
 * The plugin and provider contracts. Plugins are plain branded objects made by `definePlugin`
 * and `defineProvider`; the kernel recognises them by brand, never by `instanceof`.
 */
import type { HttpClient } from './http.js';
import { adaptProviderInstance, capabilitiesOf, type BaseProvider } from './base-provider.js';
import { withFoldedLimits } from './params.js';
import type {
  Capability, ChatChunk, ChatRequest, ChatResponse, CompletionsChunk, CompletionsRequest, CompletionsResponse,
  EmbeddingsRequest, EmbeddingsResponse, EndpointType, UnifiedChunk, UnifiedResponse,
} from './types.js';
import type { ErrorCodeInfo, GatewayError } from './errors.js';
import type {
  AttemptPolicy, Caller, EndpointInfo, Invocation, Observer, RouteInfo, Stage, StageMiddleware,
} from './pipeline.js';

/** The plugin API version this sdk speaks. A manifest's `gateway.apiVersion` must equal it. Version 2 added headers, guards, observers, attempts, config slices, lifetimes and plugin error codes. */
export const API_VERSION = 2;

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

/** Wall-clock time in epoch milliseconds; injected so limits, breakers and traces can be tested exactly. */
export interface Clock { now(): number }

/** A random source in [0, 1); injected so traffic splits and sampling can be tested exactly. */
export interface Random { next(): number }

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

/**
 * Per-call context. Pass `call.signal` to `ctx.http` on every upstream request: the kernel's
 * client then aborts the call when the caller leaves, adds the attempt's extra upstream headers
 * (e.g. `traceparent`) and reports the attempt's upstream timing to observers.
 */
export interface CallContext {
  /** Aborted when the caller disconnects, the attempt is abandoned or the gateway shuts down. */
  signal: AbortSignal;
  /** The invocation's id (the request's `x-request-id`). */
  invocationId?: string;
  /** 1 for the first attempt, 2 for the next (a retry or a fallback), ... */
  attempt?: number;
  /** Extra headers for the upstream request of this attempt; the kernel's HTTP client sends them. */
  headers?: Readonly<Record<string, string>>;
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
  /**
   * The upstream takes OpenAI's `max_completion_tokens` as it is (OpenAI's own API). Otherwise
   * (the default) every chat and completions call gets it folded into `max_tokens`, so no
   * provider ignores the limit or forwards a key its API refuses.
   */
  readonly acceptsMaxCompletionTokens: boolean;
  /** If set, a deprecation warning printed at start-up when the provider is used. */
  readonly deprecated?: string;
  /** What the provider can do, for docs and `plugins list` (derived from `create` if omitted). */
  readonly capabilities?: readonly Capability[];
  /** Extra config rules beyond the schema; return messages for each problem. */
  validate?(config: C, model: { name: string | null; provider: string }, endpointType: EndpointType): string[] | string | void;
  create(ctx: ProviderContext<C>): ProviderInstance;
}

/** A class-style provider: a `BaseProvider` subclass made once per endpoint with its context. */
export type ProviderClass<C> = new (ctx: ProviderContext<C>) => BaseProvider<C>;

export type ProviderInput<C> = Omit<ProviderDefinition<C>, typeof PROVIDER_BRAND | 'kind' | 'apiVersion' | 'aliases' | 'requiresConfig' | 'allowModelField' | 'acceptsMaxCompletionTokens' | 'create'>
  & { apiVersion?: number; aliases?: readonly string[]; requiresConfig?: boolean; allowModelField?: boolean; acceptsMaxCompletionTokens?: boolean }
  & {
    /** Object style: return the instance's methods (or a `BaseProvider` instance). Give this or `provider`. */
    create?(ctx: ProviderContext<C>): ProviderInstance | BaseProvider<C>;
    /** Class style: a `BaseProvider` subclass; the methods it does not override answer 501. Give this or `create`. */
    provider?: ProviderClass<C>;
  };

/**
 * Define a provider.
 * @example
 * export default defineProvider({
 *   name: 'acme', displayName: 'Acme',
 *   configSchema: { type: 'object', required: ['acme_api_key'], properties: { acme_api_key: { type: 'string' } } },
 *   create: (ctx) => ({ async chat(req, call) { ... } }),
 * });
 * // or, class style (see BaseProvider): defineProvider({ name: 'acme', displayName: 'Acme', configSchema, provider: AcmeProvider })
 */
export function defineProvider<C = Record<string, unknown>>(def: ProviderInput<C>): ProviderDefinition<C> {
  if (!def.name || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(def.name)) throw new TypeError(`provider name '${def.name}' must be kebab-case`);
  const { provider: Cls, create: make, ...rest } = def;
  if ((typeof Cls === 'function') === (typeof make === 'function')) throw new TypeError(`provider '${def.name}' needs exactly one of create or provider`);
  const adapt = (instance: ProviderInstance | BaseProvider<C>) => {
    const plain = adaptProviderInstance(instance, def.displayName);
    return def.acceptsMaxCompletionTokens ? plain : withFoldedLimits(plain);
  };
  const create = Cls ? (ctx: ProviderContext<C>) => adapt(new Cls(ctx)) : (ctx: ProviderContext<C>) => adapt(make!(ctx));
  return Object.freeze({
    aliases: [],
    requiresConfig: true,
    allowModelField: false,
    acceptsMaxCompletionTokens: false,
    ...(Cls && !rest.capabilities ? { capabilities: capabilitiesOf(Cls) } : {}),
    ...rest,
    create,
    apiVersion: def.apiVersion ?? API_VERSION,
    kind: 'provider' as const,
    [PROVIDER_BRAND]: true as const,
  });
}

export function isProviderDefinition(x: unknown): x is ProviderDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PROVIDER_BRAND] === true;
}

// ---------------------------------------------------------------------------------------------
// HTTP routes, surfaces and the guard

/**
 * Who may call a route: `public` (anyone, e.g. `/health`), `caller` (anyone the guard admits,
 * the default) or `admin` (callers with the `admin` scope). With no guard installed every route
 * is open, as in MLflow.
 */
export type RouteAccess = 'public' | 'caller' | 'admin';

export interface RouteRequest {
  /** The request id (also on the answer as `x-request-id`). */
  readonly id: string;
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** Lower-case names, read-only. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  ip: string;
  /** Aborted when the caller disconnects. */
  signal: AbortSignal;
  /** Who is calling, once the guard established it. */
  caller: Caller | null;
  /** Set a response header, applied to whatever the answer turns out to be (JSON, stream, error). */
  setHeader(name: string, value: string): void;
  /** Read and parse the JSON body (once; later calls return the same value). A malformed body throws a 4xx GatewayError. */
  json(): Promise<unknown>;
}

export type RouteResult =
  | { status?: number; headers?: Record<string, string>; json: unknown }
  | { status?: number; headers?: Record<string, string>; text: string | Uint8Array; contentType: string }
  | { status?: number; redirect: string }
  /**
   * Server-sent events: each item is written as `data: <json>\n\n`, or with an `event:` line when
   * made by `sseEvent(name, data)`. Pass the invocation so observers see its chunks and usage.
   */
  | { sse: AsyncIterable<unknown>; headers?: Record<string, string>; invocation?: Invocation }
  /** A file or stream body. */
  | { status?: number; headers?: Record<string, string>; stream: NodeJS.ReadableStream; contentType: string };

const SSE_EVENT = Symbol.for('gatehouse.sseEvent');

/**
 * A named server-sent event (`event: <name>` then `data: <json>`), for surfaces whose clients
 * expect them (Anthropic's Messages API, OpenAI's Responses API). Also valid from `renderStreamError`.
 * @example yield sseEvent('message_start', { type: 'message_start', message });
 */
export function sseEvent(event: string, data: unknown): { event: string; data: unknown } {
  return { [SSE_EVENT]: true, event, data } as { event: string; data: unknown };
}

/** An OpenAPI 3.1 operation object (summary, tags, requestBody, responses, ...). */
export type OpenAPIOperation = Record<string, unknown>;

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A koa-router path, e.g. `/endpoints/:name/invocations`. */
  path: string;
  /** The surface whose error shape this route uses (default: the surface whose `pathPrefix` matches). */
  surface?: string;
  /** Who may call it (default `caller`). */
  access?: RouteAccess;
  /** The route's OpenAPI operation; routes without one are not in `/openapi.json`. */
  openapi?: OpenAPIOperation;
  /**
   * Whether a path the pattern matches names something that exists (e.g. a configured endpoint).
   * When it returns false, the path counts as unmatched for the edge's fallback answers: another
   * method gets 404 (not 405) and no trailing-slash redirect leads to it, as with a router that holds
   * one static route per name. The handler itself still decides what a call to such a path answers.
   */
  exists?(params: Readonly<Record<string, string>>, gateway: GatewayApi): boolean;
  handler(req: RouteRequest, gateway: GatewayApi): Promise<RouteResult>;
}

/** How a surface shapes errors and streams. */
export interface SurfaceDefinition {
  name: string;
  /** Unmatched paths under this prefix (404, 405) are answered in this surface's shape, e.g. `/v1/`. The longest prefix wins. */
  pathPrefix?: string;
  /** The answer for an error. The kernel gives `context.requestId`, the request's id (also sent as `x-request-id`), for surfaces whose clients read it elsewhere. */
  renderError(err: GatewayError, context?: { requestId: string }): { status: number; body: unknown; headers?: Record<string, string> };
  /** The event written after the last chunk, e.g. `[DONE]`. */
  streamTerminator?: string;
  /** The event written when a stream fails after it started. */
  renderStreamError?(err: GatewayError): unknown;
}

/** What the guard is told about the route being called. */
export interface GuardTarget {
  method: string;
  /** The route pattern, e.g. `/v1/models`. */
  path: string;
  access: RouteAccess;
  /** The plugin that added the route. */
  owner: string;
}

/**
 * Runs before every route handler, on headers alone (the body is not read yet). Set
 * `req.caller` to admit someone; throw a GatewayError (401, 403) to refuse.
 * @example
 * ctx.guard((req, route) => {
 *   if (route.access === 'public') return;
 *   const key = String(req.headers['x-api-key'] ?? '');
 *   if (!valid(key)) throw new GatewayError('GW_ERR_AUTH_MISSING', 'A gateway key is required.');
 *   req.caller = { name: nameOf(key), scopes: [] };
 * });
 */
export type Guard = (req: RouteRequest, route: GuardTarget) => void | Promise<void>;

export interface InvokeRequest {
  /** The HTTP request the call came from: headers, caller, signal, response headers. */
  req: RouteRequest;
  surface: string;
  target: string;
  /** The endpoint type the caller's path expects; a mismatch is a 400. */
  expectType?: EndpointType;
  /** Ignore a `model` field in the body (the OpenAI surface uses it to name the endpoint). */
  modelNamesTarget?: boolean;
  /** The body, when the surface already read it; otherwise the kernel's `receive` step reads `req.json()`. */
  body?: unknown;
}

export type InvokeResult =
  | { kind: 'json'; value: UnifiedResponse; invocation: Invocation }
  | { kind: 'stream'; chunks: AsyncIterable<UnifiedChunk>; invocation: Invocation };

/** One mounted HTTP route, as `GatewayApi.httpRoutes()` lists it. */
export interface HttpRouteInfo {
  method: string;
  path: string;
  surface: string;
  access: RouteAccess;
  openapi: OpenAPIOperation | null;
  owner: string;
}

/** What plugins may ask of the running gateway. */
export interface GatewayApi {
  /** The kernel's version. */
  readonly version: string;
  /** Every HTTP route of this configuration with the plugin that added it. */
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
// State that outlives a configuration, and state shared across `--workers`

/**
 * Atomic counters with expiry, exact across `--workers` (relayed through the cluster primary)
 * and in-process for a single process. Keys are namespaced by the caller (e.g. `rate-limit:chat:1.2.3.4`).
 * Values are finite numbers (they cross process boundaries as JSON: use `Number.MAX_VALUE`, not
 * `Infinity`); a missing or expired key reads as undefined.
 */
export interface SharedState {
  get(key: string): Promise<number | undefined>;
  /** Set a value; `ttlMs` makes it expire. */
  set(key: string, value: number, ttlMs?: number): Promise<void>;
  /** Add `delta` to a counter (created at 0) and return the new value; `ttlMs` renews its expiry. */
  add(key: string, delta: number, ttlMs?: number): Promise<number>;
  /**
   * Atomic bounded add: `next = max(value ?? floor, floor) + delta`, stored only when
   * `next <= ceiling`. Returns whether it was stored and the value it computed. One primitive
   * serves token buckets (GCRA: value = theoretical arrival time), single-probe latches and caps.
   */
  addBounded(key: string, op: { delta: number; floor: number; ceiling: number; ttlMs?: number }): Promise<{ ok: boolean; value: number }>;
  delete(key: string): Promise<void>;
}

/** Messages between a worker and the cluster primary (in-process with one process). */
export interface ClusterApi {
  /** True in a `--workers` child process. */
  readonly isWorker: boolean;
  /** The worker's id (1, 2, ...), or null in a single process. */
  readonly workerId: number | null;
  /** Ask the primary: runs the handler a plugin registered with `PrimaryContext.handle(channel)`. */
  request<T = unknown>(channel: string, payload?: unknown): Promise<T>;
}

/** What a plugin's `primary` hook gets: it runs once per process tree, in the cluster primary (or in the only process). */
export interface PrimaryContext<C = Record<string, unknown>> {
  readonly name: string;
  /** The plugin's top-level config section at start-up. */
  readonly config: C;
  readonly logger: Logger;
  readonly workers: number;
  /** Answer `ClusterApi.request(channel)` from workers. Channels are namespaced by the plugin name automatically. */
  handle(channel: string, fn: (payload: unknown, workerId: number | null) => unknown | Promise<unknown>): void;
  /** Called when the whole gateway stops. */
  onShutdown(fn: () => Promise<void> | void): void;
}

// ---------------------------------------------------------------------------------------------
// Feature plugins

export interface PluginContext<C = Record<string, unknown>> {
  readonly name: string;
  /** The plugin's own top-level config section (the key equal to its name), validated, secrets resolved. */
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
  /** Join the kernel's attempt loop (retries, fallbacks, per-destination checks). */
  attempts(policy: AttemptPolicy): void;
  /** Watch every request's chunks, attempts and finish. */
  observe(observer: Observer): void;
  /** Install the guard that runs before every route handler. Only one plugin may install one. */
  guard(fn: Guard): void;
  /** Add an HTTP route. */
  route(def: RouteDefinition): void;
  /** Add a surface (error and stream shapes). */
  surface(def: SurfaceDefinition): void;
  /** Called when this configuration generation is retired (reload or shutdown). */
  onClose(fn: () => Promise<void> | void): void;
  /**
   * A value that lives for the whole process and survives reloads (buckets, breakers, metric
   * registries, Redis clients, trace writers): made on first use, returned as is afterwards.
   * `dispose` runs when the gateway stops.
   */
  keep<T>(key: string, make: () => T, dispose?: (value: T) => Promise<void> | void): T;
  /** Shared counters, exact across `--workers`. */
  readonly shared: SharedState;
  readonly cluster: ClusterApi;
  readonly clock: Clock;
  readonly random: Random;
  /** Remove every configured secret (provider keys, plugin secret fields) from a string or JSON value before it is stored, exported or logged. */
  scrub<T>(value: T): T;
  /** The environment the gateway resolves `$VAR`s from (read it instead of `process.env`, so tests can set it). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The keys a plugin owns in the config file; the kernel validates all of them in one pass. */
export interface PluginConfigSpec {
  /** JSON Schema of the plugin's top-level section (named after the plugin); `enabled` is added by the kernel. */
  section?: JSONSchema;
  /** Keys this plugin owns in each endpoint, with their schemas, e.g. `{ limit: {...} }`. */
  endpoint?: Record<string, JSONSchema>;
  /** Keys this plugin owns in each traffic route, e.g. `{ retries: {...} }`. */
  route?: Record<string, JSONSchema>;
  /** Keys this plugin owns in each destination of a route, e.g. `{ weight: {...} }`. */
  destination?: Record<string, JSONSchema>;
  /** The `routing_strategy` values this plugin serves. */
  strategies?: readonly string[];
  /**
   * Dot paths in the section resolved like API keys (`$ENV`, key file, literal) and scrubbed from
   * every answer and log line. `*` matches every item of a list, e.g. `keys.*.key`.
   */
  secrets?: readonly string[];
  /** Rules beyond the schemas (e.g. a period that does not parse). Return problems with YAML paths. */
  check?(config: ConfigView): Array<{ path: Array<string | number>; message: string }>;
}

/** The validated config as `PluginConfigSpec.check` sees it. */
export interface ConfigView {
  /** This plugin's section. */
  section: Record<string, unknown>;
  endpoints: readonly EndpointInfo[];
  routes: readonly RouteInfo[];
  /** The environment `$VAR`s resolve from. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface PluginDefinition<C = any> {
  readonly [PLUGIN_BRAND]: true;
  readonly kind: 'plugin';
  readonly name: string;
  readonly apiVersion: number;
  /** Plugins that must register before this one. */
  readonly dependsOn: readonly string[];
  /** Shorthand for `config.section`. */
  readonly configSchema?: JSONSchema;
  readonly config?: PluginConfigSpec;
  /** Error codes this plugin throws (`GW_ERR_<AREA>_<WHAT>`), registered at load time; a code defined twice is refused. */
  readonly errors?: Readonly<Record<string, ErrorCodeInfo>>;
  /** Runs once in the cluster primary (or in the only process) before any worker serves. */
  primary?(ctx: PrimaryContext<C>): void | Promise<void>;
  register(ctx: PluginContext<C>): void | Promise<void>;
}

export type PluginInput<C> = Omit<PluginDefinition<C>, typeof PLUGIN_BRAND | 'kind' | 'apiVersion' | 'dependsOn'> & { apiVersion?: number; dependsOn?: readonly string[] };

/**
 * Define a feature plugin.
 * @example
 * export default definePlugin({
 *   name: 'hello',
 *   register(ctx) { ctx.route({ method: 'GET', path: '/hello', access: 'public', handler: async () => ({ json: { hello: 'world' } }) }); },
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
