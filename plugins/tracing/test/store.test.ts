import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, listTraces, readLinesBackwards, sweep, TraceStore, type IndexEntry, type StoreOptions } from '../src/store.js';
import type { Trace } from '../src/model.js';
import { newTraceId } from '../src/ids.js';
import { silent } from './fixtures.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'gatehouse-tracing-store-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

function trace(over: Partial<Trace> = {}): Trace {
  const id = over.trace_id ?? newTraceId();
  return {
    trace_id: id, request_id: `req-${id.slice(0, 6)}`, start_time: '2026-12-01T10:00:00.000Z', duration_ms: 42, status: 'OK',
    http_status: 200, error: null, method: 'POST', path: '/endpoints/chat/invocations', route: '/endpoints/:name/invocations',
    surface: 'mlflow', target: 'chat', endpoint: 'chat', stream: false, usage: null, kept: 'sampled', request_count: 1,
    spans: [{ span_id: 'aaaaaaaaaaaaaaaa', parent_id: null, name: 'root', kind: 'SERVER', start_time: '2026-12-01T10:00:00.000Z', start_offset_ms: 0, duration_ms: 42, status: { code: 'OK' }, attributes: {}, events: [] }],
    ...over,
  };
}

const options = (root: string, over: Partial<StoreOptions> = {}): StoreOptions => ({
  root, queueSize: 100, batchSize: 10, flushIntervalMs: 5, retentionDays: 7, maxTotalBytes: 1 << 30, sweeps: false, ...over,
});

