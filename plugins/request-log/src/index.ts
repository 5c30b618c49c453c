/**
 * One structured JSON line per request, written by pino to stdout, stderr or a file.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { definePlugin } from '@gatehouse/sdk';
import { STATE_KEY, buildLine, chunkText, levelOf, type LineOptions } from './line.js';
import { lineDestination, type DestinationEvents, type Sink } from './destination.js';
import { isoTime, lineText } from './text.js';

export { buildLine, chunkText, levelOf, pathOnly, requestText, responseText, traceIdOf, truncate, TRACING_STATE_KEY, type RequestLine } from './line.js';

export interface RequestLogConfig {
  /** The lowest level written: info (every request), warn (4xx and 5xx), error (5xx), silent. Default info. */
  level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** `stdout` (default), `stderr` or a file path (appended to; directories are created). */
  destination?: string;
  /** Log the request's messages/prompt/input and the answer's text. Default false. */
  include_content?: boolean;
  /** Longest content logged per field, in characters. Default 2000. */
  content_max_chars?: number;
  /** Longest a line waits before it is written, in ms (lines are written together). Default 100; 0: at the end of the event-loop turn. */
  flush_interval_ms?: number;
}

/** How long lines wait by default before they are written together. */
export const DEFAULT_FLUSH_INTERVAL_MS = 100;

/** Lines waiting for a slow destination beyond this are dropped (and counted), never queued without bound. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** A pino destination for `stdout`, `stderr` or a file path. Asynchronous writes, flushed when the gateway stops. */
export function openDestination(destination: string, events: DestinationEvents = {}, flushIntervalMs = 0): Sink {
  const dest = destination === 'stdout' ? 1 : destination === 'stderr' ? 2 : destination;
  return lineDestination(dest, MAX_BUFFERED_BYTES, events, flushIntervalMs);
}

function closeDestination(sink: Sink): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    sink.once('close', () => { clearTimeout(t); resolve(); });
    try { sink.end(); } catch { clearTimeout(t); resolve(); }
  });
}

/** A pino logger writing request lines (no pid/hostname: the line is about the request). */
export function requestLogger(sink: DestinationStream, level: string): PinoLogger {
  return pino({ level, base: null, timestamp: isoTime, messageKey: 'msg' }, sink);
}

export default definePlugin<RequestLogConfig>({
  name: 'request-log',
  config: {
    section: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
        destination: { type: 'string', minLength: 1, default: 'stdout', description: 'stdout, stderr or a file path' },
        include_content: { type: 'boolean', default: false },
        content_max_chars: { type: 'integer', minimum: 0, default: 2000 },
        flush_interval_ms: { type: 'integer', minimum: 0, maximum: 10_000, default: DEFAULT_FLUSH_INTERVAL_MS, description: 'longest a line waits before it is written; 0: at the end of the event-loop turn' },
      },
    },
  },

  register(ctx) {
    const cfg = ctx.config ?? {};
    const destination = cfg.destination ?? 'stdout';
    const flushMs = cfg.flush_interval_ms ?? DEFAULT_FLUSH_INTERVAL_MS;
    // The destination lives for the process (a reload that keeps it reuses the open file); the
    // logger is per configuration, so a new level applies at once.
    const sink = ctx.keep(`destination:${destination}`, () => {
      let dropped = 0;
      let failed = 0;
      return openDestination(destination, {
        // One warning per 1,000 drops or failures: a stuck destination must not flood the gateway's own log.
        onDrop: (bytes) => {
          if (dropped++ % 1000 === 0) ctx.logger.warn(`request-log: ${destination} is not keeping up; dropped ${dropped} write(s) so far`, { bytes });
        },
        onError: (err) => {
          if (failed++ % 1000 === 0) ctx.logger.warn(`request-log: cannot write to ${destination} (${err.code ?? err.message}); ${err.code === 'EPIPE' ? 'its reader is gone, request lines are dropped from now on' : `lines wait and are tried again (${failed} failure(s) so far)`}`);
        },
      }, flushMs);
    }, closeDestination);
    // A reload that keeps the destination applies a new interval to it.
    sink.holdFor?.(flushMs);
    const log = requestLogger(sink, cfg.level ?? 'info');
    const opts: LineOptions = { includeContent: cfg.include_content === true, maxContentChars: cfg.content_max_chars ?? 2000 };

    ctx.observe({
      chunk: opts.includeContent
        ? (inv, chunk) => {
          let acc = inv.state.get(STATE_KEY) as { text: string } | undefined;
          if (!acc) { acc = { text: '' }; inv.state.set(STATE_KEY, acc); }
          if (acc.text.length <= opts.maxContentChars) acc.text += chunkText(chunk);
        }
        : undefined,
      finish(o) {
        const level = levelOf(o.status);
        if (!log.isLevelEnabled(level)) return;
        // The text pino would write, made without pino; pino writes the rare line with a value lineText leaves to it.
        const line = buildLine(o, opts);
        const text = lineText(line, level);
        if (text === null) log[level](line, 'request');
        else sink.write(text);
      },
    });
  },
});
