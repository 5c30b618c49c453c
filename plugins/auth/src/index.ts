/**
 * Gateway keys: who may call which endpoint, and how much. Off until the config has an `auth:`
 * section with `keys`. Keys are held only as SHA-256 digests and compared in constant time; the
 * key's name — never the key — is what logs, traces, metrics and limits see.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { definePlugin, GatewayError, type Caller, type GuardTarget, type RouteRequest } from '@gatehouse/sdk';

export interface KeyConfig {
  name: string;
  /** The key itself, from `$ENV` or a key file (a literal works too, but keep keys out of the file). */
  key?: string;
  /** Or the hex SHA-256 of the key. */
  sha256?: string;
  /** Endpoint and route names or globs (`*`, `chat-*`); default: all. */
  endpoints?: string[];
  admin?: boolean;
  /** ISO 8601; after it the key is refused with 403. */
  expires_at?: string;
  /** A per-key limit, enforced by the rate-limit plugin with the key's name as bucket key. */
  limit?: { calls?: number; renewal_period: string; burst?: number; tokens?: number };
}

export interface AuthConfig {
  keys?: KeyConfig[];
  /** Header names read for the key, besides `Authorization: Bearer`. */
  api_key_headers?: string[];
}

const globToRegExp = (glob: string): RegExp => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

interface Entry { name: string; digest: Buffer; admin: boolean; expiresAt: number | null; allowed: RegExp[]; limit: KeyConfig['limit'] | null }

/**
 * Find the key among all entries in time that depends only on the number of keys: the presented
 * key is hashed (fixed 32 bytes whatever its length), then every digest is compared with
 * `timingSafeEqual`, and the loop never exits early.
 */
export function findKey(entries: readonly Entry[], presented: string): Entry | undefined {
  const d = digest(presented);
  let found: Entry | undefined;
  for (const e of entries) if (timingSafeEqual(e.digest, d) && !found) found = e;
  return found;
}

/** The key a request presents: `Authorization: Bearer <key>` (OpenAI SDKs) or `x-api-key` (Anthropic SDK). */
export function presentedKey(headers: RouteRequest['headers'], extra: readonly string[]): string | null {
  const auth = headers.authorization;
  const a = Array.isArray(auth) ? auth[0] : auth;
  if (a) {
    const m = /^Bearer\s+(.+)$/i.exec(a.trim());
    if (m) return m[1]!.trim();
  }
  for (const h of ['x-api-key', ...extra]) {
    const v = headers[h.toLowerCase()];
    const s = Array.isArray(v) ? v[0] : v;
    if (s && s.trim()) return s.trim();
  }
  return null;
}

const keySchema = {
  type: 'object', required: ['name'], additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.:@-]+$' },
    key: { type: 'string', minLength: 1 },
    sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
    endpoints: { type: 'array', items: { type: 'string', minLength: 1 } },
    admin: { type: 'boolean' },
    expires_at: { type: 'string' },
    limit: {
      type: 'object', required: ['renewal_period'], additionalProperties: false,
      properties: { calls: { type: 'integer', minimum: 1 }, renewal_period: { type: 'string' }, burst: { type: 'integer', minimum: 1 }, tokens: { type: 'integer', minimum: 1 } },
    },
  },
  oneOf: [{ required: ['key'] }, { required: ['sha256'] }],
};

const challenge = { 'www-authenticate': 'Bearer realm="gatehouse"' };

