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
 * a timer writes batches; a full queue drops the trace and counts it, it never waits. The files
 * of a batch are written by a writer thread (one message per batch, not a libuv round trip per
 * file operation on a busy event loop).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
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
  /** The writer thread ends after this long with nothing to write (default 60 s); the next batch starts another. */
  writerIdleMs?: number;
}

export interface StoreStats { queued: number; written: number; dropped: number; failed: number; bytesEstimate: number; lastSweep: number | null }

/** A trace file path for an id and a date. */
export const traceFile = (root: string, date: string, id: string) => join(root, date, `${id}.json`);

/**
 * The writer thread's code (plain JavaScript, so that it runs from the sources as from the build).
 * A `write` message carries a batch in flat arrays (cheap to copy): `files[k]` gets `texts[k]`,
 * written to a temporary file then renamed; `lines[j]` (finishing order) goes to index files
 * `indexFiles[lineFiles[2j]]` and `indexFiles[lineFiles[2j + 1]]` if file `lineItem[j]` was
 * written, one append per index file. A `read` message returns files' text (null for none), a
 * `list` message a directory's files with their sizes and modification times (for retention).
 * Errors come back as messages, per file; it never throws.
 */
const WRITER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const dirs = new Set();
const mkdir = (d) => { if (!dirs.has(d)) { fs.mkdirSync(d, { recursive: true }); dirs.add(d); } };
const text = (e) => (e && e.message) || String(e);
parentPort.on('message', (m) => {
  if (m.resetDirs) dirs.clear();
  if (m.op === 'read') {
    const texts = m.files.map((f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return null; } });
    parentPort.postMessage({ id: m.id, texts });
    return;
  }
  if (m.op === 'list') {
    const names = [], sizes = [], mtimes = [];
    let all = [];
    try { all = fs.readdirSync(m.dir); } catch { /* none */ }
    for (const name of all) {
      try { const s = fs.statSync(path.join(m.dir, name)); names.push(name); sizes.push(s.size); mtimes.push(s.mtimeMs); } catch { /* gone */ }
    }
    parentPort.postMessage({ id: m.id, names, sizes, mtimes });
    return;
  }
  let bytes = 0;
  const errors = m.files.map((file, k) => {
    try {
      const tmp = file + '.' + process.pid + '.' + k + '.tmp';
      mkdir(path.dirname(file));
      fs.writeFileSync(tmp, m.texts[k]);
      fs.renameSync(tmp, file);
      bytes += Buffer.byteLength(m.texts[k]);
      return null;
    } catch (e) { return text(e); }
  });
  const byFile = m.indexFiles.map(() => []);
  m.lines.forEach((line, j) => {
    if (errors[m.lineItem[j]] !== null) return;
    byFile[m.lineFiles[2 * j]].push(line);
    byFile[m.lineFiles[2 * j + 1]].push(line);
  });
  let appendError = null;
  for (let f = 0; f < byFile.length; f++) {
    if (!byFile[f].length) continue;
    const file = m.indexFiles[f];
    const body = byFile[f].join('');
    try {
      mkdir(path.dirname(file));
      // One append per index file per batch; lines stay whole across --workers (O_APPEND).
      fs.appendFileSync(file, body);
      bytes += Buffer.byteLength(body);
    } catch (e) { appendError ??= text(e); }
  }
  parentPort.postMessage({ id: m.id, errors, appendError, bytes });
});
`;

/** A batch for the writer thread (see WRITER_SOURCE). */
interface WriteBatch { files: string[]; texts: string[]; indexFiles: string[]; lines: string[]; lineItem: number[]; lineFiles: number[] }
type WriteReply = { id: number; errors: Array<string | null>; appendError: string | null; bytes: number };
type ReadReply = { id: number; texts: Array<string | null> };
type ListReply = { id: number; names: string[]; sizes: number[]; mtimes: number[] };

/** A writer thread with nothing to write for this long ends (its memory back); the next batch starts another. */
const WRITER_IDLE_MS = 60_000;

/**
 * The writer thread, started on the first batch. It holds the process open only while a request
 * is out; if it dies, the requests out fail (their traces are counted as failed) and the next
 * batch starts another.
 */
class Writer {
  private worker: Worker | null = null;
  private idle: NodeJS.Timeout | null = null;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private resetDirs = false;

  constructor(private readonly idleMs: () => number) {}

  /** The directories may be gone (retention): the thread makes them again when needed. */
  forgetDirs(): void { this.resetDirs = true; }

  write(batch: WriteBatch): Promise<WriteReply> {
    return this.request({ op: 'write', ...batch });
  }

  read(files: string[]): Promise<ReadReply> {
    return this.request({ op: 'read', files });
  }

  async list(dir: string): Promise<FileSize[]> {
    const r = await this.request<ListReply>({ op: 'list', dir });
    return r.names.map((name, i) => ({ name, size: r.sizes[i]!, mtime: r.mtimes[i]! }));
  }

  private request<T>(body: Record<string, unknown>): Promise<T> {
    if (this.idle) { clearTimeout(this.idle); this.idle = null; }
    const w = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) w.ref();
      try {
        w.postMessage({ id, resetDirs: this.resetDirs, ...body });
        this.resetDirs = false;
      } catch (e) {
        this.waiting.delete(id);
        if (!this.waiting.size) w.unref();
        reject(e as Error);
      }
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // A small young generation: the thread only passes strings through, and its memory stays small.
    const w = new Worker(WRITER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    w.unref();
    w.on('message', (m: { id: number }) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if (!this.waiting.size) {
        w.unref();
        this.idle ??= setTimeout(() => { this.idle = null; if (!this.waiting.size) void this.close(); }, this.idleMs());
        this.idle.unref();
      }
      p.resolve(m);
    });
    const fail = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = null;
      const all = [...this.waiting.values()];
      this.waiting.clear();
      for (const p of all) p.reject(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`trace writer thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    if (this.idle) { clearTimeout(this.idle); this.idle = null; }
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

