import { existsSync, readFileSync, statSync } from 'node:fs';

/**
 * MLflow's `_resolve_api_key_from_input`: `$NAME` reads the environment (unset or empty is an
 * error), an existing file's content is used as-is, anything else is the literal key.
 */
export function resolveKey(value: unknown, env: NodeJS.ProcessEnv): { value?: string; error?: string } {
  if (typeof value !== 'string') {
    return { error: 'The api key provided is not a string. Please provide either an environment variable key, a path to a file containing the api key, or the api key itself' };
  }
  if (value.startsWith('$')) {
    const name = value.slice(1);
    const v = env[name];
    if (v === undefined || v === '') return { error: `Environment variable '${name}' is not set` };
    return { value: v };
  }
  try {
    if (value.length < 4096 && existsSync(value) && statSync(value).isFile()) return { value: readFileSync(value, 'utf8') };
  } catch { /* not a usable path: a literal key */ }
  return { value };
}

/** Read a dot path (`aws_config.aws_region`) from an object. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys[keys.length - 1]!] = value;
}
