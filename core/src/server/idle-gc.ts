import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '@gatehouse/sdk';

/** Heap growth since the last collection that is worth a collection when idle. */
const GROWTH = 16 * 1024 * 1024;
const MB = (n: number) => Math.round(n / 1048576);

/**
 * Memory back after a burst. V8 collects only when it allocates, so the garbage of a burst stays
 * in an idle process (1,000 streams left ~75 MB: RSS 86 → 200 MB, still there 40 s later). After
 * `idleMs()` with nothing in flight, and only if the heap grew by 16 MB, collect twice, 6 s
 * apart: the second returns the emptied pages (RSS back to ~106 MB). Call `idle()` once ready and
 * whenever the in-flight count drops to zero; `idleMs()` of 0 turns it off.
 *
 * The price: V8 drops much of its optimised code in these collections, so the next burst runs
 * slower until it is compiled again (+40–75 % CPU over its first 10,000 requests, ~2.8× the
 * re-optimisations). Hence a default of a minute idle, not seconds.
 */
export function idleCollector(busy: () => boolean, idleMs: () => number, logger: Logger): { idle(): void; stop(): void } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let last = 0;
  let timer: NodeJS.Timeout | null = null;
  // Start-up (modules, schemas, the config) is the first burst, whatever its size: once the new
  // gateway has been idle, its garbage goes and the young generation it grew shrinks (RSS 89 → 74 MB).
  let base = -Infinity;
  const later = (fn: () => void, ms: number) => { timer = setTimeout(fn, ms); timer.unref(); };
  const check = () => {
    timer = null;
    const wait = idleMs() - (performance.now() - last);
    if (busy() || idleMs() <= 0) return;
    if (wait > 1) { later(check, wait); return; }
    const before = getHeapStatistics().used_heap_size;
    if (before - base < GROWTH) return;
    const start = last;
    const rss = process.memoryUsage.rss();
    gc();
    // The second collection shrinks the young generation too: V8 does that only when the last
    // 5 s allocated little, so it comes 6 s after the first (which frees the burst's old garbage).
    later(() => {
      timer = null;
      if (busy()) return; // the next idle() starts over
      if (last !== start) { check(); return; } // requests came and went meanwhile: idle long enough since?
      gc();
      base = getHeapStatistics().used_heap_size;
      logger.debug('idle: heap collected', { heap_before_mb: MB(before), heap_after_mb: MB(base), rss_before_mb: MB(rss), heap_total_mb: MB(getHeapStatistics().total_heap_size) });
    }, 6000);
  };
  return {
    idle() { last = performance.now(); if (!timer && idleMs() > 0) later(check, idleMs()); },
    stop() { if (timer) clearTimeout(timer); timer = null; },
  };
}
