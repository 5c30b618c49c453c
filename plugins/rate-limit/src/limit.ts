/**
 * The `limit:` block: MLflow's syntax (spec §8) plus `burst`, `key` and `tokens`, parsed once
 * per configuration into the rates the buckets use.
 */
import { createHash } from 'node:crypto';

/** What a config (or a caller's attributes) may write. */
export interface LimitConfig {
  calls?: number;
  renewal_period: string;
  burst?: number;
  key?: string | null;
  tokens?: number;
}

/** MLflow's `limits.parse(f"{calls}/{renewal_period}")`, e.g. (10, "minute"), (3, "5 minutes"). */
export interface ParsedPeriod { calls: number; multiple: number; granularity: string; periodMs: number }

const GRANULARITY_S: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400, month: 2_592_000, year: 31_536_000 };

/** MLflow's message when a limit does not parse (sic: the missing spaces are MLflow's). */
export const PARSE_MESSAGE = 'Failed to parse the rate limit configuration.Please make sure limit.calls is a positive number andlimit.renewal_period is a right granularity';

/** MLflow's parser: the regex of the `limits` library, case-insensitive, plural `s` allowed, a multiple inside the period. */
export function parsePeriod(calls: unknown, renewalPeriod: unknown): ParsedPeriod | null {
  const m = /^\s*([0-9]+)\s*(\/|\s*per\s*)\s*([0-9]+)?\s*([a-z]+)\s*$/i.exec(`${calls}/${renewalPeriod}`);
  if (!m) return null;
  const granularity = m[4]!.toLowerCase().replace(/s$/, '');
  const unit = GRANULARITY_S[granularity];
  if (unit === undefined) return null;
  const multiple = m[3] ? Number(m[3]) : 1;
  if (multiple <= 0) return null;
  return { calls: Number(m[1]), multiple, granularity, periodMs: unit * multiple * 1000 };
}

export type KeyKind = { kind: 'ip' } | { kind: 'endpoint' } | { kind: 'caller' } | { kind: 'header'; header: string };

export const KEY_MESSAGE = "limit.key must be 'ip' (the default, MLflow's), 'endpoint', 'caller' or 'header:<name>'";

export function parseKey(key: unknown): KeyKind | null {
  if (key === undefined || key === null || key === 'ip') return { kind: 'ip' };
  if (key === 'endpoint') return { kind: 'endpoint' };
  if (key === 'caller') return { kind: 'caller' };
  if (typeof key === 'string') {
    const m = /^header:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)$/.exec(key);
    if (m) return { kind: 'header', header: m[1]!.toLowerCase() };
  }
  return null;
}

export const keyLabel = (k: KeyKind): string => (k.kind === 'header' ? `header:${k.header}` : k.kind);

/**
 * One bucket's rate: `capacity` units, refilled continuously at one unit per `intervalMs`.
 * `null` interval: nothing is ever admitted (`calls: 0`).
 */
export interface Rate { capacity: number; intervalMs: number | null }

/** A limit as the limiter uses it: the calls bucket, the tokens bucket, their fingerprints. */
export interface CompiledLimit {
  /** As written, for the limits API and messages. */
  config: LimitConfig;
  period: ParsedPeriod;
  key: KeyKind;
  /** The calls bucket, or null for a tokens-only limit (a caller's `limit` may omit `calls`). */
  calls: { rate: Rate; fingerprint: string; message: string } | null;
  tokens: { rate: Rate; fingerprint: string; message: string } | null;
}

const fingerprint = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 10);

/** Problems of one limit block, with their paths under the block. */
export function limitProblems(l: unknown, opts: { callsRequired: boolean } = { callsRequired: true }): Array<{ path: string[]; message: string }> {
  if (!l || typeof l !== 'object') return [{ path: [], message: 'limit must be a mapping with calls and renewal_period' }];
  const c = l as Record<string, unknown>;
  const out: Array<{ path: string[]; message: string }> = [];
  const calls = c.calls ?? (opts.callsRequired ? undefined : 1);
  if (typeof c.renewal_period !== 'string' || !parsePeriod(calls, c.renewal_period)) out.push({ path: [], message: PARSE_MESSAGE });
  if (!parseKey(c.key)) out.push({ path: ['key'], message: `${KEY_MESSAGE}; got '${String(c.key)}'` });
  if (c.calls === undefined && c.tokens === undefined) out.push({ path: [], message: 'a limit needs calls, tokens or both' });
  if (c.burst !== undefined && (!Number.isInteger(c.burst) || (c.burst as number) < 1)) out.push({ path: ['burst'], message: 'limit.burst must be an integer ≥ 1' });
  if (c.tokens !== undefined && (!Number.isInteger(c.tokens) || (c.tokens as number) < 1)) out.push({ path: ['tokens'], message: 'limit.tokens must be an integer ≥ 1' });
  return out;
}

/** Compile a limit that passed `limitProblems`; returns null when it does not parse. */
export function compileLimit(l: LimitConfig): CompiledLimit | null {
  const period = parsePeriod(l.calls ?? 1, l.renewal_period);
  const key = parseKey(l.key);
  if (!period || !key) return null;
  const per = `${period.multiple} ${period.granularity}`;
  let calls: CompiledLimit['calls'] = null;
  if (l.calls !== undefined) {
    const capacity = l.burst ?? l.calls;
    const rate: Rate = { capacity: l.calls === 0 ? 0 : capacity, intervalMs: l.calls === 0 ? null : period.periodMs / l.calls };
    calls = { rate, fingerprint: fingerprint(['calls', l.calls, period.periodMs, l.burst ?? null, keyLabel(key)]), message: `Rate limit exceeded: ${l.calls} per ${per}` };
  }
  let tokens: CompiledLimit['tokens'] = null;
  if (l.tokens !== undefined) {
    const rate: Rate = { capacity: l.tokens, intervalMs: period.periodMs / l.tokens };
    tokens = { rate, fingerprint: fingerprint(['tokens', l.tokens, period.periodMs, keyLabel(key)]), message: `Rate limit exceeded: ${l.tokens} tokens per ${per}` };
  }
  return { config: l, period, key, calls, tokens };
}
