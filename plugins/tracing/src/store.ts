/**
 * The embedded trace store, in seed 003's layout:
 *
 *   <dir>/traces/<YYYY-MM-DD>/<trace_id>.json                     one trace (UTC date of its start)
 *   <dir>/traces/indexes/by_status/<OK|ERROR>/<YYYY-MM-DD>.jsonl  one line per kept request
 *   <dir>/traces/indexes/by_duration/<bucket>/<YYYY-MM-DD>.jsonl  same lines, by duration bucket
 *
 * An index line is one JSON object (an `IndexEntry`), appended in the order requests finished.
 * Duration buckets are named by their bounds in milliseconds: `0-100ms`, `100-250ms`, ...,
 * `30000-60000ms`, `60000ms-and-over`. Writing happens off the request path: requests enqueue,
 * a timer writes batches; a full queue drops the trace and counts it, it never waits.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Logger } from '@gatehouse/sdk';
import { mergeTraces, type Trace } from './model.js';

export interface IndexEntry {
  trace_id: string;
  request_id: string;
  start_time: string;
  /** Epoch milliseconds of `start_time`, for sorting. */
  start_ms: number;
  duration_ms: number;
  status: 'OK' | 'ERROR';
  http_status: number;
  code: string | null;
  endpoint: string | null;
  target: string | null;
  surface: string | null;
  method: string;
  path: string;
  stream: boolean;
  kept: Trace['kept'];
}

