/**
 * Incremental readers for streamed upstream bodies. They handle events and lines split across
 * reads at any byte, including inside a multi-byte UTF-8 character, and tell a complete stream
 * from one that ended early (`GW_ERR_UPSTREAM_TRUNCATED`) or carried nothing
 * (`GW_ERR_UPSTREAM_EMPTY`).
 */

import { chatChunk, completionsChunk } from './build.js';
import { GatewayError } from './errors.js';
import type { ChatChunk, ChatResponse, CompletionsChunk, CompletionsResponse } from './types.js';

/** One server-sent event. */
export interface SSEEvent { event?: string; data: string; id?: string }

/**
 * The longest stream line, and the most `data:` one event may gather, in characters: an upstream
 * that never ends its line (or its event) must not grow the gateway's memory without bound.
 */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024;
const lineTooLong = () => new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream sent a stream line longer than ${MAX_SSE_EVENT_CHARS} characters.`);
const eventTooLarge = () => new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The upstream sent a stream event larger than ${MAX_SSE_EVENT_CHARS} characters.`);

/**
 * Text into lines (without their terminators: \n, \r\n or \r), across reads split at any
 * point. The unfinished line is kept in pieces and each read is scanned once (rescanning it, a
 * 15 MiB line in 64 KiB reads took 11 s of CPU); past `MAX_SSE_EVENT_CHARS` it is an error.
 */
class LineSplitter {
  private rest: string[] = [];
  private restChars = 0;
  private pendingCR = false;

  constructor(private readonly tooLong: () => Error) {}

  feed(text: string, line: (s: string) => void): void {
    if (this.pendingCR && text.charCodeAt(0) === 10) text = text.slice(1);
    this.pendingCR = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      line(this.take(text.slice(start, i)));
      if (ch === 13) {
        if (i + 1 < text.length) { if (text.charCodeAt(i + 1) === 10) i++; } else this.pendingCR = true;
      }
      start = i + 1;
    }
    if (start < text.length) {
      this.rest.push(start === 0 ? text : text.slice(start));
      this.restChars += text.length - start;
      if (this.restChars > MAX_SSE_EVENT_CHARS) throw this.tooLong();
    }
  }

  /** The last line, if it had no terminator ('' when none). */
  end(): string { return this.take(''); }

  private take(part: string): string {
    if (!this.rest.length) return part;
    this.rest.push(part);
    const line = this.rest.join('');
    this.rest = []; this.restChars = 0;
    return line;
  }
}

/** Split a byte stream into text lines (without their terminators: \n, \r\n or \r). */
export async function* lines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const splitter = new LineSplitter(lineTooLong);
  const out: string[] = [];
  const push = (l: string) => { out.push(l); };
  for await (const chunk of body) {
    splitter.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }), push);
    for (const l of out) yield l;
    out.length = 0;
  }
  const tail = decoder.decode();
  if (tail) splitter.feed(tail, push);
  for (const l of out) yield l;
  const last = splitter.end();
  if (last.length) yield last;
}

/**
 * An incremental `text/event-stream` parser: feed it text, take the complete events. One pass
 * over the text, no generator per line: `sseEvents` and `sseJson` run one async step per read.
 */
class SseParser {
  private readonly splitter = new LineSplitter(eventTooLarge);
  private readonly onLine = (line: string): void => this.line(line);
  private data: string[] = [];
  private dataChars = 0;
  private event: string | undefined;
  private id: string | undefined;
  readonly out: SSEEvent[] = [];

  feed(text: string): void { this.splitter.feed(text, this.onLine); }

  /** The end of the body: a last line without a terminator, then a last event without a blank line. */
  end(): void {
    const last = this.splitter.end();
    if (last) this.line(last);
    if (this.data.length) this.out.push({ event: this.event, data: this.data.join('\n'), id: this.id });
    this.data = [];
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.out.push({ event: this.event, data: this.data.length === 1 ? this.data[0]! : this.data.join('\n'), id: this.id });
      this.data = []; this.event = undefined; this.dataChars = 0;
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.dataChars += value.length;
      if (this.dataChars > MAX_SSE_EVENT_CHARS) throw eventTooLarge();
      this.data.push(value);
    } else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}

