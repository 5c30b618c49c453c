/**
 * Where buckets live. In memory: the kernel's SharedState, whose ops run in the cluster
 * primary under `--workers` (one Map, one op at a time: exact across workers). Redis: one Lua
 * script per op, so any number of gateways sharing the server stay exact.
 */
import type { Logger, SharedState } from '@gatehouse/sdk';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

// ioredis (about 21 MB and 175 ms to load) is required only when a config names a Redis store.
const require = createRequire(import.meta.url);
import type { BoundedAdd, BucketStore } from './bucket.js';

export function memoryStore(shared: SharedState, prefix = 'rate-limit:'): BucketStore {
  return {
    kind: 'memory',
    addBounded: (key, op) => shared.addBounded(prefix + key, op),
    get: (key) => shared.get(prefix + key),
  };
}

/**
 * The bounded add of SharedState, in Redis. Numbers travel as strings: Redis turns a Lua number
 * into an integer reply, and Lua's tostring keeps only 14 digits, so `%.17g` it is.
 * The key expires after `ttl` ms.
 */
export const BOUNDED_ADD_LUA = `
local v = tonumber(redis.call('GET', KEYS[1]))
local floor = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
if v == nil or v < floor then v = floor end
local n = v + delta
if n > ceiling then return {0, string.format('%.17g', n)} end
redis.call('SET', KEYS[1], string.format('%.17g', n), 'PX', ttl)
return {1, string.format('%.17g', n)}
`;

type WithScript = Redis & { gatehouseBoundedAdd(key: string, floor: string, delta: string, ceiling: string, ttl: string): Promise<[number, string]> };

const num = (n: number) => (Number.isFinite(n) ? n.toPrecision(17) : '1e308');

/** A URI for logs: the password masked. */
export function displayUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password) u.password = '***';
    return u.toString();
  } catch { return uri.replace(/\/\/[^@/]*@/, '//***@'); }
}

export interface RedisStoreOptions {
  uri: string;
  password?: string;
  timeoutMs: number;
  keyPrefix: string;
  logger: Logger;
  /** Called on every state change (up/down), for the stats and the logs. */
  onState?(up: boolean, why?: string): void;
}

/** A Redis client with the script defined; fails fast while disconnected (the fail mode decides), reconnects by itself. */
export function createRedisClient(o: RedisStoreOptions): Redis {
  const options: RedisOptions = {
    // While disconnected, refuse at once instead of queueing: the fail mode answers the call.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.timeoutMs,
    connectTimeout: Math.max(1000, o.timeoutMs * 5),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  };
  if (o.password) options.password = o.password;
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  const client = new RedisClient(o.uri, options);
  client.defineCommand('gatehouseBoundedAdd', { numberOfKeys: 1, lua: BOUNDED_ADD_LUA });
  let up: boolean | null = null;
  const shown = displayUri(o.uri);
  client.on('ready', () => {
    if (up !== true) o.logger.info(`rate-limit: connected to Redis at ${shown}`);
    up = true;
    o.onState?.(true);
  });
  client.on('error', (e: Error) => {
    if (up !== false) o.logger.warn(`rate-limit: Redis at ${shown} is unreachable (${e.message}); reconnecting`);
    up = false;
    o.onState?.(false, e.message);
  });
  // A dropped connection is down at once, whether or not a reconnect attempt fails before the
  // server is back ('error' comes only from a failed attempt; a quick restart never shows one).
  // (A `quit()` at shutdown or reload closes it too: status 'end' then, and nothing to warn about.)
  client.on('close', () => {
    if (up === true && client.status === 'reconnecting') o.logger.warn(`rate-limit: lost the connection to Redis at ${shown}; reconnecting`);
    if (up !== false) o.onState?.(false, 'connection closed');
    up = false;
  });
  client.on('end', () => { up = false; o.onState?.(false, 'connection ended'); });
  return client;
}

/** Wait until the client is ready, at most `ms`; true when it is. */
export function whenReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (v: boolean) => { clearTimeout(t); client.off('ready', onReady); resolve(v); };
    const onReady = () => done(true);
    const t = setTimeout(() => done(false), ms);
    t.unref?.();
    client.once('ready', onReady);
  });
}

export function redisStore(client: Redis, keyPrefix: string): BucketStore {
  const c = client as WithScript;
  return {
    kind: 'redis',
    async addBounded(key: string, op: BoundedAdd) {
      const [ok, value] = await c.gatehouseBoundedAdd(keyPrefix + key, num(op.floor), num(op.delta), num(op.ceiling), String(Math.max(1, Math.ceil(op.ttlMs ?? 86_400_000))));
      return { ok: ok === 1, value: Number(value) };
    },
    async get(key: string) {
      const v = await client.get(keyPrefix + key);
      return v === null ? undefined : Number(v);
    },
  };
}
