import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_JSON_DEPTH, jsonDepthExceeded, parseJsonBody } from '../src/index.js';

const nested = (depth: number, open = '[', close = ']', inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
const thrown = (f: () => unknown): any => { try { f(); } catch (e) { return e; } throw new Error('expected a throw'); };

describe('jsonDepthExceeded', () => {
  it('counts objects and arrays, and reports the offset of the first bracket past the cap', () => {
    expect(jsonDepthExceeded('{"a":[{"b":[]}]}', 4)).toBe(-1);
    expect(jsonDepthExceeded('{"a":[{"b":[]}]}', 3)).toBe(11);
    expect(jsonDepthExceeded('[[1],[2],[3]]', 2)).toBe(-1);
    expect(jsonDepthExceeded('1', 0)).toBe(-1);
  });

  it('ignores brackets inside strings, escaped quotes and backslashes included', () => {
    expect(jsonDepthExceeded(JSON.stringify({ s: '[[[[{{{{' }), 1)).toBe(-1);
    expect(jsonDepthExceeded(JSON.stringify({ s: 'a\\"[[[[' }), 1)).toBe(-1);
    expect(jsonDepthExceeded(JSON.stringify({ s: 'ends in a backslash \\' , t: [[1]] }), 2)).toBe(JSON.stringify({ s: 'ends in a backslash \\', t: [[1]] }).lastIndexOf('[[') + 1);
    expect(jsonDepthExceeded(JSON.stringify(['"', ['"', ['"']]]), 3)).toBe(-1);
    expect(jsonDepthExceeded(JSON.stringify(['"', ['"', ['"']]]), 2)).toBeGreaterThan(0);
  });

  it('an unterminated string ends the scan (JSON.parse reports it)', () => {
    expect(jsonDepthExceeded('["abc', 0)).toBe(0);
    expect(jsonDepthExceeded('"abc', 0)).toBe(-1);
  });
});

describe('parseJsonBody', () => {
  it('parses JSON, and blank text is undefined', () => {
    expect(parseJsonBody('{"messages":[{"role":"user","content":"[{"}]}')).toEqual({ messages: [{ role: 'user', content: '[{' }] });
    expect(parseJsonBody('')).toBeUndefined();
    expect(parseJsonBody(' \n\t')).toBeUndefined();
  });

  it(`accepts ${DEFAULT_MAX_JSON_DEPTH} levels and refuses ${DEFAULT_MAX_JSON_DEPTH + 1} with a 400 that says why`, () => {
    expect(parseJsonBody(nested(DEFAULT_MAX_JSON_DEPTH))).toBeDefined();
    const e = thrown(() => parseJsonBody(nested(DEFAULT_MAX_JSON_DEPTH + 1)));
    expect([e.code, e.status, e.expose]).toEqual(['GW_ERR_REQUEST_BAD', 400, true]);
    expect(e.message).toMatch(/nested too deeply: more than 64 levels/);
  });

  it('refuses 5,000 and 100,000 levels (objects in an extra field, arrays in a message) before parsing', () => {
    const deepObject = `{"messages":[{"role":"user","content":"hi"}],"extra":${nested(5000, '{"a":', '}', 'null')}}`;
    expect(thrown(() => parseJsonBody(deepObject)).code).toBe('GW_ERR_REQUEST_BAD');
    const deepArray = `{"messages":[{"role":"user","content":${nested(100_000)}}]}`;
    expect(thrown(() => parseJsonBody(deepArray)).code).toBe('GW_ERR_REQUEST_BAD');
  });

  it('honours a custom cap', () => {
    expect(thrown(() => parseJsonBody('{"a":{"b":1}}', { maxDepth: 1 })).message).toMatch(/more than 1 levels/);
    expect(parseJsonBody(nested(200), { maxDepth: 200 })).toBeDefined();
  });

  it('text that is not JSON is FastAPI\'s 422 json_invalid detail', () => {
    const e = thrown(() => parseJsonBody('{"a": }'));
    expect([e.code, e.status]).toEqual(['GW_ERR_REQUEST_INVALID_JSON', 422]);
    expect(e.detail).toEqual([{ type: 'json_invalid', loc: ['body', expect.any(Number)], msg: 'JSON decode error', input: {}, ctx: { error: expect.any(String) } }]);
    expect(e.message).toMatch(/^Invalid JSON body: /);
  });

  it('keeps numbers JSON gives: 1e400 is Infinity and 2^53+1 rounds (the schemas refuse both for integer fields)', () => {
    expect(parseJsonBody('{"n":1e400}')).toEqual({ n: Infinity });
    expect(parseJsonBody('{"n":9007199254740993}')).toEqual({ n: 2 ** 53 });
  });

  it('scans a large flat body quickly (linear, strings skipped)', () => {
    const big = JSON.stringify({ messages: Array.from({ length: 2000 }, (_, i) => ({ role: 'user', content: `${'x'.repeat(2000)} [{ ${i}` })) });
    expect(jsonDepthExceeded(big, 3)).toBe(-1);
    expect((parseJsonBody(big) as { messages: unknown[] }).messages).toHaveLength(2000);
  });
});
