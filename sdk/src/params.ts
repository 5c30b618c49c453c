/** OpenAI's `max_completion_tokens` for providers whose upstream knows only its own max-tokens field. */
import type { ProviderInstance } from './plugin.js';

const present = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * The request with OpenAI's newer `max_completion_tokens` folded into `max_tokens` (a `max_tokens`
 * the caller also gave wins; `null` counts as absent) and the `max_completion_tokens` key removed,
 * for upstreams that know only their own max-tokens field and may refuse unknown ones. Returns a
 * shallow copy; `req` is not changed. `defineProvider` applies it to every chat and completions
 * call of a provider that does not say `acceptsMaxCompletionTokens` (OpenAI's own API does: its
 * o-series models require `max_completion_tokens`).
 * @example foldMaxCompletionTokens({ prompt: 'p', max_completion_tokens: 7 }) // { prompt: 'p', max_tokens: 7 }
 */
export function foldMaxCompletionTokens<T extends Record<string, unknown>>(req: T): T {
  const out: Record<string, unknown> = { ...req };
  const limit = out.max_completion_tokens;
  delete out.max_completion_tokens;
  if (present(limit) && !present(out.max_tokens)) out.max_tokens = limit;
  return out as T;
}

const LIMITED: ReadonlySet<string> = new Set(['chat', 'chatStream', 'completions', 'completionsStream']);
const METHODS = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings', 'close'] as const;

/**
 * The instance with its chat and completions methods given requests without `max_completion_tokens`
 * (folded into `max_tokens`); embeddings and `close` unchanged. A request without the key is passed
 * as it is (no copy). Methods are looked up as the kernel does, prototype included.
 */
export function withFoldedLimits(instance: ProviderInstance): ProviderInstance {
  const out: Record<string, unknown> = {};
  for (const name of METHODS) {
    const fn = instance[name] as ((req: Record<string, unknown>, call: unknown) => unknown) | undefined;
    if (typeof fn !== 'function') continue;
    out[name] = LIMITED.has(name)
      ? (req: Record<string, unknown>, call: unknown) => fn.call(instance, 'max_completion_tokens' in req ? foldMaxCompletionTokens(req) : req, call)
      : fn.bind(instance);
  }
  return Object.freeze(out) as ProviderInstance;
}