const clock = (t: number) => ({ now: () => t });
const readJsonl = (file: string): IndexEntry[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('TraceStore', () => {
  it("writes trace files and both indexes in the seed's layout", async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root), clock(Date.parse('2026-12-01T12:00:00Z')), silent);
    const ok = trace({ duration_ms: 42 });
    const slow = trace({ duration_ms: 1500, start_time: '2026-12-01T10:00:01.000Z' });
    const bad = trace({ duration_ms: 7, status: 'ERROR', http_status: 502, error: { code: 'GW_ERR_UPSTREAM_STATUS', message: 'x' }, start_time: '2026-12-02T00:00:00.500Z' });
    for (const t of [ok, slow, bad]) expect(store.enqueue(t)).toBe(true);
    await store.flush();

    expect(readdirSync(root).sort()).toEqual(['2026-12-01', '2026-12-02', 'indexes']);
    expect(readdirSync(join(root, '2026-12-01')).sort()).toEqual([`${ok.trace_id}.json`, `${slow.trace_id}.json`].sort());
    expect(JSON.parse(readFileSync(join(root, '2026-12-02', `${bad.trace_id}.json`), 'utf8'))).toEqual(bad);
    expect(readdirSync(join(root, 'indexes')).sort()).toEqual(['by_duration', 'by_status']);
    expect(readdirSync(join(root, 'indexes', 'by_status')).sort()).toEqual(['ERROR', 'OK']);
    expect(readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.trace_id)).toEqual([ok.trace_id, slow.trace_id]);
    const e = readJsonl(join(root, 'indexes', 'by_status', 'ERROR', '2026-12-02.jsonl'))[0]!;
    expect(e).toEqual({
      trace_id: bad.trace_id, request_id: bad.request_id, start_time: bad.start_time, start_ms: Date.parse(bad.start_time), duration_ms: 7,
      status: 'ERROR', http_status: 502, code: 'GW_ERR_UPSTREAM_STATUS', endpoint: 'chat', target: 'chat', surface: 'mlflow',
      method: 'POST', path: '/endpoints/chat/invocations', stream: false, kept: 'sampled',
    });
    expect(readdirSync(join(root, 'indexes', 'by_duration')).sort()).toEqual(['0-100ms', '1000-2500ms'].sort());
    expect(readJsonl(join(root, 'indexes', 'by_duration', '1000-2500ms', '2026-12-01.jsonl')).map((x) => x.trace_id)).toEqual([slow.trace_id]);
    expect(store.stats()).toMatchObject({ queued: 0, written: 3, dropped: 0, failed: 0 });
    await store.close();
  });

  it('drops and counts when the queue is full, without waiting', async () => {
    const store = new TraceStore(options(join(dir, 'traces'), { queueSize: 3, batchSize: 100, flushIntervalMs: 10_000 }), clock(Date.now()), silent);
    const results = Array.from({ length: 8 }, () => store.enqueue(trace()));
    expect(results).toEqual([true, true, true, false, false, false, false, false]);
    expect(store.stats()).toMatchObject({ queued: 3, dropped: 5 });
    await store.flush();
    expect(store.stats()).toMatchObject({ queued: 0, written: 3, dropped: 5 });
    expect(store.enqueue(trace())).toBe(true);
    await store.close();
    expect(store.stats().written).toBe(4);
  });

  it('writes on its own timer, in batches', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { batchSize: 4, flushIntervalMs: 5 }), clock(Date.now()), silent);
    for (let i = 0; i < 10; i++) store.enqueue(trace());
    await expect.poll(() => store.stats().written, { timeout: 5000 }).toBe(10);
    expect(readdirSync(join(root, '2026-12-01'))).toHaveLength(10);
    await store.close();
  });

  it('merges requests that share a caller trace id into one file', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root), clock(Date.now()), silent);
    const id = newTraceId();
    const withParent = (start: string, spanId: string) => trace({ trace_id: id, start_time: start, spans: [{ ...trace().spans[0]!, span_id: spanId, parent_id: '1111111111111111' }] });
    store.enqueue(withParent('2026-12-01T10:00:00.000Z', 'aaaaaaaaaaaaaaa1'));
    await store.flush();
    store.enqueue(withParent('2026-12-01T10:00:01.000Z', 'aaaaaaaaaaaaaaa2'));
    await store.flush();
    const t = (await store.get(id))!;
    expect(t.request_count).toBe(2);
    expect(t.spans.map((s) => [s.span_id, s.start_offset_ms])).toEqual([['aaaaaaaaaaaaaaa1', 0], ['aaaaaaaaaaaaaaa2', 1000]]);
    expect(t.duration_ms).toBe(1042);
    await store.close();
  });

  it('writes a batch several files at a time: every file whole, index lines in finishing order, shared ids merged in order', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { batchSize: 200, queueSize: 200, flushIntervalMs: 10_000 }), clock(Date.now()), silent);
    const id = newTraceId();
    const shared = (i: number) => trace({ trace_id: id, start_time: `2026-12-01T10:00:0${i}.000Z`, spans: [{ ...trace().spans[0]!, span_id: `aaaaaaaaaaaaaaa${i}`, parent_id: '1111111111111111' }] });
    const all: Trace[] = [];
    for (let i = 0; i < 60; i++) {
      // Three requests of one caller trace among the others: one file, merged in the order they finished.
      const t = i % 20 === 5 ? shared(i / 20 | 0) : trace({ duration_ms: i * 7, status: i % 9 ? 'OK' : 'ERROR' });
      all.push(t);
      expect(store.enqueue(t)).toBe(true);
    }
    await store.flush();
    expect(store.stats()).toMatchObject({ queued: 0, written: 60, failed: 0 });
    const files = readdirSync(join(root, '2026-12-01'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files).toHaveLength(58);
    for (const t of all.filter((x) => x.trace_id !== id)) {
      expect(JSON.parse(readFileSync(join(root, '2026-12-01', `${t.trace_id}.json`), 'utf8'))).toEqual(t);
    }
    const merged = (await store.get(id))!;
    expect(merged.request_count).toBe(3);
    expect(merged.spans.map((s) => s.span_id)).toEqual(['aaaaaaaaaaaaaaa0', 'aaaaaaaaaaaaaaa1', 'aaaaaaaaaaaaaaa2']);
    const lines = [
      ...readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')),
      ...readJsonl(join(root, 'indexes', 'by_status', 'ERROR', '2026-12-01.jsonl')),
    ];
    expect(lines).toHaveLength(60);
    const order = (status: string) => all.filter((t) => t.status === status).map((t) => t.request_id);
    expect(readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.request_id)).toEqual(order('OK'));
    expect(readJsonl(join(root, 'indexes', 'by_status', 'ERROR', '2026-12-01.jsonl')).map((e) => e.request_id)).toEqual(order('ERROR'));
    await store.close();
  });

  it('counts a trace it could not write and leaves it out of the indexes; the rest of the batch is written', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { flushIntervalMs: 10_000 }), clock(Date.now()), silent);
    const good = trace();
    const bad = trace({ start_time: '2026-12-03T10:00:00.000Z' });
    // A file where the day's directory should be: that day cannot be written.
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, '2026-12-03'), 'not a directory');
    store.enqueue(bad);
    store.enqueue(good);
    await store.flush();
    expect(store.stats()).toMatchObject({ written: 1, failed: 1 });
    expect(readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.trace_id)).toEqual([good.trace_id]);
    expect(existsSync(join(root, 'indexes', 'by_status', 'OK', '2026-12-03.jsonl'))).toBe(false);
    await store.close();
  });

  it('starts another writer thread when the one it had is gone', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { flushIntervalMs: 10_000 }), clock(Date.now()), silent);
    store.enqueue(trace());
    await store.flush();
    const writer = (store as unknown as { writer: { worker: { terminate(): Promise<number> } | null } }).writer;
    expect(writer.worker).not.toBeNull();
    await writer.worker!.terminate();
    await expect.poll(() => writer.worker).toBeNull();
    const t = trace();
    store.enqueue(t);
    await store.flush();
    expect(store.stats()).toMatchObject({ written: 2, failed: 0 });
    expect(existsSync(join(root, '2026-12-01', `${t.trace_id}.json`))).toBe(true);
    await store.close();
    expect(writer.worker).toBeNull();
  });

  it('ends its writer thread after a while with nothing to write, and starts one again for the next batch', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { flushIntervalMs: 10_000, writerIdleMs: 30 }), clock(Date.now()), silent);
    const writer = (store as unknown as { writer: { worker: unknown } }).writer;
    store.enqueue(trace());
    await store.flush();
    expect(writer.worker).not.toBeNull();
    await expect.poll(() => writer.worker, { timeout: 5000 }).toBeNull();
    store.enqueue(trace());
    await store.flush();
    expect(store.stats()).toMatchObject({ written: 2, failed: 0 });
    expect(readdirSync(join(root, '2026-12-01'))).toHaveLength(2);
    await store.close();
  });
});

