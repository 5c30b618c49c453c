import cluster, { type Worker } from 'node:cluster';
import type { Clock, SharedState } from '@gatehouse/sdk';

type Op =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: number; ttlMs?: number }
  | { op: 'add'; key: string; delta: number; ttlMs?: number }
  | { op: 'addBounded'; key: string; delta: number; floor: number; ceiling: number; ttlMs?: number }
  | { op: 'delete'; key: string };

/** The state itself: one Map, expiry checked on read and swept now and then. Synchronous, so every op is atomic. */
export class MemoryState {
  private readonly values = new Map<string, { v: number; exp: number }>();
  private ops = 0;
  constructor(private readonly clock: Clock) {}

  apply(o: Op): unknown {
    const now = this.clock.now();
    if (++this.ops % 10_000 === 0) for (const [k, e] of this.values) if (e.exp <= now) this.values.delete(k);
    const cur = this.values.get(o.key);
    const value = cur && cur.exp > now ? cur.v : undefined;
    const exp = (ttl?: number) => (ttl && ttl > 0 ? now + ttl : Infinity);
    switch (o.op) {
      case 'get': return value;
      case 'set': this.values.set(o.key, { v: o.value, exp: exp(o.ttlMs) }); return undefined;
      case 'add': { const v = (value ?? 0) + o.delta; this.values.set(o.key, { v, exp: exp(o.ttlMs) }); return v; }
      case 'addBounded': {
        const v = Math.max(value ?? o.floor, o.floor) + o.delta;
        if (v > o.ceiling) return { ok: false, value: v };
        this.values.set(o.key, { v, exp: exp(o.ttlMs) });
        return { ok: true, value: v };
      }
      case 'delete': this.values.delete(o.key); return undefined;
    }
  }
}

const facade = (run: (o: Op) => Promise<unknown>): SharedState => ({
  get: (key) => run({ op: 'get', key }) as Promise<number | undefined>,
  set: (key, value, ttlMs) => run({ op: 'set', key, value, ttlMs }) as Promise<void>,
  add: (key, delta, ttlMs) => run({ op: 'add', key, delta, ttlMs }) as Promise<number>,
  addBounded: (key, o) => run({ op: 'addBounded', key, ...o }) as Promise<{ ok: boolean; value: number }>,
  delete: (key) => run({ op: 'delete', key }) as Promise<void>,
});

/** In one process: the Map itself. */
export const localState = (state: MemoryState): SharedState => facade(async (o) => state.apply(o));

/** Messages between workers and the primary: shared-state ops and plugin requests. */
interface Request { gatehouse: 'req'; id: number; kind: 'state' | 'call'; body: unknown; channel?: string }
interface Reply { gatehouse: 'res'; id: number; ok: boolean; value?: unknown; error?: string }

export type PrimaryHandler = (payload: unknown, workerId: number | null) => unknown | Promise<unknown>;

/** In the primary: answer every worker's state ops and plugin requests. */
export function servePrimary(state: MemoryState, handlers: Map<string, PrimaryHandler>, onError: (e: Error) => void): void {
  cluster.on('message', (worker: Worker, msg: Request) => {
    if (msg?.gatehouse !== 'req') return;
    const reply = (r: Omit<Reply, 'gatehouse' | 'id'>) => { if (worker.isConnected()) worker.send({ gatehouse: 'res', id: msg.id, ...r }); };
    if (msg.kind === 'state') {
      try { reply({ ok: true, value: state.apply(msg.body as Op) }); } catch (e) { reply({ ok: false, error: (e as Error).message }); }
      return;
    }
    const h = handlers.get(msg.channel!);
    if (!h) { reply({ ok: false, error: `no primary handler for '${msg.channel}'` }); return; }
    Promise.resolve().then(() => h(msg.body, worker.id)).then((value) => reply({ ok: true, value }), (e: Error) => { onError(e); reply({ ok: false, error: e.message }); });
  });
}

/** In a worker: send ops and requests to the primary, match the replies. */
export function workerLink(): { state: SharedState; call(channel: string, payload: unknown): Promise<unknown> } {
  let next = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  process.on('message', (msg: Reply) => {
    if (msg?.gatehouse !== 'res') return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value); else p.reject(new Error(msg.error));
  });
  const send = (kind: Request['kind'], body: unknown, channel?: string) => new Promise<unknown>((resolve, reject) => {
    const id = ++next;
    pending.set(id, { resolve, reject });
    process.send!({ gatehouse: 'req', id, kind, body, channel } satisfies Request, undefined, undefined, (e) => {
      if (e) { pending.delete(id); reject(e); }
    });
  });
  return { state: facade((o) => send('state', o)), call: (channel, payload) => send('call', payload, channel) };
}