/**
 * Parse a `text/event-stream` body into events, per the WHATWG rules (comments skipped,
 * multi-line `data:` joined with \n, one optional space after the colon removed).
 * @example
 * for await (const ev of sseEvents(res.body)) { if (ev.data === '[DONE]') break; JSON.parse(ev.data); }
 */
export async function* sseEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SSEEvent> {
  const decoder = new TextDecoder();
  const p = new SseParser();
  for await (const chunk of body) {
    p.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (!p.out.length) continue;
    for (let i = 0; i < p.out.length; i++) yield p.out[i]!;
    p.out.length = 0;
  }
  const rest = decoder.decode();
  if (rest) p.feed(rest);
  p.end();
  yield* p.out;
}

/** How a JSON stream reader decides that a stream which ended was complete. */
export interface StreamReadOptions {
  /** Turns an event with an `error` field into an error (default: a 502 with the upstream's message). */
  toError?: (event: any) => Error;
  /**
   * True for an event that completes the stream (e.g. one with a finish reason). `[DONE]` always
   * completes an SSE stream. Default for `sseJson`: an OpenAI-style event with a non-null
   * `choices[].finish_reason`. `false`: any clean end is complete (no truncation check).
   */
  final?: ((event: any) => boolean) | false;
  /** Who sent the stream, for messages (default "The upstream"). */
  name?: string;
}

/** An OpenAI-style event that carries a finish reason: the last content event of a complete stream. */
export const hasFinishReason = (js: any): boolean =>
  Array.isArray(js?.choices) && js.choices.some((c: any) => c?.finish_reason !== null && c?.finish_reason !== undefined);

/** The error for a stream that ended cleanly before it was complete (502, like a reset). */
export function truncatedStreamError(name = 'The upstream', why = 'before its final event'): GatewayError {
  return new GatewayError('GW_ERR_UPSTREAM_TRUNCATED', `${name} ended the stream ${why}: the answer is incomplete.`);
}

/** The error for a stream that ended before any event. */
export function emptyStreamError(name = 'The upstream'): GatewayError {
  return new GatewayError('GW_ERR_UPSTREAM_EMPTY', `${name} answered the stream request with no events.`);
}

/**
 * Parse a `text/event-stream` of JSON events: blank events are skipped, `[DONE]` ends the stream,
 * a payload that is not JSON is a 502, and an event with an `error` field is turned into an error
 * by `toError` (default: a 502 with the upstream's message). A stream that ends without `[DONE]`
 * and without a final event (see `StreamReadOptions.final`) throws `GW_ERR_UPSTREAM_TRUNCATED`;
 * one that ends before any event throws `GW_ERR_UPSTREAM_EMPTY`.
 * @example
 * for await (const js of sseJson(res.body, { toError: (js) => myError(js.error), final: (js) => js.type === 'done' })) yield mapChunk(js);
 */
export async function* sseJson<T = any>(body: AsyncIterable<Uint8Array | string>, options?: ((event: any) => Error) | StreamReadOptions): AsyncGenerator<T> {
  const opts: StreamReadOptions = typeof options === 'function' ? { toError: options } : options ?? {};
  const final = opts.final === undefined ? hasFinishReason : opts.final;
  let events = 0;
  let complete = false;
  /** One event's JSON; DONE for `[DONE]`, SKIP for a blank event. */
  const parse = (ev: SSEEvent): unknown => {
    const data = ev.data.trim();
    if (!data) return SKIP;
    events++;
    if (data === '[DONE]') return DONE;
    let js: any;
    try { js = JSON.parse(data); } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `${opts.name ?? 'The upstream'} sent a stream event that is not valid JSON.`);
    }
    if (js && typeof js === 'object' && js.error !== undefined && js.error !== null) {
      if (opts.toError) throw opts.toError(js);
      const msg = typeof js.error === 'string' ? js.error : js.error.message ?? 'Upstream stream error';
      throw new GatewayError('GW_ERR_UPSTREAM_STATUS', msg, { status: 502 });
    }
    if (final && !complete && final(js)) complete = true;
    return js;
  };
  // The parser runs inline (no generator per line or per event): one async step per read.
  const decoder = new TextDecoder();
  const p = new SseParser();
  for await (const chunk of body) {
    p.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (!p.out.length) continue;
    for (let i = 0; i < p.out.length; i++) {
      const js = parse(p.out[i]!);
      if (js === DONE) return;
      if (js !== SKIP) yield js as T;
    }
    p.out.length = 0;
  }
  const rest = decoder.decode();
  if (rest) p.feed(rest);
  p.end();
  for (const ev of p.out) {
    const js = parse(ev);
    if (js === DONE) return;
    if (js !== SKIP) yield js as T;
  }
  if (final === false) return;
  if (events === 0) throw emptyStreamError(opts.name);
  if (!complete) throw truncatedStreamError(opts.name, final === hasFinishReason ? 'without [DONE] or a finish reason' : undefined);
}