export default definePlugin<AuthConfig>({
  name: 'auth',
  errors: {
    GW_ERR_AUTH_MISSING: { status: 401, expose: true, type: 'authentication_error' },
    GW_ERR_AUTH_INVALID: { status: 401, expose: true, type: 'authentication_error' },
    GW_ERR_AUTH_FORBIDDEN: { status: 403, expose: true, type: 'permission_error' },
    GW_ERR_AUTH_EXPIRED: { status: 403, expose: true, type: 'permission_error' },
  },
  config: {
    section: {
      type: 'object', additionalProperties: false,
      properties: { keys: { type: 'array', items: keySchema }, api_key_headers: { type: 'array', items: { type: 'string' } } },
    },
    secrets: ['keys.*.key'],
    check({ section }) {
      const problems: Array<{ path: Array<string | number>; message: string }> = [];
      const seen = new Set<string>();
      ((section as AuthConfig).keys ?? []).forEach((k, i) => {
        if (seen.has(k.name)) problems.push({ path: ['auth', 'keys', i, 'name'], message: `duplicate key name '${k.name}'` });
        seen.add(k.name);
        if (k.expires_at && Number.isNaN(Date.parse(k.expires_at))) problems.push({ path: ['auth', 'keys', i, 'expires_at'], message: 'expected an ISO 8601 date-time' });
      });
      return problems;
    },
  },
  register(ctx) {
    const cfg = ctx.config;
    if (!cfg.keys) { ctx.logger.debug('auth is off: no auth.keys in the config'); return; }
    const entries: Entry[] = cfg.keys.map((k) => ({
      name: k.name,
      digest: k.sha256 ? Buffer.from(k.sha256, 'hex') : digest(k.key!),
      admin: k.admin ?? false,
      expiresAt: k.expires_at ? Date.parse(k.expires_at) : null,
      allowed: (k.endpoints ?? ['*']).map(globToRegExp),
      limit: k.limit ?? null,
    }));
    const extraHeaders = cfg.api_key_headers ?? [];
    const gw = ctx.gateway;
    /** A key may call a route only if it may call every destination too (a route must not launder access). */
    const mayCall = (e: Entry, name: string): boolean => {
      if (!e.allowed.some((r) => r.test(name))) return false;
      const found = gw.lookup(name);
      return found?.kind !== 'route' || found.info.destinations.every((d) => e.allowed.some((r) => r.test(d.name)));
    };
    const forbidden = (caller: string, name: string) =>
      new GatewayError('GW_ERR_AUTH_FORBIDDEN', `The gateway key '${caller}' may not call '${name}'.`, { param: 'model' });

    ctx.guard((req: RouteRequest, route: GuardTarget) => {
      const presented = presentedKey(req.headers, extraHeaders);
      if (!presented) {
        if (route.access === 'public') return;
        throw new GatewayError('GW_ERR_AUTH_MISSING', 'A gateway key is required: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`.', { headers: challenge });
      }
      const e = findKey(entries, presented);
      if (!e) {
        if (route.access === 'public') return;
        throw new GatewayError('GW_ERR_AUTH_INVALID', 'The gateway key is not valid.', { headers: challenge });
      }
      if (e.expiresAt !== null && ctx.clock.now() >= e.expiresAt) {
        if (route.access === 'public') return;
        throw new GatewayError('GW_ERR_AUTH_EXPIRED', `The gateway key '${e.name}' expired at ${new Date(e.expiresAt).toISOString()}.`);
      }
      const caller: Caller = {
        name: e.name,
        scopes: e.admin ? ['admin'] : [],
        attributes: e.limit ? { limit: e.limit } : {},
        may: (name) => mayCall(e, name),
      };
      req.caller = caller;
      if (route.access === 'admin' && !e.admin) throw new GatewayError('GW_ERR_AUTH_FORBIDDEN', `The gateway key '${e.name}' has no admin scope, which ${route.path} needs.`);
      // A name in the path is checked before the body is read; a name in the body (OpenAI, Anthropic) in `admit`.
      const named = req.params.name ?? req.params.endpoint;
      if (named !== undefined && route.access !== 'public' && !mayCall(e, named)) throw forbidden(e.name, named);
    });
    ctx.use('admit', async (inv, next) => {
      const c = inv.caller;
      if (c?.may && !c.may(inv.target)) throw forbidden(c.name, inv.target);
      await next();
    });
  },
});
