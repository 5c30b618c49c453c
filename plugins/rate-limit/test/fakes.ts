/** A SharedState with the kernel's semantics (one Map, expiry on read) on an injected clock. */
import type { Clock, SharedState } from '@gatehouse/sdk';

export class ManualClock implements Clock {
  constructor(public t = Date.UTC(2026, 0, 1)) {}
  now() { return this.t; }
  advance(ms: number) { this.t += ms; }
}

export function fakeShared(clock: Clock): SharedState & { values: Map<string, { v: number; exp: number }> } {
  const values = new Map<string, { v: number; exp: number }>();
  const read = (key: string) => { const e = values.get(key); return e && e.exp > clock.now() ? e.v : undefined; };
  const exp = (ttl?: number) => (ttl && ttl > 0 ? clock.now() + ttl : Infinity);
  // JSON round trip, as the kernel's relay between processes does.
  const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
  return {
    values,
    async get(key) { return read(key); },
    async set(key, value, ttlMs) { values.set(key, { v: value, exp: exp(ttlMs) }); },
    async add(key, delta, ttlMs) { const v = (read(key) ?? 0) + delta; values.set(key, { v, exp: exp(ttlMs) }); return v; },
    async addBounded(key, op0) {
      const op = wire(op0);
      const v = Math.max(read(key) ?? op.floor, op.floor) + op.delta;
      if (v > op.ceiling) return { ok: false, value: v };
      values.set(key, { v, exp: exp(op.ttlMs) });
      return { ok: true, value: v };
    },
    async delete(key) { values.delete(key); },
  };
}
