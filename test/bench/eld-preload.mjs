/**
 * Preloaded into the gateway (and the peer) by run.mjs: `node --import ./eld-preload.mjs <server>`.
 *
 * - Event-loop delay: a perf_hooks histogram runs from start-up. On SIGUSR2 it is written as JSON
 *   (milliseconds) to $BENCH_ELD_FILE (via a temp file and rename, so a reader never sees half of it),
 *   then reset, so each read covers the time since the previous one. The same read carries the bytes
 *   the JS heap allocated in that time (v8.GCProfiler: per GC, used-before minus the previous
 *   used-after, plus what was allocated since the last GC), for "allocated per request".
 * - With $BENCH_ALLOC_PROF (a directory): V8's sampling heap profiler over every allocation, the
 *   ones already collected included (`--alloc-prof` of run.mjs), cut into one .heapprofile per
 *   SIGUSR2 (so one file covers exactly one measured run): where each request's bytes are
 *   allocated, not only what stays.
 * - Stops the server if the benchmark runner disappears ($BENCH_PARENT_PID), so nothing outlives a
 *   killed run. Both timers are unref'd: the preload never keeps a process alive.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const file = process.env.BENCH_ELD_FILE;
const parent = Number(process.env.BENCH_PARENT_PID);
const RESOLUTION_MS = 10;
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
h.enable();

const used = () => v8.getHeapStatistics().used_heap_size;
let gc = v8.GCProfiler ? new v8.GCProfiler() : null;
let usedAtStart = used();
gc?.start();
/** Bytes allocated on the JS heap since the previous call. */
function allocatedSinceLast() {
  if (!gc) return null;
  const stats = gc.stop()?.statistics ?? [];
  let total = 0;
  let prev = usedAtStart;
  for (const s of stats) {
    total += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
    prev = s.afterGC.heapStatistics.usedHeapSize;
  }
  const now = used();
  total += Math.max(0, now - prev);
  gc = new v8.GCProfiler();
  usedAtStart = now;
  gc.start();
  return total;
}

if (file) {
  process.on('SIGUSR2', () => {
    // On Node 20 the samples are whole timer intervals; the delay is what exceeds the resolution.
    const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    const out = {
      count: h.count,
      min: ms(h.min), mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max),
      allocatedBytes: allocatedSinceLast(),
      heapUsedMB: used() / 1048576,
      heapTotalMB: v8.getHeapStatistics().total_heap_size / 1048576,
    };
    h.reset();
    writeFileSync(`${file}.tmp`, JSON.stringify(out));
    renameSync(`${file}.tmp`, file);
  });
}

const allocDir = process.env.BENCH_ALLOC_PROF;
if (allocDir) {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  let n = 0;
  const start = () => session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  // A same-thread session answers synchronously, so this works in a signal or exit handler too.
  const cut = () => session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) writeFileSync(`${allocDir}/alloc-${process.pid}-${String(n++).padStart(2, '0')}.heapprofile`, JSON.stringify(r.profile));
  });
  start();
  // One profile per measured interval: the runner reads the event-loop delay (SIGUSR2) before and after each run.
  process.on('SIGUSR2', () => { cut(); start(); });
  process.on('exit', cut);
}

if (parent > 0) {
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.kill(process.pid, 'SIGKILL'); }
  }, 1000).unref();
}
