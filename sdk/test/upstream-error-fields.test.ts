/**
 * `upstreamStatusError` keeps the upstream's own error `type`, `code` and `param` (OpenAI's and
 * Anthropic's error bodies; strings only) in `err.upstream`, next to status, headers and
 * Retry-After, without changing the message or detail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, interpretUpstream, upstreamErrorFields, upstreamStatusError } from '../src/index.js';
import { startFakeUpstream, type FakeUpstream } from '../src/testing/index.js';

const NONE = { type: null, code: null, param: null };

describe('upstreamStatusError: the upstream error body\'s type, code and param', () => {
  it('an OpenAI error body: all three kept, message and detail as before', () => {
    const e = upstreamStatusError(429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota', param: null } }, { 'retry-after': '2' });
    expect([e.code, e.status, e.message, e.detail]).toEqual(['GW_ERR_UPSTREAM_STATUS', 429, 'You exceeded your current quota', 'You exceeded your current quota']);
    expect(e.upstream).toEqual({ status: 429, headers: { 'retry-after': '2' }, retryAfterMs: 2000, type: 'insufficient_quota', code: 'insufficient_quota', param: null });
    const c = upstreamStatusError(400, { error: { message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } });
    expect(c.upstream).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
    // The error's own param (a request field the gateway blames) is not the upstream's.
    expect(c.param).toBeNull();
  });

  it('an Anthropic error body: its type; no code or param', () => {
    const e = upstreamStatusError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect([e.status, e.message]).toEqual([529, 'Overloaded']);
    expect(e.upstream).toMatchObject({ status: 529, ...NONE, type: 'overloaded_error' });
  });

  it('anything but a non-empty string is null, and other body shapes give nothing', () => {
    // Google's shape: a numeric code.
    expect(upstreamStatusError(429, { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, { error: { type: 5, code: { x: 1 }, param: ['messages'], message: 'm' } }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, { error: { type: '', code: '', param: '', message: 'm' } }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, { error: 'just text' }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, { error: ['a'] }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, { message: 'flat', type: 'invalid_request_error', code: 'top_level' }).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, 'plain text').upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, [{ error: { code: 'in_array' } }]).upstream).toMatchObject(NONE);
    expect(upstreamStatusError(400, null).upstream).toMatchObject(NONE);
    expect(upstreamErrorFields(undefined)).toEqual(NONE);
  });

  it('an error object without a message still takes the reason phrase as detail, and keeps its code', () => {
    const e = upstreamStatusError(429, { error: { code: 'rate_limit_exceeded' } });
    expect([e.message, e.detail]).toEqual(['Too Many Requests', 'Too Many Requests']);
    expect(e.upstream).toMatchObject({ ...NONE, code: 'rate_limit_exceeded' });
  });

  it('interpretUpstream passes them on from a JSON error answer', () => {
    const body = JSON.stringify({ error: { message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } });
    expect(() => interpretUpstream(400, 'application/json', body)).toThrow(expect.objectContaining({
      status: 400, message: 'too long',
      upstream: expect.objectContaining({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' }),
    }));
  });
});

describe('the http client keeps them, for JSON and stream requests', () => {
  const http = createHttpClient();
  let up: FakeUpstream;
  beforeAll(async () => { up = await startFakeUpstream(); });
  afterAll(async () => { await up.close(); await http.close(); });
  const fail = (p: Promise<unknown>): Promise<any> => p.then(() => { throw new Error('expected a rejection'); }, (e) => e);

  it('http.json and http.stream', async () => {
    up.on('/q', { status: 429, json: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota', param: null } } });
    for (const call of [http.json({ url: `${up.url}/q`, body: {} }), http.stream({ url: `${up.url}/q`, body: {} })]) {
      const e = await fail(call);
      expect([e.code, e.status, e.message]).toEqual(['GW_ERR_UPSTREAM_STATUS', 429, 'You exceeded your current quota']);
      expect(e.upstream).toMatchObject({ status: 429, type: 'insufficient_quota', code: 'insufficient_quota', param: null });
    }
  });

  it('a non-JSON error answer to a stream request has none', async () => {
    up.on('/html', { status: 503, raw: '<html>{"error":{"code":"x"}}</html>', contentType: 'text/html' });
    const e = await fail(http.stream({ url: `${up.url}/html`, body: {} }));
    expect(e.status).toBe(503);
    expect(e.upstream).toMatchObject({ status: 503, ...NONE });
  });
});
