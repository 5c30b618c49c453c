/**
 * Parsing request bodies safely: a depth cap checked before `JSON.parse` (a body nested thousands
 * of levels deep must answer a 400, not exhaust a recursive walk later), and FastAPI's 422 for
 * text that is not JSON.
 */
import { GatewayError } from './errors.js';

/** True when text is empty or only whitespace: stops at the first other character (no trimmed copy of a large body). */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9 && c !== 0xfeff && c !== 0xa0 && !(c > 127 && /\s/.test(text[i]!))) return false;
  }
  return true;
}

/** The default cap on nesting (objects and arrays) of a request body. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * The offset of the first `{` or `[` that opens level `maxDepth + 1`, or -1 when the text never
 * nests deeper than `maxDepth`. Brackets inside strings (escapes included) do not count. It does
 * not validate the JSON; it is a linear scan that jumps over string contents with `indexOf`.
 * @example jsonDepthExceeded('[[1]]', 1) // 1
 */
export function jsonDepthExceeded(text: string, maxDepth: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Jump to the closing quote: the next quote preceded by an even number of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j === -1) return -1; // unterminated string: JSON.parse reports it
        let k = j - 1;
        while (text.charCodeAt(k) === 92 /* \ */) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return i;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return -1;
}

/**
 * FastAPI's answer to a body that is not JSON: a 422 whose detail is pydantic's `json_invalid`
 * error, located at the offset where parsing failed when the parser says so.
 */
export function invalidJsonError(_text: string, e: unknown): GatewayError {
  const message = (e as Error)?.message ?? String(e);
  const m = /position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : 0;
  return new GatewayError('GW_ERR_REQUEST_INVALID_JSON', `Invalid JSON body: ${message}`, {
    detail: [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error: message } }],
    cause: e,
  });
}

/**
 * Parse a request body. Blank text (empty or whitespace only) is `undefined`, so the schema
 * check can say "Field required"; text nested deeper than `maxDepth` (default 64) is a 400
 * `GW_ERR_REQUEST_BAD`, refused before parsing; text that is not JSON is a 422
 * `GW_ERR_REQUEST_INVALID_JSON` with FastAPI's detail.
 * @example
 * const body = parseJsonBody(await readBody(req)); // throws GatewayErrors the surfaces render
 */
export function parseJsonBody(text: string, opts: { maxDepth?: number } = {}): unknown {
  if (isBlank(text)) return undefined;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const at = jsonDepthExceeded(text, maxDepth);
  if (at !== -1) {
    throw new GatewayError('GW_ERR_REQUEST_BAD',
      `The JSON body is nested too deeply: more than ${maxDepth} levels of objects and arrays (at offset ${at}).`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidJsonError(text, e);
  }
}
