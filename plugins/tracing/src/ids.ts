/** Trace and span ids, and W3C Trace Context (`traceparent` / `tracestate`) parsing and formatting. */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
/** POOL as hex, made once per refill: an id is then a slice of it, not a conversion per id. */
let hexPool = '';
let offset = POOL.length;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL.length) { randomFillSync(POOL); hexPool = POOL.toString('hex'); offset = 0; }
  const at = offset;
  offset += bytes;
  // An all-zero id is invalid in W3C Trace Context; astronomically rare, but cheap to rule out.
  for (let i = at; i < at + bytes; i++) if (POOL[i] !== 0) return hexPool.slice(2 * at, 2 * (at + bytes));
  return randomHex(bytes);
}

/** 32 lower-case hex digits. */
export const newTraceId = (): string => randomHex(16);
/** 16 lower-case hex digits. */
export const newSpanId = (): string => randomHex(8);

export interface ParentContext {
  traceId: string;
  spanId: string;
  /** The caller's trace-flags byte (bit 0: sampled). */
  flags: number;
  tracestate: string | null;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The caller's trace context, or null when `traceparent` is absent or invalid (then the gateway
 * starts a new trace, as the W3C spec asks). Version `ff` and all-zero ids are invalid; a future
 * version is read by its first four fields.
 */
export function parseTraceparent(traceparent: string | string[] | undefined, tracestate?: string | string[] | undefined): ParentContext | null {
  const raw = headerValue(traceparent)?.trim().toLowerCase();
  if (!raw) return null;
  const m = TRACEPARENT.exec(raw);
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff') return null;
  if (version === '00' && rest !== undefined) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  const stateRaw = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  const state = stateRaw?.trim();
  return { traceId, spanId, flags: parseInt(flags, 16), tracestate: state && state.length <= 512 ? state : null };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}
