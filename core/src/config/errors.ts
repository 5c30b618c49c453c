import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * The kernel's one Ajv: manifests, the config and plugin schemas. Schemas are compiled once per
 * load, so ajv's code optimisation passes are off (about a third of the compile time). A schema is
 * checked against the meta-schema only when it fails to compile (`compileSchema`): compiling the
 * meta-schema's own validator took about 35 ms of every start, and Ajv refuses a malformed keyword
 * (`maximum: 'x'`, `required: 'a'`) at compile time anyway.
 */
export const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, useDefaults: true, code: { optimize: false }, validateSchema: false });

/** Compile a schema; one that does not compile is a start-up error naming `owner` and, from the meta-schema, where the schema is wrong. */
export function compileSchema(schema: object, owner: string): ValidateFunction {
  try { return ajv.compile(schema); } catch (e) {
    const where = ajv.validateSchema(schema) ? (e as Error).message : ajv.errorsText(ajv.errors, { dataVar: 'schema' });
    throw new StartupError('GW_ERR_PLUGIN_LOAD', [`${owner} has an invalid config schema: ${where}`]);
  }
}

export interface ConfigProblem {
  /** YAML path segments, e.g. ['endpoints', 0, 'model', 'provider']. */
  path: Array<string | number>;
  message: string;
  line?: number;
  col?: number;
}

export const formatPath = (path: Array<string | number>): string =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(top level)';

/**
 * The one start-up error: an invalid config (every problem, each with the file, its line and
 * column, and its YAML path) or an invalid plugin set (duplicates, manifests, imports, dependencies).
 */
export class StartupError extends Error {
  readonly problems: ConfigProblem[];
  constructor(readonly code: string, problems: Array<ConfigProblem | string>, readonly file?: string) {
    const list = problems.map((p) => (typeof p === 'string' ? { path: [], message: p } : p));
    super(file
      ? list.map((p) => `${file}${p.line ? `:${p.line}:${p.col}` : ''}: ${formatPath(p.path)}: ${p.message}`).join('\n')
      : list.length === 1 ? list[0]!.message : `${list.length} plugin problems:\n- ${list.map((p) => p.message).join('\n- ')}`);
    this.name = 'StartupError';
    this.problems = list;
  }
  /** What the CLI prints before the message. */
  get title(): string { return this.code === 'GW_ERR_CONFIG_INVALID' ? 'Invalid gateway configuration' : 'Invalid plugin set'; }
}

export const configError = (file: string, problems: ConfigProblem[]) => new StartupError('GW_ERR_CONFIG_INVALID', problems, file);

/** The closest of `options` to `word`, if it is close enough to be a likely typo. */
export function didYouMean(word: string, options: readonly string[]): string | undefined {
  const d = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!; row[0] = i;
      for (let j = 1; j <= b.length; j++) { const t = row[j]!; row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1)); prev = t; }
    }
    return row[b.length]!;
  };
  let best: string | undefined; let bestD = Infinity;
  for (const o of options) { const x = d(word.toLowerCase(), o.toLowerCase()); if (x < bestD) { bestD = x; best = o; } }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
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
        const near = didYouMean(p.additionalProperty, allowed);
        message = `unknown key '${p.additionalProperty}'${near ? ` (did you mean '${near}'?)` : ''}${allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''}`;
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
