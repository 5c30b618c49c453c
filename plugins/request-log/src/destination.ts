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
 * They also go at `end()`/`flushSync()`, and, should the process exit first, in an `exit` hook;
 * a process killed outright loses at most the last interval's lines.
 */
import { pino, type DestinationStream } from 'pino';

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
  flushSync(): void;
  flush(cb?: (err?: Error) => void): void;
  once(ev: string, fn: (...args: never[]) => void): unknown;
  on(ev: string, fn: (...args: never[]) => void): unknown;
  destroyed?: boolean;
}

/** Destinations holding lines not yet handed to sonic-boom. */
const holding = new Set<TurnBuffer>();
let exitHooked = false;

/** Hand everything over and write it synchronously: the process is exiting, no later turn will come. */
function flushAllSync(): void {
  for (const t of [...holding]) {
    try { t.flushSync(); } catch { /* a destination that cannot be written now loses its last lines */ }
  }
}

class TurnBuffer implements Sink {
  private pending = '';
  private ended = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly sonic: Sonic, private readonly onLost: (bytes: number) => void, private flushIntervalMs: number) {}

  holdFor(ms: number): void { this.flushIntervalMs = ms; }

  write(line: string): boolean {
    if (this.ended) return this.sonic.write(Buffer.from(line));
    if (this.pending !== '' && this.pending.length + line.length > HAND_OVER_CHARS) this.handOver();
    if (this.pending === '') {
      holding.add(this);
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
    holding.delete(this);
    const buf = Buffer.from(text);
    // Written after sonic-boom was destroyed (a line finished after the gateway stopped): it would throw, out of any caller.
    try { this.sonic.write(buf); } catch { this.onLost(buf.length); }
  };

  end(): void {
    this.handOver();
    this.ended = true;
    this.sonic.end();
  }

  flushSync(): void {
    this.handOver();
    this.sonic.flushSync();
  }

  flush(cb?: (err?: Error) => void): void {
    this.handOver();
    this.sonic.flush(cb);
  }

  once(ev: string, fn: (...args: never[]) => void): this { this.sonic.once(ev, fn); return this; }
  on(ev: string, fn: (...args: never[]) => void): this { this.sonic.on(ev, fn); return this; }
}

/**
 * A pino destination for a file descriptor or a file path; `maxLength`: bytes waiting beyond which
 * writes are dropped; `flushIntervalMs`: how long lines may wait before they are written.
 */
export function lineDestination(dest: number | string, maxLength: number, onDrop?: (bytes: number) => void, flushIntervalMs = 0): Sink {
  const sonic = pino.destination({ dest, sync: false, mkdir: typeof dest === 'string', append: true, minLength: 0, maxLength, contentMode: 'buffer' } as Parameters<typeof pino.destination>[0]) as unknown as Sonic;
  const dropped = onDrop ?? (() => undefined);
  if (onDrop) sonic.on('drop', (data: Buffer) => onDrop(data.length));
  if (!exitHooked) { exitHooked = true; process.on('exit', flushAllSync); }
  return new TurnBuffer(sonic, dropped, flushIntervalMs);
}
