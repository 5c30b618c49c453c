import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, interpretUpstream, isJsonAnswer, lines, MAX_SSE_EVENT_CHARS, readJsonAnswer, sseJson, STREAM_CONTENT_TYPES } from '../src/index.js';
import { collect, startFakeUpstream, type FakeUpstream } from '../src/testing/index.js';

const http = createHttpClient();
let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); await http.close(); });

const req = (path = '/x', extra: Record<string, unknown> = {}) => ({ url: `${up.url}${path}`, body: {}, timeoutMs: 2000, ...extra });
const fail = (p: Promise<unknown>): Promise<any> => p.then(() => { throw new Error('expected a rejection'); }, (e) => e);
const text = async (body: AsyncIterable<Uint8Array>) => Buffer.concat((await collect(body)).map((c) => Buffer.from(c))).toString();

describe('interpretUpstream: empty bodies', () => {
  it('a 2xx with an empty (or blank) body is a 502 GW_ERR_UPSTREAM_EMPTY, whatever the content type', () => {
    for (const [ct, body] of [['application/json', ''], ['application/json', ' \n'], ['text/plain', ''], ['text/html', ''], ['', '']]) {
      expect(() => interpretUpstream(200, ct!, body!)).toThrow(expect.objectContaining({ code: 'GW_ERR_UPSTREAM_EMPTY', status: 502 }));
    }
    expect(() => interpretUpstream(204, 'application/json', '')).toThrow(expect.objectContaining({ code: 'GW_ERR_UPSTREAM_EMPTY' }));
  });

  it('a non-2xx with an empty body keeps its status and says the body was empty', () => {
    expect(() => interpretUpstream(503, 'application/json', '')).toThrow(expect.objectContaining({
      code: 'GW_ERR_UPSTREAM_STATUS', status: 503, message: 'The upstream answered status 503 with an empty body.',
    }));
  });
});

describe('http.json', () => {
  it('an empty 200 is a 502 GW_ERR_UPSTREAM_EMPTY', async () => {
    up.on('/x', { status: 200, raw: '', contentType: 'application/json' });
    expect((await fail(http.json(req()))).code).toBe('GW_ERR_UPSTREAM_EMPTY');
  });
});

describe('http.stream: refusing what is not a stream, before any byte', () => {
  it('an empty 2xx body is GW_ERR_UPSTREAM_EMPTY', async () => {
    up.on('/x', { status: 200, raw: '', contentType: 'text/event-stream' });
    const e = await fail(http.stream(req()));
    expect([e.code, e.status, e.message]).toEqual(['GW_ERR_UPSTREAM_EMPTY', 502, 'The upstream answered status 200 with an empty body.']);
  });

  it('text/html (or any other non-stream type) is GW_ERR_UPSTREAM_CONTENT_TYPE naming the type', async () => {
    up.on('/x', { status: 200, text: '<html>login</html>', contentType: 'text/html; charset=utf-8' });
    const e = await fail(http.stream(req()));
    expect([e.code, e.status]).toEqual(['GW_ERR_UPSTREAM_CONTENT_TYPE', 502]);
    expect(e.message).toBe('The upstream answered a stream request with content type text/html; charset=utf-8, which is not a stream.');
    up.on('/x', { status: 200, text: 'hello', contentType: 'text/plain' });
    expect((await fail(http.stream(req()))).message).toContain('text/plain');
  });

  it('an HTML page that never ends is refused at once, not read to its end', async () => {
    up.on('/x', { status: 200, text: '<html><body>still loading', contentType: 'text/html', holdOpen: true });
    const t0 = performance.now();
    const e = await fail(http.stream(req('/x', { timeoutMs: 10_000 })));
    expect(e.code).toBe('GW_ERR_UPSTREAM_CONTENT_TYPE');
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a JSON answer is a 502 unless the caller allows it; then it is returned whole', async () => {
    up.on('/x', { json: { id: 'whole' } });
    const e = await fail(http.stream(req()));
    expect([e.code, e.message]).toEqual(['GW_ERR_UPSTREAM_CONTENT_TYPE', 'The upstream answered a stream request with a complete JSON answer (content type application/json), not a stream.']);
    const res = await http.stream(req('/x', { allowJson: true }));
    expect(isJsonAnswer(res)).toBe(true);
    expect(await readJsonAnswer(res)).toEqual({ id: 'whole' });
  });

  it('stream types pass (application/stream+json is a stream, not a JSON answer), with every byte, split or not', async () => {
    for (const ct of STREAM_CONTENT_TYPES) {
      up.on('/x', { raw: 'data: {"a":1}\n\ndata: [DONE]\n\n', contentType: ct, splitEvery: 4 });
      const res = await http.stream(req());
      expect(isJsonAnswer(res)).toBe(false);
      expect(await text(res.body)).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
    }
    up.on('/x', { raw: 'abc', contentType: 'application/stream+json' });
    expect(await (await http.stream(req())).text()).toBe('abc');
  });

  it('a caller may name its own stream types', async () => {
    up.on('/x', { raw: 'line\n', contentType: 'text/plain' });
    const res = await http.stream(req('/x', { streamContentTypes: ['text/plain'] }));
    expect(await res.text()).toBe('line\n');
  });

  it('non-2xx answers keep their status as before', async () => {
    up.on('/x', { status: 429, json: { error: { message: 'slow down' } }, headers: { 'retry-after': '3' } });
    const e = await fail(http.stream(req()));
    expect([e.code, e.status, e.message, e.headers]).toEqual(['GW_ERR_UPSTREAM_STATUS', 429, 'slow down', { 'retry-after': '3' }]);
  });
});