export class TraceStore {
  private queue: Trace[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The timer is a zero-delay one (a full batch is waiting). */
  private timerNow = false;
  private running: Promise<void> | null = null;
  private sweeping: Promise<void> | null = null;
  private readonly writer = new Writer(() => this.opts.writerIdleMs ?? WRITER_IDLE_MS);
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
      // A write is due already: it takes whatever is queued by then (no new timer per trace).
      if (delay > 0 || this.timerNow) return;
      clearTimeout(this.timer);
    }
    this.timerNow = delay === 0;
    this.timer = setTimeout(() => { this.timer = null; this.timerNow = false; void this.flushWrites(false); }, delay);
    this.timer.unref?.();
  }

  /** Write everything queued so far (and wait for a write or a retention sweep in progress). */
  async flush(): Promise<void> {
    await this.flushWrites(true);
    while (this.sweeping) await this.sweeping;
  }

  /**
   * Write everything queued so far, without waiting for a retention sweep's scan (seconds on a
   * large store): what the read API runs, so a trace just finished is listed while a sweep is
   * under way. A sweep's deletion step in progress holds writing off, and so this, briefly.
   */
  settle(): Promise<void> {
    return this.flushWrites(true);
  }

  /** Write what is queued, after a write in progress. What the timer runs (`all` false): it never waits for a sweep's scan. */
  private async flushWrites(all: boolean): Promise<void> {
    while (this.running) await this.running;
    if (!this.queue.length) return;
    this.running = this.drain(all).finally(() => { this.running = null; });
    await this.running;
  }

  /** Run `fn` with writing held off (a sweep's deletions and index rewrites). */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    const p = fn();
    this.running = p.then(() => undefined, () => undefined).finally(() => { this.running = null; });
    return p;
  }

  /**
   * Write what was queued when called, then full batches; with `all`, also what arrives meanwhile
   * until the queue is empty. Otherwise a few traces that arrived during a write wait for the
   * timer (which `enqueue` set) instead of going out as a batch of their own.
   */
  private async drain(all: boolean): Promise<void> {
    let due = this.queue.length;
    while (this.queue.length && (all || due > 0 || this.queue.length >= this.opts.batchSize)) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      due -= batch.length;
      try {
        await this.writeBatch(batch);
      } catch (e) {
        this.failed += batch.length;
        this.logger.warn('trace batch not written', { error: (e as Error).message, traces: batch.length });
      }
    }
    // Retention runs beside the writes: its scan (a stat per stored file) can take long on a busy
    // event loop, and writes must not wait for it; only its deletions hold writing off.
    if (this.opts.sweeps && !this.sweeping && this.sweepDue()) {
      this.sweeping = this.sweep().then(() => undefined, (e: unknown) => {
        this.logger.warn('trace retention failed', { error: (e as Error).message });
      }).finally(() => { this.sweeping = null; });
    }
  }

  /**
   * Write a batch: each trace file through a temporary file renamed into place (a reader never
   * sees half a trace), then one append per index file with the lines of the traces that were
   * written, in the order they finished. Requests that share a caller's trace id share a file:
   * they are merged here, in order, into what the file already holds.
   */
  private async writeBatch(batch: Trace[]): Promise<void> {
    const root = this.opts.root;
    // Batch positions by trace file, in order.
    const byFile = new Map<string, number[]>();
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      const file = traceFile(root, dateOf(t.start_time), t.trace_id);
      const same = byFile.get(file);
      if (same) same.push(i); else byFile.set(file, [i]);
    }
    // Only a caller-supplied trace id can already have a file (our own ids are random).
    const merging = [...byFile].filter(([, at]) => batch[at[0]!]!.spans[0]?.parent_id).map(([file]) => file);
    const stored = new Map<string, string | null>();
    if (merging.length) {
      const { texts } = await this.writer.read(merging);
      merging.forEach((f, k) => stored.set(f, texts[k] ?? null));
    }

    const w: WriteBatch = { files: [], texts: [], indexFiles: [], lines: [], lineItem: [], lineFiles: [] };
    const members: number[][] = [];
    const itemOf = new Array<number>(batch.length);
    for (const [file, at] of byFile) {
      let body: Trace | null = null;
      const text = stored.get(file);
      for (const i of at) {
        const trace = batch[i]!;
        let prev: Trace | null = body;
        if (prev === null && trace.spans[0]?.parent_id && text) {
          try { prev = JSON.parse(text) as Trace; } catch { /* not a trace: replaced */ }
        }
        try { body = prev && trace.spans[0]?.parent_id ? mergeTraces(prev, trace) : trace; } catch { body = trace; }
        itemOf[i] = w.files.length;
      }
      w.files.push(file);
      w.texts.push(JSON.stringify(body));
      members.push(at);
    }
    const indexAt = new Map<string, number>();
    const indexFile = (file: string): number => {
      let k = indexAt.get(file);
      if (k === undefined) { k = w.indexFiles.push(file) - 1; indexAt.set(file, k); }
      return k;
    };
    for (let i = 0; i < batch.length; i++) {
      const trace = batch[i]!;
      const date = dateOf(trace.start_time);
      w.lines.push(JSON.stringify(entryOf(trace)) + '\n');
      w.lineItem.push(itemOf[i]!);
      w.lineFiles.push(
        indexFile(join(root, 'indexes', 'by_status', trace.status, `${date}.jsonl`)),
        indexFile(join(root, 'indexes', 'by_duration', bucketOf(trace.duration_ms).name, `${date}.jsonl`)),
      );
    }

    const r = await this.writer.write(w);
    this.bytes = (this.bytes ?? 0) + r.bytes;
    r.errors.forEach((error, k) => {
      const at = members[k]!;
      if (error === null) { this.written += at.length; return; }
      this.failed += at.length;
      for (const i of at) this.logger.warn('trace not written', { trace_id: batch[i]!.trace_id, error });
    });
    if (r.appendError !== null) throw new Error(r.appendError);
  }

  private sweepDue(): boolean {
    const now = this.clock.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const interval = this.opts.sweepIntervalMs ?? 10 * 60_000;
    return this.bytes === null || this.lastSweep === null || day !== this.lastSweepDay
      || now - this.lastSweep >= interval || (this.bytes ?? 0) > this.opts.maxTotalBytes;
  }

  /** Apply retention now: delete days older than `retentionDays`, then the oldest data past `maxTotalBytes`. */
  async sweep(now = this.clock.now()): Promise<SweepResult> {
    const written = this.bytes ?? 0;
    // Each deleting step holds writes off, and leaves the writer to make directories again.
    const exclusive = <T>(fn: () => Promise<T>) => this.exclusive(async () => { try { return await fn(); } finally { this.writer.forgetDirs(); } });
    // The scan's stat calls run on the writer thread: one message per day, not an event-loop turn per file.
    const r = await sweep(this.opts.root, now, { ...this.opts, exclusive, list: (dir) => this.writer.list(dir) });
    // What was written while the sweep scanned is not in its total.
    this.bytes = r.totalBytes + Math.max(0, (this.bytes ?? 0) - written);
    this.lastSweep = now;
    this.lastSweepDay = new Date(now).toISOString().slice(0, 10);
    this.writer.forgetDirs();
    if (r.removedDays.length || r.removedFiles) this.logger.info('trace retention', { removed_days: r.removedDays, removed_files: r.removedFiles, total_bytes: r.totalBytes });
    return r;
  }

  async close(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; this.timerNow = false; }
    await this.flush();
    this.closed = true;
    await this.writer.close();
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

