/**
 * Preloaded into the gateway (and the peer) by run.mjs: `node --import ./eld-preload.mjs <server>`.
 *
 * - Event-loop delay: a perf_hooks histogram runs from start-up. On SIGUSR2 it is written as JSON
 *   (milliseconds) to $BENCH_ELD_FILE (via a temp file and rename, so a reader never sees half of it),
 *   then reset, so each read covers the time since the previous one.
 * - Stops the server if the benchmark runner disappears ($BENCH_PARENT_PID), so nothing outlives a
 *   killed run. Both timers are unref'd: the preload never keeps a process alive.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_ELD_FILE;
const parent = Number(process.env.BENCH_PARENT_PID);
const RESOLUTION_MS = 10;
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
h.enable();

if (file) {
  process.on('SIGUSR2', () => {
    // On Node 20 the samples are whole timer intervals; the delay is what exceeds the resolution.
    const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    const out = {
      count: h.count,
      min: ms(h.min), mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max),
    };
    h.reset();
    writeFileSync(`${file}.tmp`, JSON.stringify(out));
    renameSync(`${file}.tmp`, file);
  });
}

if (parent > 0) {
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.kill(process.pid, 'SIGKILL'); }
  }, 1000).unref();
}
