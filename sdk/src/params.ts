/** Request-parameter helpers for providers whose upstream is not OpenAI's API. */

const present = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * The request with OpenAI's newer `max_completion_tokens` folded into `max_tokens` (a `max_tokens`
 * the caller also gave wins; `null` counts as absent) and the `max_completion_tokens` key removed,
 * for upstreams that know only their own max-tokens field and may refuse unknown ones. Returns a
 * shallow copy; `req` is not changed. Providers for OpenAI's own API must not use it (o-series
 * models require `max_completion_tokens`).
 * @example foldMaxCompletionTokens({ prompt: 'p', max_completion_tokens: 7 }) // { prompt: 'p', max_tokens: 7 }
 */
export function foldMaxCompletionTokens<T extends Record<string, unknown>>(req: T): T {
  const out: Record<string, unknown> = { ...req };
  const limit = out.max_completion_tokens;
  delete out.max_completion_tokens;
  if (present(limit) && !present(out.max_tokens)) out.max_tokens = limit;
  return out as T;
}