/** `fn` over `items`, at most `limit` at a time; results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => { while (next < items.length) { const i = next++; out[i] = await fn(items[i]!); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Stats at once while sizing the store: one event-loop turn per this many files, not per file. */
const STATS_IN_FLIGHT = 32;

export interface SweepOptions {
  retentionDays: number;
  maxTotalBytes: number;
  /**
   * Runs each step that deletes or rewrites files, e.g. with the store's writing held off (the
   * scans run beside the writes; an index rewrite must not lose a line appended meanwhile).
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** A directory's files with their sizes (by default: read here, `STATS_IN_FLIGHT` stat calls at a time). */
  list?: (dir: string) => Promise<FileSize[]>;
}

export interface FileSize { name: string; size: number; mtime: number }

async function listSizes(dir: string): Promise<FileSize[]> {
  const names = await entries(dir);
  const sizes = await mapLimit(names, STATS_IN_FLIGHT, (name) => sizeOf(join(dir, name)));
  const out: FileSize[] = [];
  names.forEach((name, i) => { const s = sizes[i]; if (s) out.push({ name, ...s }); });
  return out;
}

export async function sweep(root: string, now: number, opts: SweepOptions): Promise<SweepResult> {
  const exclusive = opts.exclusive ?? (<T>(fn: () => Promise<T>) => fn());
  const list = opts.list ?? listSizes;
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

  const kept = days.filter((day) => day >= cutoff);
  if (days.length > kept.length || idx.some((f) => f.date < cutoff)) {
    await exclusive(async () => {
      for (const day of days) if (day < cutoff) await removeDay(day);
      // Index files of days whose trace directory is already gone go too.
      for (const f of idx) if (f.date < cutoff && !removedDays.includes(f.date)) { await fsp.rm(f.path, { force: true }); }
    });
  }

  // Size: whole days, oldest first, then (when one day alone is too big) its oldest files.
  const daySizes = new Map<string, { total: number; files: Array<{ name: string; size: number; mtime: number }> }>();
  for (const day of kept) {
    const files = await list(join(root, day));
    let total = 0;
    for (const f of files) total += f.size;
    daySizes.set(day, { total, files });
  }
  const idxLeft = (await indexFiles(root));
  const idxSize = new Map<string, number>();
  const idxSizes = await mapLimit(idxLeft, STATS_IN_FLIGHT, (f) => sizeOf(f.path));
  idxLeft.forEach((f, i) => idxSize.set(f.path, idxSizes[i]?.size ?? 0));
  const dayTotal = (day: string) => (daySizes.get(day)?.total ?? 0) + idxLeft.filter((f) => f.date === day).reduce((a, f) => a + (idxSize.get(f.path) ?? 0), 0);
  let total = kept.reduce((a, d) => a + dayTotal(d), 0) + idxLeft.filter((f) => !kept.includes(f.date)).reduce((a, f) => a + (idxSize.get(f.path) ?? 0), 0);

  while (total > opts.maxTotalBytes && kept.length > 1) {
    const day = kept.shift()!;
    total -= dayTotal(day);
    await exclusive(() => removeDay(day));
  }
  if (total > opts.maxTotalBytes && kept.length === 1) await exclusive(async () => {
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
  });
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
