import { describe, expect, it } from 'vitest';
import { isGatewayError } from '@gatehouse/sdk';
import { collect } from '@gatehouse/sdk/testing';
import { decodeEventStream, MAX_FRAME_BYTES } from '../src/eventstream.js';
import { converseStreamBody, exceptionFrame, json } from './helpers.js';

/** Feed a buffer in the given pieces, as separate reads. */
async function* pieces(buf: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let prev = 0;
  for (const c of [...cuts, buf.length]) { if (c > prev) { yield buf.subarray(prev, c); prev = c; } }
}
const every = (buf: Buffer, n: number) => Array.from({ length: Math.ceil(buf.length / n) }, (_, i) => i * n);

const f = json('converse-stream.json');
const body = converseStreamBody(f.events);
const decoded = f.events.map(([eventType, payload]: [string, unknown]) => ({ messageType: 'event', eventType, exceptionType: undefined, errorCode: undefined, errorMessage: undefined, payload }));

describe('event-stream decoding', () => {
  it('decodes every frame of a whole body', async () => {
    expect(await collect(decodeEventStream(pieces(body, [])))).toEqual(decoded);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 13])('decodes the same when split every %i bytes', async (n) => {
    expect(await collect(decodeEventStream(pieces(body, every(body, n))))).toEqual(decoded);
  });

  it('decodes when split inside the prelude, the headers, the payload and the message CRC', async () => {
    const len = body.readUInt32BE(0);
    const headersLen = body.readUInt32BE(4);
    const cuts = [2, 6, 10, 12 + Math.floor(headersLen / 2), 12 + headersLen + 3, len - 2, len, len + 1, len + 4, len + 11];
    expect(await collect(decodeEventStream(pieces(body, cuts)))).toEqual(decoded);
  });

  it('refuses a frame that declares more than MAX_FRAME_BYTES at its prelude, before the rest arrives', async () => {
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(1024 * 1024 * 1024, 0);
    // The valid frames, then a prelude declaring 1 GiB, then nothing more: the source stays open.
    async function* src() { yield body; yield prelude; await new Promise(() => undefined); }
    const got: unknown[] = [];
    const e = await (async () => { for await (const m of decodeEventStream(src())) got.push(m); })().catch((x) => x);
    expect(got).toEqual(decoded);
    expect(isGatewayError(e) && [e.code, e.message]).toEqual(['GW_ERR_UPSTREAM_BAD_RESPONSE', `Amazon Bedrock sent a malformed event stream (a frame declares 1073741824 bytes, over the limit of ${MAX_FRAME_BYTES}).`]);
  });

  it('reports exception frames with their type', async () => {
    const [m] = await collect(decodeEventStream(pieces(exceptionFrame('throttlingException', 'slow down'), [])));
    expect(m).toMatchObject({ messageType: 'exception', exceptionType: 'throttlingException', payload: { message: 'slow down' } });
  });

  it('rejects a frame whose CRC does not match', async () => {
    const bad = Buffer.from(body);
    bad[20] = bad[20]! ^ 0xff;
    const e = await collect(decodeEventStream(pieces(bad, []))).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect(e.code).toBe('GW_ERR_UPSTREAM_BAD_RESPONSE');
  });

  it('rejects a body cut inside a frame', async () => {
    const e = await collect(decodeEventStream(pieces(body.subarray(0, body.length - 5), [7]))).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect(e.code).toBe('GW_ERR_UPSTREAM_BAD_RESPONSE');
  });

  it('releases the body when the consumer stops early', async () => {
    let released = false;
    async function* source() { try { yield body; await new Promise(() => {}); } finally { released = true; } }
    for await (const m of decodeEventStream(source())) { expect(m.eventType).toBe('messageStart'); break; }
    expect(released).toBe(true);
  });
});
