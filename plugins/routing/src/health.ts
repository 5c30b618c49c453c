/**
 * Destination health: cool-downs and circuit breakers, kept in the kernel's shared state so they
 * live for the process (surviving reloads) and are exact across `--workers`. State is per
 * destination endpoint, shared by every route that uses it; thresholds come from the route.
 *
 * Keys (values are numbers; endpoint names cannot contain ':'):
 * - `routing:cool:<endpoint>`  epoch ms until which the destination cools down (expires then)
 * - `routing:open:<endpoint>`  epoch ms from which an open breaker lets one probe through
 * - `routing:probe:<endpoint>` the half-open latch: 1 while a probe is out
 * - `routing:fails:<endpoint>` failures in a row
 * - `routing:win:<endpoint>:<bucket>:calls|errors` calls and failures per window (error-ratio rule)
 */
import type { Clock, SharedState } from '@gatehouse/sdk';
import type { BreakerPolicy } from './config.js';
import type { Availability } from './select.js';

/** A probe that never reports back (its process died) frees the latch after this long. */
export const PROBE_LATCH_MS = 60_000;

const key = (kind: string, endpoint: string) => `routing:${kind}:${endpoint}`;

export interface FailureOutcome {
  /** The breaker opened (or re-opened after a failed probe) because of this failure. */
  opened: null | { reason: 'consecutive_failures' | 'error_ratio' | 'probe_failed'; failures: number; until: number };
}

export class Health {
  constructor(private readonly shared: SharedState, private readonly clock: Clock) {}

  /** Where a destination stands now. */
  async availability(endpoint: string): Promise<Availability> {
    const now = this.clock.now();
    const [cool, open] = await Promise.all([this.shared.get(key('cool', endpoint)), this.shared.get(key('open', endpoint))]);
    if (open !== undefined && open > now) return { state: 'open', until: Math.max(open, cool ?? 0) };
    if (cool !== undefined && cool > now) return { state: 'cooling', until: cool };
    if (open !== undefined) return { state: 'half_open' };
    return { state: 'ok' };
  }

  /** Take the half-open latch; true for exactly one caller until it is released or expires. */
  async acquireProbe(endpoint: string): Promise<boolean> {
    const r = await this.shared.addBounded(key('probe', endpoint), { delta: 1, floor: 0, ceiling: 1, ttlMs: PROBE_LATCH_MS });
    return r.ok;
  }

  releaseProbe(endpoint: string): Promise<void> {
    return this.shared.delete(key('probe', endpoint));
  }

  /** Cool a destination down for `ms`. */
  async coolDown(endpoint: string, ms: number): Promise<number> {
    const until = this.clock.now() + ms;
    const cur = await this.shared.get(key('cool', endpoint));
    if (cur !== undefined && cur >= until) return cur;
    await this.shared.set(key('cool', endpoint), until, ms);
    return until;
  }

  /** A failure that counts against the breaker. */
  async recordFailure(endpoint: string, b: BreakerPolicy, wasProbe: boolean): Promise<FailureOutcome> {
    const now = this.clock.now();
    const fails = await this.shared.add(key('fails', endpoint), 1);
    const until = now + b.cooldown_ms;
    if (wasProbe) {
      await this.shared.set(key('open', endpoint), until);
      await this.releaseProbe(endpoint);
      return { opened: { reason: 'probe_failed', failures: fails, until } };
    }
    let reason: 'consecutive_failures' | 'error_ratio' | null = null;
    if (b.consecutive_failures > 0 && fails >= b.consecutive_failures) reason = 'consecutive_failures';
    if (b.error_ratio !== null) {
      const { calls, errors } = await this.countWindow(endpoint, b, true);
      if (!reason && calls >= b.min_calls && errors / calls >= b.error_ratio) reason = 'error_ratio';
    }
    if (!reason) return { opened: null };
    // Only the failure that crosses the threshold opens it; later ones while it is open change nothing.
    const open = await this.shared.get(key('open', endpoint));
    if (open !== undefined) return { opened: null };
    await this.shared.set(key('open', endpoint), until);
    return { opened: { reason, failures: fails, until } };
  }

  /** A healthy answer: the failure streak ends; a successful probe closes the breaker. */
  async recordSuccess(endpoint: string, b: BreakerPolicy, wasProbe: boolean): Promise<boolean> {
    const ops: Array<Promise<unknown>> = [this.shared.delete(key('fails', endpoint))];
    if (b.error_ratio !== null) ops.push(this.countWindow(endpoint, b, false));
    if (wasProbe) {
      ops.push(this.shared.delete(key('open', endpoint)), this.releaseProbe(endpoint));
      if (b.error_ratio !== null) ops.push(this.clearWindow(endpoint, b));
    }
    await Promise.all(ops);
    return wasProbe;
  }

  /**
   * Sliding-window counts: the current fixed window plus the previous one weighted by how much
   * of it still overlaps the last `window_ms`. Records this call (and its failure) first.
   */
  private async countWindow(endpoint: string, b: BreakerPolicy, failed: boolean): Promise<{ calls: number; errors: number }> {
    const now = this.clock.now();
    const bucket = Math.floor(now / b.window_ms);
    const k = (n: number, what: string) => `routing:win:${endpoint}:${n}:${what}`;
    const ttl = b.window_ms * 2;
    const [calls, errors, prevCalls, prevErrors] = await Promise.all([
      this.shared.add(k(bucket, 'calls'), 1, ttl),
      failed ? this.shared.add(k(bucket, 'errors'), 1, ttl) : this.shared.get(k(bucket, 'errors')),
      failed ? this.shared.get(k(bucket - 1, 'calls')) : Promise.resolve(0),
      failed ? this.shared.get(k(bucket - 1, 'errors')) : Promise.resolve(0),
    ]);
    const w = 1 - (now - bucket * b.window_ms) / b.window_ms;
    return { calls: calls + (prevCalls ?? 0) * w, errors: (errors ?? 0) + (prevErrors ?? 0) * w };
  }

  private async clearWindow(endpoint: string, b: BreakerPolicy): Promise<void> {
    const bucket = Math.floor(this.clock.now() / b.window_ms);
    await Promise.all([bucket, bucket - 1].flatMap((n) => ['calls', 'errors'].map((w) => this.shared.delete(`routing:win:${endpoint}:${n}:${w}`))));
  }
}
