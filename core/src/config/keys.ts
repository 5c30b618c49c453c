import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Values that can only be meant as a path to a key file. */
const PATH_LIKE = /^(\/|\.\/|\.\.\/|~\/)/;

/**
 * MLflow's `_resolve_api_key_from_input`: `$NAME` reads the environment (unset or empty is an
 * error), an existing file's content is used, anything else is the literal key. Unlike MLflow,
 * surrounding whitespace is trimmed from every source (`echo KEY > file` leaves a newline, which
 * no HTTP header may carry), `~/` means the home directory, and a value that looks like a path
 * (`/`, `./`, `../`, `~/`) but names no file is an error rather than a key sent upstream.
 */
export function resolveKey(value: unknown, env: NodeJS.ProcessEnv): { value?: string; error?: string } {
  if (typeof value !== 'string') {
    return { error: 'The api key provided is not a string. Please provide either an environment variable key, a path to a file containing the api key, or the api key itself' };
  }
  if (value.startsWith('$')) {
    const name = value.slice(1);
    const v = env[name]?.trim();
    if (v === undefined || v === '') return { error: `Environment variable '${name}' is not set` };
    return { value: v };
  }
  if (value.length < 4096) {
    const path = value.startsWith('~/') ? join(homedir(), value.slice(2)) : value;
    let stat: ReturnType<typeof statSync> | undefined;
    try { stat = statSync(path, { throwIfNoEntry: false }); } catch { stat = undefined; }
    if (stat?.isFile()) {
      let content: string;
      try { content = readFileSync(path, 'utf8').trim(); } catch (e) {
        return { error: `The key file '${value}' could not be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).` };
      }
      if (!content) return { error: `The key file '${value}' is empty.` };
      return { value: content };
    }
    if (PATH_LIKE.test(value)) {
      return stat?.isDirectory()
        ? { error: `The api key '${value}' names a directory, not a file holding the key.` }
        : { error: `The api key '${value}' looks like a path to a key file, but there is no such file.` };
    }
  }
  const literal = value.trim();
  if (!literal) return { error: 'The api key is empty.' };
  return { value: literal };
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