const DONE = Symbol('done');
const SKIP = Symbol('skip');

/**
 * Parse newline-delimited JSON (blank lines skipped). With `final`, a stream that ends without a
 * final line throws `GW_ERR_UPSTREAM_TRUNCATED` (or `GW_ERR_UPSTREAM_EMPTY` without any line).
 */
export async function* ndjson<T = unknown>(body: AsyncIterable<Uint8Array | string>, options: Omit<StreamReadOptions, 'toError'> = {}): AsyncGenerator<T> {
  let count = 0;
  let complete = false;
  for await (const line of lines(body)) {
    const t = line.trim();
    if (!t) continue;
    count++;
    let value: T;
    try { value = JSON.parse(t) as T; } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `${options.name ?? 'The upstream'} sent a stream line that is not valid JSON.`);
    }
    if (options.final && !complete && options.final(value)) complete = true;
    yield value;
  }
  if (!options.final) return;
  if (count === 0) throw emptyStreamError(options.name);
  if (!complete) throw truncatedStreamError(options.name);
}

/**
 * A complete answer replayed as stream chunks, for an upstream that answered a stream request
 * with a whole JSON answer: per choice, a chunk with the role, the content (or text) and the tool
 * calls, then a chunk with the finish reason; the usage rides on the last chunk. An answer
 * without choices is a 502 `GW_ERR_UPSTREAM_BAD_RESPONSE`.
 * @example
 * if (isJsonAnswer(res)) return yield* chunksOfResponse(openAIChatResponse(await readJsonAnswer(res)));
 */
export function chunksOfResponse(resp: ChatResponse): ChatChunk[];
export function chunksOfResponse(resp: CompletionsResponse): CompletionsChunk[];
export function chunksOfResponse(resp: ChatResponse | CompletionsResponse): Array<ChatChunk | CompletionsChunk>;
export function chunksOfResponse(resp: ChatResponse | CompletionsResponse): Array<ChatChunk | CompletionsChunk> {
  // An answer without choices is not an answer: replaying it would be a 200 with nothing in it.
  if (!resp.choices.length) {
    throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'The upstream answered a stream request with a complete answer that has no choices.');
  }
  const base = { id: resp.id, created: resp.created, model: resp.model };
  const out: Array<ChatChunk | CompletionsChunk> = [];
  if (resp.object === 'chat.completion') {
    for (const c of resp.choices) {
      const content = typeof c.message.content === 'string' ? c.message.content
        : Array.isArray(c.message.content) ? c.message.content.map((p) => (p.type === 'text' ? p.text : '')).join('') : null;
      out.push(chatChunk({
        ...base,
        choices: [{
          index: c.index,
          delta: {
            role: c.message.role, content,
            tool_calls: c.message.tool_calls?.map((t, i) => ({ index: i, id: t.id, type: t.type, function: { name: t.function?.name ?? null, arguments: t.function?.arguments ?? null } })) ?? null,
          },
        }],
      }));
      out.push(chatChunk({ ...base, choices: [{ index: c.index, finish_reason: c.finish_reason ?? 'stop', delta: {} }] }));
    }
  } else {
    for (const c of resp.choices) {
      out.push(completionsChunk({ ...base, choices: [{ index: c.index, text: c.text }] }));
      out.push(completionsChunk({ ...base, choices: [{ index: c.index, finish_reason: c.finish_reason ?? 'stop', text: '' }] }));
    }
  }
  const u = resp.usage;
  if (u && (u.prompt_tokens !== null || u.completion_tokens !== null || u.total_tokens !== null)) out[out.length - 1]!.usage = u;
  return out;
}