describe('listTraces and readTrace', () => {
  it('filters by status, minimum duration and endpoint, newest first, up to the limit', async () => {
    const root = join(dir, 'traces');
    const store = new TraceStore(options(root, { batchSize: 1000 }), clock(Date.now()), silent);
    const all: Trace[] = [];
    for (let i = 0; i < 60; i++) {
      const day = i < 30 ? '2026-11-30' : '2026-12-01';
      const t = trace({
        start_time: `${day}T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
        duration_ms: i * 50,
        status: i % 7 === 0 ? 'ERROR' : 'OK',
        endpoint: i % 2 ? 'chat' : 'embeddings', target: i % 2 ? 'chat' : 'embeddings',
      });
      all.push(t);
      store.enqueue(t);
    }
    await store.flush();
    const newest = [...all].sort((a, b) => Date.parse(b.start_time) - Date.parse(a.start_time));

    expect((await listTraces(root, { limit: 5 })).map((e) => e.trace_id)).toEqual(newest.slice(0, 5).map((t) => t.trace_id));
    const errors = await listTraces(root, { status: 'ERROR', limit: 100 });
    expect(errors.map((e) => e.trace_id)).toEqual(newest.filter((t) => t.status === 'ERROR').map((t) => t.trace_id));
    const slow = await listTraces(root, { minDurationMs: 2000, limit: 100 });
    expect(slow.map((e) => e.trace_id)).toEqual(newest.filter((t) => t.duration_ms >= 2000).map((t) => t.trace_id));
    const slowErrors = await listTraces(root, { minDurationMs: 1000, status: 'ERROR', endpoint: 'embeddings', limit: 100 });
    expect(slowErrors.map((e) => e.trace_id)).toEqual(newest.filter((t) => t.duration_ms >= 1000 && t.status === 'ERROR' && t.endpoint === 'embeddings').map((t) => t.trace_id));
    expect(slowErrors.length).toBeGreaterThan(0);
    // Paging across the day boundary.
    const page1 = await listTraces(root, { limit: 25 });
    const page2 = await listTraces(root, { limit: 25, before: page1[24]!.start_ms });
    expect([...page1, ...page2].map((e) => e.trace_id)).toEqual(newest.slice(0, 50).map((t) => t.trace_id));

    expect((await store.get(all[3]!.trace_id))?.duration_ms).toBe(150);
    expect(await store.get('f'.repeat(32))).toBeNull();
    expect(await store.get('../../etc/passwd')).toBeNull();
    await store.close();
  });

  it('reads index files backwards in small chunks, lines whole', async () => {
    const file = join(dir, 'lines.jsonl');
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ i, pad: 'é'.repeat(i % 13) }));
    writeFileSync(file, lines.join('\n') + '\n');
    const seen: number[] = [];
    await readLinesBackwards(file, (l) => { seen.push(JSON.parse(l).i); return true; }, 37);
    expect(seen).toEqual(lines.map((_, i) => i).reverse());
    const first5: number[] = [];
    await readLinesBackwards(file, (l) => { first5.push(JSON.parse(l).i); return first5.length < 5; }, 64);
    expect(first5).toEqual([199, 198, 197, 196, 195]);
  });

  it('names every duration bucket by its bounds', () => {
    expect(BUCKETS.map((b) => b.name)).toEqual(['0-100ms', '100-250ms', '250-500ms', '500-1000ms', '1000-2500ms', '2500-5000ms', '5000-10000ms', '10000-30000ms', '30000-60000ms', '60000ms-and-over']);
    expect(bucketOf(0).name).toBe('0-100ms');
    expect(bucketOf(999.9).name).toBe('500-1000ms');
    expect(bucketOf(1000).name).toBe('1000-2500ms');
    expect(bucketOf(3_600_000).name).toBe('60000ms-and-over');
  });
});

describe('retention', () => {
  /** Plant a day of traces (and their index lines) as an older gateway would have written them. */
  function plant(root: string, day: string, n: number, bytes = 100): string[] {
    mkdirSync(join(root, day), { recursive: true });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const t = trace({ start_time: `${day}T01:00:0${i}.000Z` });
      writeFileSync(join(root, day, `${t.trace_id}.json`), JSON.stringify({ ...t, pad: 'x'.repeat(bytes) }));
      for (const p of [['by_status', 'OK'], ['by_duration', '0-100ms']]) {
        mkdirSync(join(root, 'indexes', p[0]!, p[1]!), { recursive: true });
        writeFileSync(join(root, 'indexes', p[0]!, p[1]!, `${day}.jsonl`), JSON.stringify({ trace_id: t.trace_id, start_ms: Date.parse(t.start_time) }) + '\n', { flag: 'a' });
      }
      ids.push(t.trace_id);
    }
    return ids;
  }

  it('deletes days older than retention_days, with their index files', async () => {
    const root = join(dir, 'traces');
    plant(root, '2026-11-20', 2);
    plant(root, '2026-11-23', 2);
    plant(root, '2026-11-24', 2);
    plant(root, '2026-12-01', 2);
    const now = Date.parse('2026-12-01T12:00:00Z'); // 7 days back: 2026-11-24T12:00
    const r = await sweep(root, now, { retentionDays: 7, maxTotalBytes: 1 << 30 });
    expect(r.removedDays).toEqual(['2026-11-20', '2026-11-23']);
    expect(readdirSync(root).sort()).toEqual(['2026-11-24', '2026-12-01', 'indexes']);
    expect(readdirSync(join(root, 'indexes', 'by_status', 'OK')).sort()).toEqual(['2026-11-24.jsonl', '2026-12-01.jsonl']);
    expect(readdirSync(join(root, 'indexes', 'by_duration', '0-100ms')).sort()).toEqual(['2026-11-24.jsonl', '2026-12-01.jsonl']);
  });

  it('deletes the oldest days past max total size, then the oldest files of the last day', async () => {
    const root = join(dir, 'traces');
    plant(root, '2026-11-29', 5, 1000);
    plant(root, '2026-11-30', 5, 1000);
    plant(root, '2026-12-01', 10, 1000);
    const r = await sweep(root, Date.parse('2026-12-01T12:00:00Z'), { retentionDays: 30, maxTotalBytes: 20_000 });
    expect(r.removedDays).toEqual(['2026-11-29', '2026-11-30']);
    expect(r.removedFiles).toBe(0);
    expect(r.totalBytes).toBeLessThanOrEqual(20_000);
    expect(r.totalBytes).toBeGreaterThan(10_000); // the last day is whole
    const r2 = await sweep(root, Date.parse('2026-12-01T12:00:00Z'), { retentionDays: 30, maxTotalBytes: 6_000 });
    expect(r2.removedFiles).toBeGreaterThan(0);
    expect(r2.totalBytes).toBeLessThanOrEqual(6_000);
    const left = readdirSync(join(root, '2026-12-01')).map((f) => f.slice(0, 32));
    const indexed = readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.trace_id);
    expect(indexed.sort()).toEqual(left.sort());
  });

  it('deletes and rewrites only inside `exclusive`, reading an index there: a line appended while it scanned stays', async () => {
    const root = join(dir, 'traces');
    plant(root, '2026-11-30', 3, 1000);
    plant(root, '2026-12-01', 10, 1000);
    const late = trace({ start_time: '2026-12-01T11:59:59.000Z' });
    const calls: string[] = [];
    const r = await sweep(root, Date.parse('2026-12-01T12:00:00Z'), {
      retentionDays: 30, maxTotalBytes: 6_000,
      exclusive: async (fn) => {
        calls.push(readdirSync(root).filter((d) => d.startsWith('2026')).join(','));
        // What the store's writer could append while the sweep was scanning, just before this step.
        if (calls.length === 2) writeFileSync(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl'), JSON.stringify({ trace_id: late.trace_id, start_ms: 1 }) + '\n', { flag: 'a' });
        return fn();
      },
    });
    // First the older day (whole), then the oldest files of the last one.
    expect(calls).toEqual(['2026-11-30,2026-12-01', '2026-12-01']);
    expect(r.removedDays).toEqual(['2026-11-30']);
    expect(r.removedFiles).toBeGreaterThan(0);
    const indexed = readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.trace_id);
    expect(indexed).toContain(late.trace_id);
    expect(indexed.filter((id) => id !== late.trace_id).sort()).toEqual(readdirSync(join(root, '2026-12-01')).map((f) => f.slice(0, 32)).sort());
  });

  it('sizes the store on its writer thread when the store sweeps, with the same outcome', async () => {
    const root = join(dir, 'traces');
    plant(root, '2026-11-29', 5, 1000);
    plant(root, '2026-11-30', 5, 1000);
    plant(root, '2026-12-01', 10, 1000);
    const store = new TraceStore(options(root, { retentionDays: 30, maxTotalBytes: 6_000 }), clock(Date.parse('2026-12-01T12:00:00Z')), silent);
    const r = await store.sweep();
    expect(r.removedDays).toEqual(['2026-11-29', '2026-11-30']);
    expect(r.removedFiles).toBeGreaterThan(0);
    expect(r.totalBytes).toBeLessThanOrEqual(6_000);
    const left = readdirSync(join(root, '2026-12-01')).map((f) => f.slice(0, 32));
    expect(left.length).toBe(10 - r.removedFiles);
    const indexed = readJsonl(join(root, 'indexes', 'by_status', 'OK', '2026-12-01.jsonl')).map((e) => e.trace_id);
    expect(indexed.sort()).toEqual(left.sort());
    expect(store.stats().bytesEstimate).toBe(r.totalBytes);
    await store.close();
  });

  it('settle() writes what is queued without waiting for the scan of a sweep in progress', async () => {
    const root = join(dir, 'traces');
    plant(root, '2020-01-01', 3);
    const store = new TraceStore(options(root, { sweeps: true }), clock(Date.parse('2026-12-01T12:00:00Z')), silent);
    // A scan that takes long (a store of many files): held until released here.
    const writer = (store as unknown as { writer: { list(dir: string): Promise<unknown> } }).writer;
    const list = writer.list.bind(writer);
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    writer.list = async (d: string) => { await held; return list(d); };
    try {
      store.enqueue(trace());
      await store.settle(); // the first write starts the sweep, whose scan now waits
      const late = trace();
      store.enqueue(late);
      await store.settle();
      expect((store as unknown as { sweeping: unknown }).sweeping).not.toBeNull();
      expect((await store.list({ limit: 10 })).map((e) => e.trace_id)).toContain(late.trace_id);
      expect(await store.get(late.trace_id)).not.toBeNull();
      expect(store.stats().lastSweep).toBeNull();
    } finally { release(); }
    // flush() still waits for the sweep.
    await store.flush();
    expect(store.stats().lastSweep).toBe(Date.parse('2026-12-01T12:00:00Z'));
    expect(existsSync(join(root, '2020-01-01'))).toBe(false);
    await store.close();
  });

  it('runs from the store on its own after a write when due (fake clock)', async () => {
    const root = join(dir, 'traces');
    plant(root, '2020-01-01', 3);
    const store = new TraceStore(options(root, { sweeps: true }), clock(Date.parse('2026-12-01T12:00:00Z')), silent);
    store.enqueue(trace());
    await store.flush();
    expect(existsSync(join(root, '2020-01-01'))).toBe(false);
    expect(existsSync(join(root, 'indexes', 'by_status', 'OK', '2020-01-01.jsonl'))).toBe(false);
    expect(existsSync(join(root, '2026-12-01'))).toBe(true);
    expect(store.stats().lastSweep).toBe(Date.parse('2026-12-01T12:00:00Z'));
    await store.close();
  });
});
