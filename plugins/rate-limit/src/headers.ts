/**
 * IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-11):
 * Structured Field lists of items, each a String naming a policy, e.g.
 *   RateLimit-Policy: "endpoint:chat";q=30;w=60
 *   RateLimit: "endpoint:chat";r=29;t=2
 * `q` is the quota per window `w` (seconds), `r` the quota left, `t` the seconds within which the
 * client can use no more than `r` (for a token bucket: until it is full again). A `burst` that
 * differs from `calls` is shown as the vendor parameter `gatehouse-burst`.
 */

export interface PolicyInfo { q: number; w: number; burst?: number }
export interface ServiceLimit { r: number; t: number }

/** A Structured Field String: printable ASCII, `"` and `\` escaped. */
export function sfString(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

const sfInt = (n: number) => String(Math.max(0, Math.min(999_999_999_999_999, Math.floor(n))));

export function policyField(policies: ReadonlyMap<string, PolicyInfo>): string {
  return [...policies].map(([id, p]) => `${sfString(id)};q=${sfInt(p.q)};w=${sfInt(Math.max(1, p.w))}${p.burst !== undefined ? `;gatehouse-burst=${sfInt(p.burst)}` : ''}`).join(', ');
}

export function limitField(limits: ReadonlyMap<string, ServiceLimit>): string {
  return [...limits].map(([id, l]) => `${sfString(id)};r=${sfInt(l.r)};t=${sfInt(l.t)}`).join(', ');
}

/** `Retry-After` in whole seconds, rounded up (delay-seconds). */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));
