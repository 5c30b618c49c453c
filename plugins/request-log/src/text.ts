/**
 * A request line as text, byte for byte what `requestLogger(...)[level](line, 'request')` writes
 * (pino 10 with `base: null`, `messageKey: 'msg'`, the `isoTime` below, default level labels and
 * no serializers), made without pino's per-line work: its generic property loop calls
 * `JSON.stringify` for every null and nested value (and `JSON.stringify` of the whole line, on
 * Node 20, costs about twice what this does). Pure string building over the fields `buildLine`
 * sets, in its order; strings quoted exactly as pino quotes them.
 */
import type { RequestLine } from './line.js';

const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let timeMs = Number.NaN;
let timeText = '';
let secondMs = Number.NaN;
let secondText = '';

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"<ISO 8601>"` of `Date.now()`), formatted once per
 * second and then only the milliseconds changed: `toISOString` per line was a good part of its cost.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now === timeMs) return timeText;
  const ms = now % 1000;
  if (ms < 0) return `,"time":"${new Date(now).toISOString()}"`; // before 1970: not worth a cache
  if (now - ms !== secondMs) {
    secondMs = now - ms;
    secondText = `,"time":"${new Date(secondMs).toISOString().slice(0, -4)}`; // up to the '.' before the milliseconds
  }
  timeMs = now;
  timeText = `${secondText}${MILLIS[ms]}Z"`;
  return timeText;
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

/** pino's string quoting (`lib/tools.js` `_asString`): only `"` and `\` escaped in a short string without control characters. */
function pinoQuote(str: string): string {
  const l = str.length;
  if (l > 100) return JSON.stringify(str);
  let result = '';
  let last = 0;
  let found = false;
  let point = 255;
  for (let i = 0; i < l && point >= 32; i++) {
    point = str.charCodeAt(i);
    if (point === 34 || point === 92) {
      result += `${str.slice(last, i)}\\`;
      last = i;
      found = true;
    }
  }
  if (!found) result = str;
  else result += str.slice(last);
  return point < 32 ? JSON.stringify(str) : `"${result}"`;
}

/** As pino quotes a string value (from Node 25 on it uses `JSON.stringify`). */
const quote: (s: string) => string = nodeMajor >= 25 ? (s) => JSON.stringify(s) : pinoQuote;

/** Thrown when a value is one pino would serialize in a way this file does not copy; the caller lets pino write the line. */
const UNUSUAL = Symbol('unusual value');

/** `s` plus the member `key` (`,"name":`) with `v` as pino's `_asJson` writes a property value; undefined and functions are left out. */
function member(s: string, key: string, v: unknown): string {
  switch (typeof v) {
    case 'string': return s + key + quote(v);
    case 'number': return s + key + (Number.isFinite(v) ? `${v}` : 'null');
    case 'boolean': return s + key + (v ? 'true' : 'false');
    case 'undefined': case 'function': return s;
    case 'object': {
      if (v === null) return `${s + key}null`;
      let json: string | undefined;
      try { json = JSON.stringify(v); } catch { throw UNUSUAL; } // pino falls back to safe-stable-stringify
      return json === undefined ? s : s + key + json;
    }
    default: throw UNUSUAL; // symbol, bigint
  }
}

/** A token count inside `tokens`, as `JSON.stringify` writes it: only null and numbers are done here. */
function count(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'number') throw UNUSUAL;
  return Number.isFinite(v) ? `${v}` : 'null';
}

/** `tokens` as buildLine makes it, `{input, output, total}`, written as `JSON.stringify` would (pino does). */
function tokens(s: string, t: RequestLine['tokens']): string {
  if (t === null || typeof t !== 'object') return member(s, ',"tokens":', t);
  return `${s},"tokens":{"input":${count(t.input)},"output":${count(t.output)},"total":${count(t.total)}}`;
}

const LEVEL_PREFIX = { info: '{"level":30', warn: '{"level":40', error: '{"level":50' } as const;

/**
 * The text pino writes for `log[level](line, 'request')`, newline included; or null for a line
 * with a value this file does not copy pino's handling of (then let pino write it).
 * `line` must come from `buildLine`: the members are written in its order.
 */
export function lineText(line: RequestLine, level: 'info' | 'warn' | 'error'): string | null {
  const l = line;
  let s = LEVEL_PREFIX[level] + isoTime();
  try {
    s = member(s, ',"request_id":', l.request_id);
    s = member(s, ',"method":', l.method);
    s = member(s, ',"path":', l.path);
    s = member(s, ',"http_route":', l.http_route);
    s = member(s, ',"surface":', l.surface);
    s = member(s, ',"target":', l.target);
    s = member(s, ',"endpoint":', l.endpoint);
    s = member(s, ',"route":', l.route);
    s = member(s, ',"destination":', l.destination);
    s = member(s, ',"provider":', l.provider);
    s = member(s, ',"model":', l.model);
    s = member(s, ',"status":', l.status);
    s = member(s, ',"code":', l.code);
    s = member(s, ',"duration_ms":', l.duration_ms);
    s = member(s, ',"overhead_ms":', l.overhead_ms);
    s = member(s, ',"upstream_ms":', l.upstream_ms);
    s = member(s, ',"ttfb_ms":', l.ttfb_ms);
    s = member(s, ',"stream":', l.stream);
    s = member(s, ',"chunks":', l.chunks);
    s = member(s, ',"bytes":', l.bytes);
    s = member(s, ',"aborted":', l.aborted);
    s = member(s, ',"attempts":', l.attempts);
    s = tokens(s, l.tokens);
    s = member(s, ',"client_ip":', l.client_ip);
    s = member(s, ',"caller":', l.caller);
    s = member(s, ',"trace_id":', l.trace_id);
    s = member(s, ',"message":', l.message);
    s = member(s, ',"events":', l.events);
    s = member(s, ',"request":', l.request);
    s = member(s, ',"response":', l.response);
  } catch (e) {
    if (e === UNUSUAL) return null;
    throw e;
  }
  return `${s},"msg":"request"}\n`;
}

