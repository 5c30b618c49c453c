import type { ErrorObject } from 'ajv';

export interface ConfigProblem {
  /** YAML path segments, e.g. ['endpoints', 0, 'model', 'provider']. */
  path: Array<string | number>;
  message: string;
  line?: number;
  col?: number;
}

export const formatPath = (path: Array<string | number>): string =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(top level)';

/** An invalid config: every problem, each with the file, its line and column, and its YAML path. */
export class ConfigError extends Error {
  readonly code = 'GW_ERR_CONFIG_INVALID';
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}:${p.col}` : ''}: ${formatPath(p.path)}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v);
const expectedType = (t: unknown): string => {
  const one = (x: string) => ({ object: 'a mapping', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' }[x] ?? x);
  return Array.isArray(t) ? t.map(one).join(' or ') : one(String(t));
};

/** Turn ajv errors into config problems with plain-language expectations. */
export function ajvProblems(errors: ErrorObject[] | null | undefined, prefix: Array<string | number>, data: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  const valueAt = (segs: Array<string | number>) => segs.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k as string] : undefined), data);
  // anyOf/oneOf failures report every branch; keep only the summary for that location.
  const unionPaths = new Set((errors ?? []).filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath));
  for (const e of errors ?? []) {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && unionPaths.has(e.instancePath) && /\/(anyOf|oneOf)\//.test(e.schemaPath)) continue;
    const segs = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const path = [...prefix, ...segs];
    let message: string;
    const p = e.params as Record<string, any>;
    switch (e.keyword) {
      case 'required': message = `missing required key '${p.missingProperty}'`; break;
      case 'additionalProperties': {
        const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        path.push(p.additionalProperty);
        message = `unknown key '${p.additionalProperty}'${allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''}`;
        break;
      }
      case 'type': message = `expected ${expectedType(p.type)}, got ${typeName(valueAt(segs))}`; break;
      case 'enum': message = `expected one of: ${(p.allowedValues as unknown[]).join(', ')}; got ${JSON.stringify(valueAt(segs))}`; break;
      case 'const': message = `expected ${JSON.stringify(p.allowedValue)}; got ${JSON.stringify(valueAt(segs))}`; break;
      case 'anyOf': case 'oneOf': message = `got ${JSON.stringify(valueAt(segs))}, which matches none of the allowed forms`; break;
      default: message = `${e.message ?? 'is invalid'}`;
    }
    const key = `${path.join('/')}|${message}`;
    if (!seen.has(key)) { seen.add(key); out.push({ path, message }); }
  }
  return out;
}