export const BUCKETS: ReadonlyArray<{ name: string; lo: number; hi: number }> = (() => {
  const bounds = [0, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
  return bounds.map((lo, i) => {
    const hi = bounds[i + 1];
    return hi === undefined ? { name: `${lo}ms-and-over`, lo, hi: Infinity } : { name: `${lo}-${hi}ms`, lo, hi };
  });
})();

export const bucketOf = (durationMs: number) => BUCKETS.find((b) => durationMs >= b.lo && durationMs < b.hi) ?? BUCKETS[0]!;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const DAY_MS = 86_400_000;

export const dateOf = (iso: string): string => iso.slice(0, 10);

export function entryOf(t: Trace): IndexEntry {
  return {
    trace_id: t.trace_id,
    request_id: t.request_id,
    start_time: t.start_time,
    start_ms: Date.parse(t.start_time),
    duration_ms: t.duration_ms,
    status: t.status,
    http_status: t.http_status,
    code: t.error?.code ?? null,
    endpoint: t.endpoint,
    target: t.target,
    surface: t.surface,
    method: t.method,
    path: t.path,
    stream: t.stream,
    kept: t.kept,
  };
}

export interface StoreOptions {
  /** The `traces/` directory itself. */
  root: string;
  queueSize: number;
  batchSize: number;
  flushIntervalMs: number;
  retentionDays: number;
  maxTotalBytes: number;
  /** Run retention sweeps from this process (one process of a `--workers` tree is enough). */
  sweeps: boolean;
  /** How often retention runs at most, besides when the size estimate passes the cap. */
  sweepIntervalMs?: number;
}

export interface StoreStats { queued: number; written: number; dropped: number; failed: number; bytesEstimate: number; lastSweep: number | null }

/** A trace file path for an id and a date. */
export const traceFile = (root: string, date: string, id: string) => join(root, date, `${id}.json`);

export class TraceStore {
  private queue: Trace[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly dirs = new Set<string>();
  private written = 0;
  private dropped = 0;
  private failed = 0;
  private bytes: number | null = null;
  private lastSweep: number | null = null;
  private lastSweepDay: string | null = null;
  private closed = false;
  private warnedDrop = 0;

  constructor(private opts: StoreOptions, private readonly clock: Clock, private logger: Logger) {}

  get root(): string { return this.opts.root; }

  /** New settings from a reloaded config (same directory). */
  configure(opts: StoreOptions, logger?: Logger): void {
    this.opts = opts;
    if (logger) this.logger = logger;
  }

  stats(): StoreStats {
    return { queued: this.queue.length, written: this.written, dropped: this.dropped, failed: this.failed, bytesEstimate: this.bytes ?? 0, lastSweep: this.lastSweep };
  }

  /** Queue a trace for writing; false (and counted) when the queue is full. Never blocks. */
  enqueue(trace: Trace): boolean {
    if (this.closed || this.queue.length >= this.opts.queueSize) {
      this.dropped++;
      // One warning per power of ten, so a flood of drops does not flood the log.
      if (this.dropped >= this.warnedDrop * 10 || this.warnedDrop === 0) {
        this.warnedDrop = Math.max(1, this.dropped);
        this.logger.warn('trace queue full: trace dropped', { dropped: this.dropped, queue_size: this.opts.queueSize });
      }
      return false;
    }
    this.queue.push(trace);
    if (this.queue.length >= this.opts.batchSize) this.schedule(0);
    else this.schedule(this.opts.flushIntervalMs);
    return true;
  }

  private schedule(delay: number): void {
    if (this.timer) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => { this.timer = null; void this.flush(); }, delay);
    this.timer.unref?.();
  }

  /** Write everything queued so far (and wait for a write in progress). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (!this.queue.length) return;
    this.running = this.drain().finally(() => { this.running = null; });
    await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      try {
        await this.writeBatch(batch);
      } catch (e) {
        this.failed += batch.length;
        this.logger.warn('trace batch not written', { error: (e as Error).message, traces: batch.length });
      }
    }
    if (this.opts.sweeps) await this.maybeSweep();
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.dirs.add(dir);
  }

  private async writeBatch(batch: Trace[]): Promise<void> {
    const root = this.opts.root;
    const lines = new Map<string, string[]>();
    const add = (file: string, line: string) => { const l = lines.get(file); if (l) l.push(line); else lines.set(file, [line]); };
    let n = 0;
    for (const trace of batch) {
      const date = dateOf(trace.start_time);
      const dayDir = join(root, date);
      try {
        await this.ensureDir(dayDir);
        const file = traceFile(root, date, trace.trace_id);
        let body: Trace = trace;
        // Only a caller-supplied trace id can already have a file (our own ids are random).
        if (trace.spans[0]?.parent_id) {
          try { body = mergeTraces(JSON.parse(await fsp.readFile(file, 'utf8')) as Trace, trace); } catch { /* none yet */ }
        }
        const text = JSON.stringify(body);
        const tmp = `${file}.${process.pid}.${n++}.tmp`;
        await fsp.writeFile(tmp, text);
        await fsp.rename(tmp, file);
        this.bytes = (this.bytes ?? 0) + Buffer.byteLength(text);
        this.written++;
      } catch (e) {
        this.failed++;
        this.logger.warn('trace not written', { trace_id: trace.trace_id, error: (e as Error).message });
        continue;
      }
      const line = JSON.stringify(entryOf(trace)) + '\n';
      add(join(root, 'indexes', 'by_status', trace.status, `${date}.jsonl`), line);
      add(join(root, 'indexes', 'by_duration', bucketOf(trace.duration_ms).name, `${date}.jsonl`), line);
    }
    for (const [file, ls] of lines) {
      const dir = file.slice(0, file.lastIndexOf('/'));
      await this.ensureDir(dir);
      const text = ls.join('');
      // One append per index file per batch; lines stay whole across --workers (O_APPEND).
      await fsp.appendFile(file, text);
      this.bytes = (this.bytes ?? 0) + Buffer.byteLength(text);
    }
  }

  private async maybeSweep(): Promise<void> {
    const now = this.clock.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const interval = this.opts.sweepIntervalMs ?? 10 * 60_000;
    const due = this.bytes === null || this.lastSweep === null || day !== this.lastSweepDay
      || now - this.lastSweep >= interval || (this.bytes ?? 0) > this.opts.maxTotalBytes;
    if (!due) return;
    await this.sweep(now);
  }

  /** Apply retention now: delete days older than `retentionDays`, then the oldest data past `maxTotalBytes`. */
  async sweep(now = this.clock.now()): Promise<SweepResult> {
    const r = await sweep(this.opts.root, now, this.opts);
    this.bytes = r.totalBytes;
    this.lastSweep = now;
    this.lastSweepDay = new Date(now).toISOString().slice(0, 10);
    this.dirs.clear();
    if (r.removedDays.length || r.removedFiles) this.logger.info('trace retention', { removed_days: r.removedDays, removed_files: r.removedFiles, total_bytes: r.totalBytes });
    return r;
  }

  async close(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    await this.flush();
    this.closed = true;
  }

  list(q: TraceQuery): Promise<IndexEntry[]> { return listTraces(this.opts.root, q); }
  get(id: string): Promise<Trace | null> { return readTrace(this.opts.root, id); }
}

// ---------------------------------------------------------------------------------------------
// Retention

