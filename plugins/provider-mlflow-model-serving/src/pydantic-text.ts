/**
 * Renders validation problems the way pydantic v2 prints a `ValidationError`, so that a 502 from
 * this provider reads like MLflow's (e.g. `1 validation error for ServingTextResponse\npredictions\n
 *   Value error, The input list is empty [type=value_error, input_value=[], input_type=list]`).
 * The trailing "For further information visit https://errors.pydantic.dev/..." lines are left out.
 */

export interface LineError {
  loc: Array<string | number>;
  type: string;
  msg: string;
  input: unknown;
}

const pyStr = (s: string): string => {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
};

const pyNum = (n: number): string => {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
};

/** Python's `repr()` of a JSON value. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNum(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyStr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

/** Python's type name of a JSON value (JSON numbers without a fraction are `int`). */
export function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** pydantic-core shortens long reprs to their first 25 and last 24 characters. */
function truncate(s: string): string {
  const chars = [...s];
  return chars.length > 50 ? `${chars.slice(0, 25).join('')}...${chars.slice(-24).join('')}` : s;
}

export function renderValidationError(title: string, errors: LineError[]): string {
  const n = errors.length;
  const lines = errors.map((e) =>
    `${e.loc.join('.')}\n  ${e.msg} [type=${e.type}, input_value=${truncate(pyRepr(e.input))}, input_type=${pyType(e.input)}]`);
  return `${n} validation error${n === 1 ? '' : 's'} for ${title}\n${lines.join('\n')}`;
}
