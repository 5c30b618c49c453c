/**
 * The request pipeline, in order. Every call — whatever surface it came from — runs these
 * stages; plugins join a stage `pre` (before the kernel's own step) or `post` (after it).
 * The table is a `Record<Stage, ...>`, so a stage added to the sdk without a line here does
 * not compile.
 */
import {
  GatewayError, unsupportedCapability, type Capability, type Invocation, type ProviderDefinition,
  type ProviderInstance, type Stage, type StageMiddleware,
} from '@gatehouse/sdk';
import { validateRequest } from './validate.js';

export interface BoundEndpoint { def: ProviderDefinition; instance: ProviderInstance }

export interface KernelStageDeps {
  endpoint(name: string): BoundEndpoint | undefined;
}

const capabilityOf = (inv: Invocation): Capability => {
  switch (inv.type) {
    case 'llm/v1/chat': return inv.stream ? 'chatStream' : 'chat';
    case 'llm/v1/completions': return inv.stream ? 'completionsStream' : 'completions';
    default: return 'embeddings';
  }
};

/** Start an async iterable and wait for its first item, so failures before any output keep their HTTP status. */
async function primed<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  let started = false;
  return {
    [Symbol.asyncIterator]() {
      return {
        next: () => {
          if (!started) { started = true; return Promise.resolve(first); }
          return it.next();
        },
        return: async (v?: unknown) => { await it.return?.(v); return { done: true as const, value: undefined }; },
      } as AsyncIterator<T>;
    },
  };
}

export function kernelStages(deps: KernelStageDeps): Record<Stage, StageMiddleware | null> {
  return {
    /** Validate the body for the endpoint type (FastAPI-shaped 422s) and apply MLflow's defaults. */
    receive: async (inv, next) => {
      inv.body = validateRequest(inv.type, inv.body);
      inv.stream = inv.type !== 'llm/v1/embeddings' && inv.body.stream === true;
      await next();
    },
    /** Authentication and limits are plugins. */
    admit: null,
    /** Bind the named endpoint; a traffic route needs a routing plugin to pick a destination first. */
    route: async (inv, next) => {
      if (!inv.endpoint && inv.route) {
        throw new GatewayError('GW_ERR_NOT_IMPLEMENTED', `'${inv.route.name}' is a traffic route, and no routing plugin is installed and enabled to choose its destination.`);
      }
      await next();
    },
    /** Call the provider. Streams are started here, so an upstream error before the first chunk is a plain HTTP error. */
    invoke: async (inv, next) => {
      const bound = inv.endpoint && deps.endpoint(inv.endpoint.name);
      if (!bound) throw new GatewayError('GW_ERR_INTERNAL', `no provider is bound to '${inv.target}'`);
      if (inv.body.model !== undefined && inv.body.model !== null && !bound.def.allowModelField) {
        throw new GatewayError('GW_ERR_REQUEST_MODEL_FIELD', "The parameter 'model' is not permitted to be passed. The route being queried already defines a model instance.", { param: 'model' });
      }
      const cap = capabilityOf(inv);
      const method = bound.instance[cap] as ((req: unknown, call: { signal: AbortSignal }) => any) | undefined;
      if (!method) throw unsupportedCapability(cap, bound.def.displayName);
      const call = { signal: inv.signal };
      inv.result = inv.stream
        ? await primed(method.call(bound.instance, inv.body, call) as AsyncIterable<never>)
        : await method.call(bound.instance, inv.body, call);
      await next();
    },
    /** Post-processing (metrics, tracing, usage accounting) are plugins. */
    respond: null,
  };
}