describe('readJsonAnswer', () => {
  const res = (body: string, status = 200) => ({ status, headers: { 'content-type': 'application/json' }, body: (async function* () {})(), text: async () => body });
  it('empty → EMPTY, invalid → BAD_RESPONSE, {error} → 502 with its message', async () => {
    expect((await fail(readJsonAnswer(res('')))).code).toBe('GW_ERR_UPSTREAM_EMPTY');
    expect((await fail(readJsonAnswer(res('{oops')))).code).toBe('GW_ERR_UPSTREAM_BAD_RESPONSE');
    const e = await fail(readJsonAnswer(res('{"error":{"message":"nope"}}')));
    expect([e.status, e.message]).toEqual([502, 'nope']);
    expect(await readJsonAnswer(res('[1,2]'))).toEqual([1, 2]);
  });
});

describe('bounded answers: one upstream cannot exhaust the gateway\'s memory', () => {
  const small = createHttpClient({ maxBodyBytes: 64 * 1024 });
  let server: Server;
  let base = '';
  const closed: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.on('close', () => { closed.push(req.url!); });
      const kb = 'x'.repeat(1024);
      if (req.url === '/declared') {
        // A declared length over the limit: refused before the body is read.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) });
        res.write(`{"a":"${kb}`);
        return; // never sends the rest
      }
      if (req.url === '/chunked' || req.url === '/chunked-error') {
        // No declared length, a body that never ends: read until the limit, then dropped.
        res.writeHead(req.url === '/chunked' ? 200 : 500, { 'content-type': 'application/json' });
        res.write('{"a":"');
        const t = setInterval(() => { if (!res.destroyed) res.write(kb.repeat(8)); }, 2);
        res.on('close', () => clearInterval(t));
        return;
      }
      if (req.url === '/sse-line' || req.url === '/sse-event') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[]}\n\n');
        const piece = req.url === '/sse-line' ? 'x'.repeat(1024 * 1024) : `data: ${'x'.repeat(1024 * 1024)}\n`;
        if (req.url === '/sse-line') res.write('data: ');
        let n = 0;
        const t = setInterval(() => { if (res.destroyed || n++ > 40) { clearInterval(t); res.end(); } else res.write(piece); }, 1);
        res.on('close', () => clearInterval(t));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ a: kb.repeat(32) })); // 32 KiB, chunked (no declared length): under the limit
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await small.close(); await new Promise((r) => server.close(r)); });
  const at = (path: string) => ({ url: `${base}${path}`, body: {}, timeoutMs: 5000 });
  const tooLarge = { code: 'GW_ERR_UPSTREAM_BAD_RESPONSE', status: 502, message: 'The upstream\'s answer is larger than the limit of 65536 bytes.' };

  it('an answer under the limit passes whole, declared length or not', async () => {
    expect(((await small.json(at('/ok'))) as { a: string }).a).toHaveLength(32 * 1024);
  });

  it('a declared length over the limit is a 502 at once, and the connection is dropped', async () => {
    expect(await fail(small.json(at('/declared')))).toMatchObject(tooLarge);
    await expect.poll(() => closed.includes('/declared')).toBe(true);
  });

  it('a chunked answer that passes the limit is a 502 and the connection is dropped (JSON answers and error bodies)', async () => {
    expect(await fail(small.json(at('/chunked')))).toMatchObject(tooLarge);
    await expect.poll(() => closed.includes('/chunked')).toBe(true);
    expect(await fail(small.stream(at('/chunked-error')))).toMatchObject(tooLarge);
    await expect.poll(() => closed.includes('/chunked-error')).toBe(true);
  });

  it(`a stream line, or one event's data, past ${MAX_SSE_EVENT_CHARS} characters is a 502 after the events before it`, async () => {
    for (const path of ['/sse-line', '/sse-event']) {
      const res = await small.stream(at(path));
      const got: unknown[] = [];
      const e = await fail((async () => { for await (const js of sseJson(res.body, { final: false })) got.push(js); })());
      expect(got).toEqual([{ choices: [] }]);
      expect(e).toMatchObject({ code: 'GW_ERR_UPSTREAM_BAD_RESPONSE', status: 502, message: `The upstream sent a stream event larger than ${MAX_SSE_EVENT_CHARS} characters.` });
    }
    // The line reader (NDJSON streams: Cohere) likewise.
    const res = await small.stream(at('/sse-line'));
    const got: string[] = [];
    const e = await fail((async () => { for await (const l of lines(res.body)) got.push(l); })());
    expect(got).toEqual(['data: {"choices":[]}', '']);
    expect(e).toMatchObject({ code: 'GW_ERR_UPSTREAM_BAD_RESPONSE', message: `The upstream sent a stream line longer than ${MAX_SSE_EVENT_CHARS} characters.` });
  });
});
