import { describe, expect, it } from 'vitest';
import { chatChunk, chatResponse, chunksOfResponse, completionsResponse, lines, ndjson, sseEvents, sseJson } from '../src/index.js';
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

describe('sseJson: complete, truncated and empty streams', () => {
  const stream = (s: string) => split(bytes(s), [3]);
  const chunk = (finish: string | null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: finish }] })}\n\n`;
  const drain = async (it: AsyncIterable<unknown>) => { const out: unknown[] = []; try { for await (const x of it) out.push(x); } catch (e) { return { out, e: e as any }; } return { out, e: undefined }; };

  it('[DONE] completes; so does a finish reason (the default rule)', async () => {
    expect((await drain(sseJson(stream(chunk(null) + 'data: [DONE]\n\n')))).e).toBeUndefined();
    expect((await drain(sseJson(stream(chunk(null) + chunk('stop'))))).e).toBeUndefined();
  });

  it('a clean end without either is GW_ERR_UPSTREAM_TRUNCATED (502), after the events that came', async () => {
    const { out, e } = await drain(sseJson(stream(chunk(null) + chunk(null)), { name: 'Acme' }));
    expect(out).toHaveLength(2);
    expect([e.code, e.status]).toEqual(['GW_ERR_UPSTREAM_TRUNCATED', 502]);
    expect(e.message).toMatch(/^Acme ended the stream without \[DONE\] or a finish reason/);
  });

  it('no event at all (comments and blank lines only) is GW_ERR_UPSTREAM_EMPTY', async () => {
    const { out, e } = await drain(sseJson(stream(': ping\n\n\n')));
    expect([out.length, e.code, e.status]).toEqual([0, 'GW_ERR_UPSTREAM_EMPTY', 502]);
  });

  it('a custom final rule, and `final: false` to accept any clean end', async () => {
    const ev = (type: string) => `data: {"type":"${type}"}\n\n`;
    expect((await drain(sseJson(stream(ev('delta') + ev('end')), { final: (js) => js.type === 'end' }))).e).toBeUndefined();
    expect((await drain(sseJson(stream(ev('delta')), { final: (js) => js.type === 'end' }))).e.code).toBe('GW_ERR_UPSTREAM_TRUNCATED');
    expect((await drain(sseJson(stream(ev('delta')), { final: false }))).e).toBeUndefined();
  });

  it('the second argument may still be the error mapper alone', async () => {
    const { e } = await drain(sseJson(stream('data: {"error":{"message":"boom"}}\n\n'), () => new Error('mapped')));
    expect(e.message).toBe('mapped');
  });

  it('ndjson with a final rule: truncated and empty', async () => {
    const final = (js: any) => js.done === true;
    expect((await drain(ndjson(stream('{"a":1}\n{"done":true}\n'), { final }))).e).toBeUndefined();
    expect((await drain(ndjson(stream('{"a":1}\n'), { final }))).e.code).toBe('GW_ERR_UPSTREAM_TRUNCATED');
    expect((await drain(ndjson(stream('\n\n'), { final }))).e.code).toBe('GW_ERR_UPSTREAM_EMPTY');
    expect((await drain(ndjson(stream('{"a":1}\n')))).e).toBeUndefined();
  });
});

describe('chunksOfResponse', () => {
  it('replays a chat answer: role, content and tool calls, then the finish reason with the usage', () => {
    const resp = chatResponse({
      id: 'c', created: 7, model: 'm',
      choices: [{ message: { content: 'Hi', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 1, completion_tokens: 2 },
    });
    const chunks = chunksOfResponse(resp);
    expect(chunks).toEqual([
      chatChunk({ id: 'c', created: 7, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi', tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] } }] }),
      chatChunk({ id: 'c', created: 7, model: 'm', choices: [{ index: 0, finish_reason: 'tool_calls', delta: {} }], usage: { prompt_tokens: 1, completion_tokens: 2 } }),
    ]);
  });

  it('replays completions, one pair of chunks per choice; a missing finish reason becomes stop', () => {
    const resp = completionsResponse({ id: null, created: 1, model: 'm', choices: [{ text: 'a' }, { text: 'b', finish_reason: 'length' }] });
    const chunks = chunksOfResponse(resp);
    expect(chunks.map((c) => [c.choices[0]!.index, c.choices[0]!.text, c.choices[0]!.finish_reason])).toEqual([[0, 'a', null], [0, '', 'stop'], [1, 'b', null], [1, '', 'length']]);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('an answer without choices is a 502, not an empty success', () => {
    expect(() => chunksOfResponse(chatResponse({ model: 'm', choices: [] }))).toThrow(expect.objectContaining({ code: 'GW_ERR_UPSTREAM_BAD_RESPONSE', status: 502 }));
  });
});
