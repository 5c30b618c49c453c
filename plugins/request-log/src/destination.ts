/**
 * Where request lines go: sonic-boom (pino's asynchronous writer) in buffer mode, handed the
 * lines of one turn of the event loop as one buffer.
 *
 * Line by line, sonic-boom's string mode costs more than making the lines: for every line it
 * measures the whole batch waiting behind the write in flight (`Buffer.byteLength` of a growing
 * concatenation, which V8 flattens, copying it, each time), and it encodes every batch twice
 * (`fs.write` of a string, then `Buffer.from` to see where a partial write stopped). Here a turn's
 * lines are joined, encoded once, and sonic-boom only queues and writes buffers. Lines stay whole
 * and in order.
 *
 * Lines are held for up to `flushIntervalMs` (or until 16 KiB wait), then handed over as one
 * buffer: each `fs.write` costs about 40 µs of CPU here (≈9 µs on the event loop, the rest in
 * libuv's thread pool), so a write per request was the largest cost of the request log at low
 * concurrency. With 0 they go at the end of the turn they were written in (`setImmediate`).
 * They also go at `end()`, and, should the process exit first, in an `exit` hook; a process
 * killed outright loses at most the last interval's lines.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DestinationStream } from 'pino';
import type { SonicBoom as SonicBoomClass } from 'sonic-boom';

// sonic-boom is CommonJS whose module.exports is the class (its types say `export default`).
const SonicBoom = createRequire(import.meta.url)('sonic-boom') as typeof SonicBoomClass;

export type Sink = DestinationStream & {
  end(): void; once(ev: string, fn: () => void): unknown; flushSync?(): void;
  /** How long lines may wait before they are written (ms; 0: the end of the turn). */
  holdFor?(ms: number): void;
};

/**
 * Lines waiting beyond this many characters are handed over at once, whatever the interval:
 * sonic-boom's largest write (`maxWrite`), so a write never carries more than it did when
 * sonic-boom grouped lines itself (appends of whole lines by several workers stay whole).
 */
const HAND_OVER_CHARS = 16 * 1024;

interface Sonic {
  write(data: Buffer): boolean;
  end(): void;
  flush(cb?: (err?: Error) => void): void;
  once(ev: string, fn: (...args: never[]) => void): unknown;
  on(ev: string, fn: (...args: never[]) => void): unknown;
  destroyed?: boolean;
}

/** What the gateway hears of a destination's trouble. */
export interface DestinationEvents {
  /** Lines dropped: the destination fell too far behind. */
  onDrop?(bytes: number): void;
  /** A write failed (disk full, I/O error, reader gone): the lines wait, and are tried again with the next write. */
  onError?(err: NodeJS.ErrnoException): void;
}

/** Every open destination, for the exit hook. */
const open = new Set<TurnBuffer>();
let exitHooked = false;

/** Write what every destination still holds, synchronously: the process is exiting, no later turn will come. */
function flushAllSync(): void {
  for (const t of [...open]) {
    try { t.flushSync(); } catch { /* a destination that cannot be written now loses its last lines */ }
  }
}

type SonicState = { fd: number; _writing: boolean; _writingBuf: Buffer; _bufs: Buffer[][]; _lens: number[]; _len: number };
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write what sonic-boom still holds, synchronously, giving up at the first hard error.
 * sonic-boom's own flushSync retries any failed write forever, 100 ms apart: on a full disk
 * or a dead descriptor the process would never finish exiting (it held its port, answering
 * nobody). This reads sonic-boom 4's queue (the version is pinned with this package).
 */
function drainSync(sonic: Sonic): void {
  const s = sonic as unknown as SonicState;
  if (typeof s.fd !== 'number' || s.fd < 0 || !Array.isArray(s._bufs)) return;
  const parts: Buffer[] = [];
  // A write in flight is the thread pool's; what waits behind it is written here.
  if (!s._writing && s._writingBuf?.length) { parts.push(s._writingBuf); s._writingBuf = Buffer.alloc(0); }
  for (const group of s._bufs) parts.push(...group);
  s._bufs = [];
  s._lens = [];
  s._len = 0;
  let buf = Buffer.concat(parts);
  for (let tries = 0; buf.length > 0 && tries < 50; tries++) {
    try { buf = buf.subarray(writeSync(s.fd, buf)); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

class TurnBuffer implements Sink {
  private pending = '';
  private ended = false;
  private timer: NodeJS.Timeout | null = null;
  /** The reader is gone (EPIPE): lines are dropped from now on. */
  private gone = false;

  constructor(private readonly sonic: Sonic, private readonly onLost: (bytes: number) => void, private flushIntervalMs: number) {}

  holdFor(ms: number): void { this.flushIntervalMs = ms; }

  /** No more writes: what waits and every later line is dropped (the 'error' said so once; no "not keeping up" warnings). */
  abandon(): void {
    this.gone = true;
    this.pending = '';
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  }

  write(line: string): boolean {
    if (this.gone) return true;
    if (this.ended) return this.sonic.write(Buffer.from(line));
    if (this.pending !== '' && this.pending.length + line.length > HAND_OVER_CHARS) this.handOver();
    if (this.pending === '') {
      if (this.flushIntervalMs > 0) {
        this.timer = setTimeout(this.handOver, this.flushIntervalMs);
        this.timer.unref();
      } else setImmediate(this.handOver);
    }
    this.pending += line;
    if (this.pending.length >= HAND_OVER_CHARS) this.handOver();
    return true;
  }

  /** The waiting lines to sonic-boom, as one buffer. */
  readonly handOver = (): void => {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const text = this.pending;
    if (text === '') return;
    this.pending = '';
    const buf = Buffer.from(text);
    // Written after sonic-boom was destroyed (a line finished after the gateway stopped): it would throw, out of any caller.
    try { this.sonic.write(buf); } catch { this.onLost(buf.length); }
  };

  end(): void {
    this.handOver();
    this.ended = true;
    open.delete(this);
    this.sonic.end();
  }

  flushSync(): void {
    this.handOver();
    if (!this.gone && !this.sonic.destroyed) drainSync(this.sonic);
  }

  flush(cb?: (err?: Error) => void): void {
    this.handOver();
    this.sonic.flush(cb);
  }

  once(ev: string, fn: (...args: never[]) => void): this { this.sonic.once(ev, fn); return this; }
  on(ev: string, fn: (...args: never[]) => void): this { this.sonic.on(ev, fn); return this; }
}

/**
 * A pino destination (sonic-boom, asynchronous) for a file descriptor or a file path; `maxLength`:
 * bytes waiting beyond which writes are dropped; `flushIntervalMs`: how long lines may wait before
 * they are written. A failing destination never throws into the gateway: a failed write is
 * reported and tried again with the next one (a disk that has room again takes the lines), and a
 * reader that is gone (EPIPE) ends the writing.
 */
export function lineDestination(dest: number | string, maxLength: number, events: DestinationEvents = {}, flushIntervalMs = 0): Sink {
  const sonic = new SonicBoom({ dest, sync: false, mkdir: typeof dest === 'string', append: true, minLength: 0, maxLength, contentMode: 'buffer' }) as unknown as Sonic;
  const dropped = events.onDrop ?? (() => undefined);
  sonic.on('drop', (data: Buffer) => dropped(data.length));
  const t = new TurnBuffer(sonic, dropped, flushIntervalMs);
  sonic.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') t.abandon();
    events.onError?.(err);
  });
  open.add(t);
  if (!exitHooked) { exitHooked = true; process.on('exit', flushAllSync); }
  return t;
}
