/**
 * The class style for provider authors coming from MLflow's `class CustomProvider(BaseProvider)`:
 * extend `BaseProvider`, override the capabilities your upstream has, and hand the class to
 * `defineProvider({ provider: MyProvider })`. Capabilities you do not override answer 501 with
 * MLflow's message. No decorators, no DI container: a plain class.
 */
import { unsupportedCapability } from './errors.js';
import type { HttpClient } from './http.js';
import type { CallContext, Logger, ProviderContext, ProviderInstance } from './plugin.js';
import type {
  Capability, ChatChunk, ChatRequest, ChatResponse, CompletionsChunk, CompletionsRequest, CompletionsResponse,
  EmbeddingsRequest, EmbeddingsResponse,
} from './types.js';

/** Brands, shared by every copy of the sdk (recognised by shape, never by `instanceof`). */
const INSTANCE_BRAND = Symbol.for('gatehouse.base-provider');
const DEFAULT_METHOD = Symbol.for('gatehouse.base-provider.default');
const DISPLAY_NAME = Symbol.for('gatehouse.base-provider.display-name');

const CAPABILITIES: readonly Capability[] = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'];

/**
 * Base class of a class-style provider. One instance is made per endpoint, with the endpoint's
 * context; override the methods your upstream supports. The kernel sees only the methods you
 * override, so the others answer 501 (`The embeddings route is not implemented for Acme models.`).
 * @example
 * class AcmeProvider extends BaseProvider<{ acme_api_key: string; acme_api_base: string }> {
 *   async chat(req: ChatRequest, call: CallContext) {
 *     const js = await this.http.json({ url: `${this.config.acme_api_base}/chat`, body: { messages: req.messages },
 *       headers: { authorization: `Bearer ${this.config.acme_api_key}` }, signal: call.signal, timeoutMs: this.timeoutMs });
 *     return chatResponse({ id: js.id, model: this.model.name ?? 'acme', choices: [{ message: { content: js.text }, finish_reason: 'stop' }] });
 *   }
 * }
 * export default defineProvider({ name: 'acme', displayName: 'Acme', configSchema, provider: AcmeProvider });
 */
export abstract class BaseProvider<C = Record<string, unknown>> {
  constructor(readonly ctx: ProviderContext<C>) {
    Object.defineProperty(this, INSTANCE_BRAND, { value: true });
  }

  /** The endpoint's `model.config`, validated, keys resolved. */
  get config(): C { return this.ctx.config; }
  /** The endpoint's `model` block. */
  get model(): ProviderContext<C>['model'] { return this.ctx.model; }
  get endpoint(): ProviderContext<C>['endpoint'] { return this.ctx.endpoint; }
  /** The shared upstream client: pass `call.signal` and `this.timeoutMs` on every request. */
  get http(): HttpClient { return this.ctx.http; }
  get logger(): Logger { return this.ctx.logger; }
  /** The endpoint's upstream timeout. */
  get timeoutMs(): number { return this.ctx.timeoutMs; }

  /** The provider's display name, for MLflow's 501 messages. */
  protected get displayName(): string {
    return ((this as unknown as Record<symbol, string | undefined>)[DISPLAY_NAME]) ?? this.constructor.name;
  }

  chat(_req: ChatRequest, _call: CallContext): Promise<ChatResponse> {
    return Promise.reject(unsupportedCapability('chat', this.displayName));
  }

  chatStream(_req: ChatRequest, _call: CallContext): AsyncIterable<ChatChunk> {
    throw unsupportedCapability('chatStream', this.displayName);
  }

  completions(_req: CompletionsRequest, _call: CallContext): Promise<CompletionsResponse> {
    return Promise.reject(unsupportedCapability('completions', this.displayName));
  }

  completionsStream(_req: CompletionsRequest, _call: CallContext): AsyncIterable<CompletionsChunk> {
    throw unsupportedCapability('completionsStream', this.displayName);
  }

  embeddings(_req: EmbeddingsRequest, _call: CallContext): Promise<EmbeddingsResponse> {
    return Promise.reject(unsupportedCapability('embeddings', this.displayName));
  }

  /** Release what the instance holds (called when its configuration is retired). */
  close?(): Promise<void> | void;
}

for (const cap of CAPABILITIES) {
  Object.defineProperty(BaseProvider.prototype[cap], DEFAULT_METHOD, { value: true });
}

/** True for an instance of a `BaseProvider` subclass, from any copy of the sdk. */
export function isBaseProvider(x: unknown): x is BaseProvider<any> {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[INSTANCE_BRAND] === true;
}

const overridden = (fn: unknown): boolean =>
  typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[DEFAULT_METHOD] !== true;

/**
 * The capabilities a `BaseProvider` subclass overrides, read from its prototype chain.
 * @example capabilitiesOf(AcmeProvider) // ['chat', 'chatStream']
 */
export function capabilitiesOf(cls: abstract new (...args: any[]) => BaseProvider<any>): Capability[] {
  return CAPABILITIES.filter((cap) => overridden((cls.prototype as Record<string, unknown>)[cap]));
}

/**
 * Turn a `BaseProvider` instance into the plain `ProviderInstance` the kernel calls: only the
 * overridden capability methods (bound) and `close` are present, so the kernel's capability
 * check (`typeof instance.chat === 'function'`) and its 501 answers see exactly what the class
 * implements. Anything that is not a `BaseProvider` is returned unchanged. `defineProvider` calls it.
 */
export function adaptProviderInstance(instance: ProviderInstance | BaseProvider<any>, displayName: string): ProviderInstance {
  if (!isBaseProvider(instance)) return instance as ProviderInstance;
  Object.defineProperty(instance, DISPLAY_NAME, { value: displayName, configurable: true });
  const out: ProviderInstance = {};
  const methods = instance as unknown as Record<string, unknown>;
  for (const cap of CAPABILITIES) {
    const fn = methods[cap];
    if (overridden(fn)) (out as Record<string, unknown>)[cap] = (fn as (...a: unknown[]) => unknown).bind(instance);
  }
  if (typeof instance.close === 'function') out.close = instance.close.bind(instance);
  return Object.freeze(out);
}
