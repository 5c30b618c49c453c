/**
 * `json.dumps(value)` exactly as CPython writes it with default arguments: separators `", "` and
 * `": "`, `ensure_ascii=True` (every character outside printable ASCII escaped as lowercase
 * `\uXXXX`, UTF-16 surrogates included) and floats in `repr` form (`1e-05`, `1e+16`).
 *
 * MLflow builds Gemini tool-call `arguments` and the fallback call id
 * (`"call_" + md5(f"{name}/{json.dumps(args)}")`) with it, so matching it byte for byte keeps
 * call ids and argument strings identical to MLflow's.
 *
 * Known limit: JSON parsed in JavaScript cannot tell `1.0` from `1`; Python keeps a float and
 * prints `1.0`. Gemini (protobuf `Struct`) prints integral doubles without a fraction, so
 * this does not arise with its answers.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') return pythonNumber(value);
  if (typeof value === 'string') return pythonString(value);
  if (Array.isArray(value)) return '[' + value.map(pythonJsonDumps).join(', ') + ']';
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return '{' + entries.map(([k, v]) => `${pythonString(k)}: ${pythonJsonDumps(v)}`).join(', ') + '}';
  }
  return 'null';
}

function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  // An integral value came from a JSON integer (Python int): printed without exponent.
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return Object.is(n, -0) ? '-0.0' : String(n);
  // float.__repr__: shortest round-trip digits; scientific when exponent < -4 or >= 16.
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp >= -4 && exp < 16) {
    const s = String(n);
    return /[.e]/.test(s) ? s : s + '.0';
  }
  const [mantissa, e] = n.toExponential().split('e') as [string, string];
  const sign = e.startsWith('-') ? '-' : '+';
  const digits = e.replace(/^[+-]/, '');
  return `${mantissa}e${sign}${digits.padStart(2, '0')}`;
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}
