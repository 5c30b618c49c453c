import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type HttpClient } from '@gatehouse/sdk';
import { checkProvider, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { call, fixture, makeInstance, newHttp, rejection } from './helpers.js';

let up: FakeUpstream;
let http: HttpClient;
const config = () => ({ ai21labs_api_key: 'ai21-key', ai21labs_api_base: `${up.url}/studio/v1` });

beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
afterAll(async () => { await up.close(); await http.close(); });
afterEach(() => { up.reset(); vi.restoreAllMocks(); });

describe('ai21labs provider definition', () => {
  it('passes the conformance checks with MLflow display name', () => {
    expect(checkProvider(def, 'ai21labs')).toEqual([]);
    expect(def.displayName).toBe('AI21Labs');
    expect(def.allowModelField).toBe(false);
  });

  it('has completions only: chat, streams and embeddings are absent (501)', () => {
    const inst = makeInstance(def, http, config(), 'j2-ultra', 'llm/v1/completions');
    expect(typeof inst.completions).toBe('function');
    for (const m of ['chat', 'chatStream', 'completionsStream', 'embeddings'] as const) expect(inst[m]).toBeUndefined();
  });
});

describe('ai21labs provider against a fake upstream', () => {
  it('completions: POST <base>/<model>/complete with Bearer key', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1677858242_000);
    up.on('POST /studio/v1/j2-ultra/complete', { json: fixture('complete.upstream-response.json') });
    const inst = makeInstance(def, http, config(), 'j2-ultra', 'llm/v1/completions');
    const out = await inst.completions!(fixture('complete.request.json'), call());
    const r = up.last();
    expect(r.headers.authorization).toBe('Bearer ai21-key');
    expect(r.json).toEqual(fixture('complete.upstream-request.json'));
    expect(out).toEqual(fixture('complete.response.json'));
  });

  it('default base URL is https://api.ai21.com/studio/v1', async () => {
    const seen: string[] = [];
    const fakeHttp = { json: async (r: { url: string }) => { seen.push(r.url); return fixture('complete.upstream-response.json'); } } as unknown as HttpClient;
    const inst = makeInstance(def, fakeHttp, { ai21labs_api_key: 'k' }, 'j2-mid', 'llm/v1/completions');
    await inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call());
    expect(seen).toEqual(['https://api.ai21.com/studio/v1/j2-mid/complete']);
  });

  it('upstream 401 keeps its status; the JSON body is the detail', async () => {
    up.on('POST /studio/v1/j2-ultra/complete', { status: 401, json: { detail: 'Forbidden: Bad or missing API token.' } });
    const inst = makeInstance(def, http, config(), 'j2-ultra', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(401);
    expect(e.detail).toEqual({ detail: 'Forbidden: Bad or missing API token.' });
  });

  it('upstream 500 keeps its status', async () => {
    up.on('POST /studio/v1/j2-ultra/complete', { status: 500, json: { detail: 'Internal Server Error' } });
    const inst = makeInstance(def, http, config(), 'j2-ultra', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call()));
    expect(e.status).toBe(500);
  });

  it('an HTML answer (wrong content type) → 502 as MLflow', async () => {
    up.on('POST /studio/v1/j2-ultra/complete', { status: 200, raw: '<html></html>', contentType: 'text/html' });
    const inst = makeInstance(def, http, config(), 'j2-ultra', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call()));
    expect(e.status).toBe(502);
    expect(e.message).toBe('The returned data type from the route service is not supported. Received content type: text/html');
  });
});
