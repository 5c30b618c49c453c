/**
 * Decoding of the AWS binary event-stream (`application/vnd.amazon.eventstream`) that
 * ConverseStream answers with. Framing and CRC checks are the AWS library's
 * (`@smithy/core/event-streams`); this file bounds the frame length the framer will allocate and
 * turns its messages into parsed JSON events.
 */
import { EventStreamCodec, getChunkedStream } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { GatewayError, isGatewayError } from '@gatehouse/sdk';

/** One decoded event-stream message. */
export interface StreamMessage {
  /** `event`, `exception` or `error`. */
  messageType: string;
  /** `:event-type` (events), e.g. `contentBlockDelta`. */
  eventType?: string;
  /** `:exception-type` (exceptions), e.g. `throttlingException`. */
  exceptionType?: string;
  /** `:error-code` / `:error-message` (protocol errors). */
  errorCode?: string;
  errorMessage?: string;
  /** The JSON payload (`{}` when empty). */
  payload: any;
}

const header = (h: Record<string, { type: string; value: unknown }>, name: string): string | undefined => {
  const v = h[name];
  return v && typeof v.value === 'string' ? v.value : undefined;
};

const malformed = (why: string, cause?: unknown) =>
  new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `Amazon Bedrock sent a malformed event stream (${why}).`, { cause });

/** Encode one message (used by tests and fixtures to speak the real wire format). */
export function encodeMessage(headers: Record<string, string>, payload: unknown): Uint8Array {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const h: Record<string, { type: 'string'; value: string }> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
  return codec.encode({ headers: h, body: fromUtf8(JSON.stringify(payload)) });
}

/**
 * The longest frame accepted: AWS caps a message at 16 MB of payload and 128 KB of headers. The
 * framer allocates what a frame's prelude declares (up to 4 GiB) before any of it arrives.
 */
export const MAX_FRAME_BYTES = 17 * 1024 * 1024;

/** Walks the frame boundaries as the bytes pass (no copy) and refuses a declared length over MAX_FRAME_BYTES. */
function frameLengthCheck(): (step: IteratorResult<Uint8Array>) => IteratorResult<Uint8Array> {
  let skip = 0; // bytes left of the current frame, after its 4-byte length
  let prelude = 0; // bytes of the next length read so far
  let length = 0;
  return (step) => {
    if (step.done) return step;
    const c = step.value;
    for (let i = 0; i < c.length;) {
      if (skip > 0) { const n = Math.min(skip, c.length - i); skip -= n; i += n; continue; }
      length = length * 256 + c[i++]!;
      if (++prelude < 4) continue;
      if (length > MAX_FRAME_BYTES) throw malformed(`a frame declares ${length} bytes, over the limit of ${MAX_FRAME_BYTES}`);
      skip = Math.max(0, length - 4); prelude = 0; length = 0;
    }
    return step;
  };
}

/**
 * Decode an event-stream body incrementally; frames split across reads at any byte are
 * re-assembled, and every frame's CRCs are checked.
 */
export async function* decodeEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<StreamMessage> {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  // The framer never closes its source; keep a handle so an early exit releases the connection.
  const source = body[Symbol.asyncIterator]();
  const lengths = frameLengthCheck();
  const frames = getChunkedStream({ [Symbol.asyncIterator]: () => ({ next: () => source.next().then(lengths) }) })[Symbol.asyncIterator]();
  try {
    yield* frameMessages(codec, frames);
  } finally {
    await source.return?.();
  }
}

async function* frameMessages(codec: EventStreamCodec, frames: AsyncIterator<Uint8Array>): AsyncGenerator<StreamMessage> {
  while (true) {
    let next: IteratorResult<Uint8Array>;
    try { next = await frames.next(); } catch (e) {
      if (isGatewayError(e)) throw e;
      throw malformed((e as Error)?.message ?? 'unreadable frame', e);
    }
    if (next.done) return;
    let msg: { headers: Record<string, { type: string; value: unknown }>; body: Uint8Array };
    try { msg = codec.decode(next.value); } catch (e) { throw malformed((e as Error)?.message ?? 'bad frame', e); }
    const text = toUtf8(msg.body);
    let payload: unknown = {};
    if (text.trim()) {
      try { payload = JSON.parse(text); } catch (e) { throw malformed('a payload is not JSON', e); }
    }
    yield {
      messageType: header(msg.headers, ':message-type') ?? 'event',
      eventType: header(msg.headers, ':event-type'),
      exceptionType: header(msg.headers, ':exception-type'),
      errorCode: header(msg.headers, ':error-code'),
      errorMessage: header(msg.headers, ':error-message'),
      payload,
    };
  }
}
