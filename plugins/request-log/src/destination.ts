/**
 * Where request lines go: sonic-boom (pino's asynchronous writer) in buffer mode, handed the
 * lines of one turn of the event loop as one buffer.
 *
 * Line by line, sonic-boom's string mode costs more than making the lines: for every line it
 * measures the whole batch waiting behind the write in flight (`Buffer.byteLength` of a growing
 * concatenation, which V8 flattens, copying it, each time), and it encodes every batch twice
 * (`fs.write` of a string, then `Buffer.from` to see where a partial write stopped). Here a turn's
 * lines are joined, encoded once, and sonic-boom only queues and writes buffers. Lines stay whole
 * and in order; they reach sonic-boom at the end of the turn they were written in (`setImmediate`),
 * at `end()`/`flushSync()`, and, should the process exit first, in an `exit` hook.
 */
import { pino, type DestinationStream } from 'pino';

export type Sink = DestinationStream & { end(): void; once(ev: string, fn: () => void): unknown; flushSync?(): void };

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

  constructor(private readonly sonic: Sonic, private readonly onLost: (bytes: number) => void) {}

  write(line: string): boolean {
    if (this.ended) return this.sonic.write(Buffer.from(line));
    if (this.pending === '') {
      holding.add(this);
      setImmediate(this.handOver);
    }
    this.pending += line;
    return true;
  }

  /** The turn's lines to sonic-boom, as one buffer. */
  readonly handOver = (): void => {
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

/** A pino destination for a file descriptor or a file path; `maxLength`: bytes waiting beyond which writes are dropped. */
export function lineDestination(dest: number | string, maxLength: number, onDrop?: (bytes: number) => void): Sink {
  const sonic = pino.destination({ dest, sync: false, mkdir: typeof dest === 'string', append: true, minLength: 0, maxLength, contentMode: 'buffer' } as Parameters<typeof pino.destination>[0]) as unknown as Sonic;
  const dropped = onDrop ?? (() => undefined);
  if (onDrop) sonic.on('drop', (data: Buffer) => onDrop(data.length));
  if (!exitHooked) { exitHooked = true; process.on('exit', flushAllSync); }
  return new TurnBuffer(sonic, dropped);
}
