/**
 * Incremental readers for streamed upstream bodies. They handle events and lines split across
 * reads at any byte, including inside a multi-byte UTF-8 character.
 */

import { GatewayError } from './errors.js';

/** One server-sent event. */
export interface SSEEvent { event?: string; data: string; id?: string }

/** Split a byte stream into text lines (without their terminators: \n, \r\n or \r). */
export async function* lines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let pendingCR = false;
  for await (const chunk of body) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (pendingCR && text.startsWith('\n')) text = text.slice(1);
    pendingCR = false;
    buf += text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const ch = buf.charCodeAt(i);
      if (ch === 10 || ch === 13) {
        yield buf.slice(start, i);
        if (ch === 13) {
          if (i + 1 < buf.length) { if (buf.charCodeAt(i + 1) === 10) i++; } else pendingCR = true;
        }
        start = i + 1;
      }
    }
    buf = buf.slice(start);
  }
  buf += decoder.decode();
  if (buf.length) yield buf;
}

/**
 * Parse a `text/event-stream` body into events, per the WHATWG rules (comments skipped,
 * multi-line `data:` joined with \n, one optional space after the colon removed).
 * @example
 * for await (const ev of sseEvents(res.body)) { if (ev.data === '[DONE]') break; JSON.parse(ev.data); }
 */
export async function* sseEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SSEEvent> {
  let data: string[] = [];
  let event: string | undefined;
  let id: string | undefined;
  for await (const line of lines(body)) {
    if (line === '') {
      if (data.length) yield { event, data: data.join('\n'), id };
      data = []; event = undefined;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  if (data.length) yield { event, data: data.join('\n'), id };
}

/**
 * Parse a `text/event-stream` of JSON events: blank events are skipped, `[DONE]` ends the stream,
 * a payload that is not JSON is a 502, and an event with an `error` field is turned into an error
 * by `toError` (default: a 502 with the upstream's message).
 * @example
 * for await (const js of sseJson(res.body, (js) => myError(js.error))) yield mapChunk(js);
 */
export async function* sseJson<T = any>(body: AsyncIterable<Uint8Array | string>, toError?: (event: any) => Error): AsyncGenerator<T> {
  for await (const ev of sseEvents(body)) {
    const data = ev.data.trim();
    if (!data) continue;
    if (data === '[DONE]') return;
    let js: any;
    try { js = JSON.parse(data); } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'The upstream sent a stream event that is not valid JSON.');
    }
    if (js && typeof js === 'object' && js.error !== undefined && js.error !== null) {
      if (toError) throw toError(js);
      const msg = typeof js.error === 'string' ? js.error : js.error.message ?? 'Upstream stream error';
      throw new GatewayError('GW_ERR_UPSTREAM_STATUS', msg, { status: 502 });
    }
    yield js as T;
  }
}

/** Parse newline-delimited JSON (blank lines skipped). */
export async function* ndjson<T = unknown>(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<T> {
  for await (const line of lines(body)) {
    const t = line.trim();
    if (!t) continue;
    let value: T;
    try { value = JSON.parse(t) as T; } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'The upstream sent a stream line that is not valid JSON.');
    }
    yield value;
  }
}