export interface SweepResult { removedDays: string[]; removedFiles: number; totalBytes: number }

async function entries(dir: string): Promise<string[]> {
  try { return await fsp.readdir(dir); } catch { return []; }
}

async function sizeOf(file: string): Promise<{ size: number; mtime: number } | null> {
  try { const s = await fsp.stat(file); return { size: s.size, mtime: s.mtimeMs }; } catch { return null; }
}

/** Every index file, as [partition dir, date, path]. */
async function indexFiles(root: string): Promise<Array<{ dir: string; date: string; path: string }>> {
  const out: Array<{ dir: string; date: string; path: string }> = [];
  for (const kind of ['by_status', 'by_duration']) {
    const kdir = join(root, 'indexes', kind);
    for (const part of await entries(kdir)) {
      const pdir = join(kdir, part);
      for (const f of await entries(pdir)) {
        const m = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(f);
        if (m) out.push({ dir: pdir, date: m[1]!, path: join(pdir, f) });
      }
    }
  }
  return out;
}

export async function sweep(root: string, now: number, opts: { retentionDays: number; maxTotalBytes: number }): Promise<SweepResult> {
  const removedDays: string[] = [];
  let removedFiles = 0;
  const days = (await entries(root)).filter((d) => DATE.test(d)).sort();
  const idx = await indexFiles(root);
  const cutoff = new Date(now - opts.retentionDays * DAY_MS).toISOString().slice(0, 10);

  const removeDay = async (day: string) => {
    await fsp.rm(join(root, day), { recursive: true, force: true });
    for (const f of idx.filter((i) => i.date === day)) await fsp.rm(f.path, { force: true });
    removedDays.push(day);
  };

  const kept: string[] = [];
  for (const day of days) {
    if (day < cutoff) await removeDay(day);
    else kept.push(day);
  }
  // Index files of days whose trace directory is already gone go too.
  for (const f of idx) if (f.date < cutoff && !removedDays.includes(f.date)) { await fsp.rm(f.path, { force: true }); }

  // Size: whole days, oldest first, then (when one day alone is too big) its oldest files.
  const daySizes = new Map<string, { total: number; files: Array<{ name: string; size: number; mtime: number }> }>();
  for (const day of kept) {
    const files: Array<{ name: string; size: number; mtime: number }> = [];
    let total = 0;
    for (const name of await entries(join(root, day))) {
      const s = await sizeOf(join(root, day, name));
      if (s) { files.push({ name, ...s }); total += s.size; }
    }
    daySizes.set(day, { total, files });
  }
  const idxLeft = (await indexFiles(root));
  const idxSize = new Map<string, number>();
  for (const f of idxLeft) idxSize.set(f.path, (await sizeOf(f.path))?.size ?? 0);
  const dayTotal = (day: string) => (daySizes.get(day)?.total ?? 0) + idxLeft.filter((f) => f.date === day).reduce((a, f) => a + (idxSize.get(f.path) ?? 0), 0);
  let total = kept.reduce((a, d) => a + dayTotal(d), 0) + idxLeft.filter((f) => !kept.includes(f.date)).reduce((a, f) => a + (idxSize.get(f.path) ?? 0), 0);

  while (total > opts.maxTotalBytes && kept.length > 1) {
    const day = kept.shift()!;
    total -= dayTotal(day);
    await removeDay(day);
  }
  if (total > opts.maxTotalBytes && kept.length === 1) {
    const day = kept[0]!;
    const target = opts.maxTotalBytes * 0.9;
    const files = daySizes.get(day)!.files.filter((f) => f.name.endsWith('.json')).sort((a, b) => a.mtime - b.mtime);
    const gone = new Set<string>();
    for (const f of files) {
      if (total <= target) break;
      await fsp.rm(join(root, day, f.name), { force: true });
      total -= f.size;
      gone.add(f.name.slice(0, -'.json'.length));
      removedFiles++;
    }
    if (gone.size) {
      for (const f of idxLeft.filter((i) => i.date === day)) {
        let text: string;
        try { text = await fsp.readFile(f.path, 'utf8'); } catch { continue; }
        const keep = text.split('\n').filter((l) => {
          if (!l) return false;
          try { return !gone.has((JSON.parse(l) as IndexEntry).trace_id); } catch { return false; }
        });
        const out = keep.length ? keep.join('\n') + '\n' : '';
        total -= Buffer.byteLength(text) - Buffer.byteLength(out);
        const tmp = `${f.path}.${process.pid}.tmp`;
        await fsp.writeFile(tmp, out);
        await fsp.rename(tmp, f.path);
      }
    }
  }
  return { removedDays, removedFiles, totalBytes: Math.max(0, total) };
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface TraceQuery {
  status?: 'OK' | 'ERROR';
  minDurationMs?: number;
  /** Served endpoint or called target. */
  endpoint?: string;
  limit: number;
  /** Only traces that started before this epoch ms (paging). */
  before?: number;
}

/** Call `onLine` for each line from the end of the file backwards, until it returns false. */
export async function readLinesBackwards(file: string, onLine: (line: string) => boolean, chunkSize = 64 * 1024): Promise<void> {
  let fh: fsp.FileHandle;
  try { fh = await fsp.open(file, 'r'); } catch { return; }
  try {
    let pos = (await fh.stat()).size;
    let rest = Buffer.alloc(0);
    while (pos > 0) {
      const len = Math.min(chunkSize, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      const data = Buffer.concat([buf, rest]);
      let nl = data.lastIndexOf(10);
      let end = data.length;
      while (nl >= 0) {
        const line = data.subarray(nl + 1, end).toString('utf8');
        if (line && !onLine(line)) return;
        end = nl;
        nl = nl > 0 ? data.lastIndexOf(10, nl - 1) : -1;
      }
      rest = data.subarray(0, end);
    }
    if (rest.length) onLine(rest.toString('utf8'));
  } finally {
    await fh.close();
  }
}

export async function listTraces(root: string, q: TraceQuery): Promise<IndexEntry[]> {
  const parts: string[] = [];
  if (q.minDurationMs !== undefined) {
    for (const b of BUCKETS) if (b.hi > q.minDurationMs) parts.push(join(root, 'indexes', 'by_duration', b.name));
  } else if (q.status) {
    parts.push(join(root, 'indexes', 'by_status', q.status));
  } else {
    parts.push(join(root, 'indexes', 'by_status', 'OK'), join(root, 'indexes', 'by_status', 'ERROR'));
  }
  const byDate = new Map<string, string[]>();
  for (const p of parts) {
    for (const f of await entries(p)) {
      const m = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(f);
      if (!m) continue;
      const l = byDate.get(m[1]!);
      if (l) l.push(join(p, f)); else byDate.set(m[1]!, [join(p, f)]);
    }
  }
  const beforeDate = q.before !== undefined ? new Date(q.before).toISOString().slice(0, 10) : null;
  const matches = (e: IndexEntry) => (!q.status || e.status === q.status)
    && (q.minDurationMs === undefined || e.duration_ms >= q.minDurationMs)
    && (!q.endpoint || e.endpoint === q.endpoint || e.target === q.endpoint)
    && (q.before === undefined || e.start_ms < q.before);
  const seen = new Set<string>();
  const out: IndexEntry[] = [];
  for (const date of [...byDate.keys()].sort().reverse()) {
    if (beforeDate && date > beforeDate) continue;
    const found: IndexEntry[] = [];
    for (const file of byDate.get(date)!) {
      let n = 0;
      await readLinesBackwards(file, (line) => {
        let e: IndexEntry;
        try { e = JSON.parse(line) as IndexEntry; } catch { return true; }
        if (!matches(e)) return true;
        found.push(e);
        // Lines are in finishing order, close to start order: a few past the limit cover the difference.
        return ++n < q.limit * 2 + 16;
      });
    }
    for (const e of found.sort((a, b) => b.start_ms - a.start_ms)) {
      if (seen.has(e.trace_id)) continue;
      seen.add(e.trace_id);
      out.push(e);
    }
    if (out.length >= q.limit) break;
  }
  return out.sort((a, b) => b.start_ms - a.start_ms).slice(0, q.limit);
}

export async function readTrace(root: string, id: string): Promise<Trace | null> {
  if (!TRACE_ID.test(id)) return null;
  const days = (await entries(root)).filter((d) => DATE.test(d)).sort().reverse();
  for (const day of days) {
    try { return JSON.parse(await fsp.readFile(traceFile(root, day, id), 'utf8')) as Trace; } catch { /* next day */ }
  }
  return null;
}

/** A stable key for a store directory (kept writers are shared per directory). */
export const storeKey = (root: string) => createHash('sha1').update(root).digest('hex').slice(0, 12);
