import { describe, expect, it } from 'vitest';
import { lines, ndjson, sseEvents } from '../src/index.js';
import { collect } from '../src/testing/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
async function* split(buf: Uint8Array, sizes: number[]) {
  let i = 0, k = 0;
  while (i < buf.length) { const n = sizes[k++ % sizes.length]!; yield buf.subarray(i, i + n); i += n; }
}

describe('sdk stream readers', () => {
  const text = 'event: message_start\r\ndata: {"a":"héllo 🌍"}\r\n\r\n: comment\n\ndata: line1\ndata: line2\n\nid: 7\rdata: [DONE]\r\r';
  const expected = [{ event: 'message_start', data: '{"a":"héllo 🌍"}', id: undefined }, { event: undefined, data: 'line1\nline2', id: undefined }, { event: undefined, data: '[DONE]', id: '7' }];

  it.each([[[1]], [[2, 3]], [[5, 1, 7]], [[1000]]])('parses SSE split into pieces of %j bytes (CR, LF and CRLF; multi-byte characters cut)', async (sizes) => {
    expect(await collect(sseEvents(split(bytes(text), sizes)))).toEqual(expected);
  });

  it('splits lines across reads and keeps a last line without a terminator', async () => {
    expect(await collect(lines(split(bytes('a\r\nbc\rd\n\ne'), [1])))).toEqual(['a', 'bc', 'd', '', 'e']);
  });

  it('reads NDJSON, skipping blank lines', async () => {
    expect(await collect(ndjson(split(bytes('{"x":1}\n\n{"y":"ü"}\n'), [3])))).toEqual([{ x: 1 }, { y: 'ü' }]);
  });
});

describe('sdk ndjson errors', () => {
  it('a line that is not JSON is a 502 GatewayError, not a raw SyntaxError', async () => {
    const err = await collect(ndjson(split(bytes('{"x":1}\nnot json\n'), [4]))).catch((e) => e);
    expect([err.code, err.status]).toEqual(['GW_ERR_UPSTREAM_BAD_RESPONSE', 502]);
  });
});
