import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import plugin, { buildLine, chunkText, levelOf, openDestination, pathOnly, requestLogger, responseText, traceIdOf } from '../src/index.js';
import { isoTime, lineText } from '../src/text.js';
import { fakeAttempt as attempt, fakeEndpoint as endpoint, fakeInvocation as invocation, fakeOutcome as outcome, fakeRoute as route } from '@gatehouse/sdk/testing';

const opts = { includeContent: false, maxContentChars: 2000 };

describe('buildLine', () => {
  it('says who, what, where, how long and how many tokens, without content', () => {
    const a = endpoint('a', 'openai', 'gpt-4o'), b = endpoint('b', 'anthropic', 'claude');
    const inv = invocation({
      id: 'req-9', target: 'split', route: route('split', ['a', 'b']), endpoint: b,
      attempts: [attempt(1, a, { upstreamMs: 30, error: 'GW_ERR_UPSTREAM_STATUS' }), attempt(2, b, { upstreamMs: 70 })],
      events: [{ name: 'fallback_triggered', at: 1 }],
      body: { messages: [{ role: 'user', content: 'a secret prompt' }] },
      headers: { authorization: 'Bearer gw-key-123' },
    });
    inv.state.set('tracing', { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    const line = buildLine(outcome({ id: 'req-9', invocation: inv, durationMs: 112.345, upstreamMs: 100, ttfbMs: 110,
      path: '/endpoints/split/invocations?api_key=sk-should-not-appear', caller: { name: 'team-a', scopes: [] },
      client: { ip: '10.1.2.3' }, usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } }), opts);
    expect(line).toEqual({
      request_id: 'req-9', method: 'POST', path: '/endpoints/split/invocations', http_route: '/endpoints/:name/invocations',
      surface: 'mlflow', target: 'split', endpoint: 'b', route: 'split', destination: 'b', provider: 'anthropic', model: 'claude',
      status: 200, code: null, duration_ms: 112.35, overhead_ms: 12.35, upstream_ms: 100, ttfb_ms: 110, stream: false, chunks: 0,
      bytes: 10, aborted: false, attempts: 2, tokens: { input: 5, output: 7, total: 12 }, client_ip: '10.1.2.3', caller: 'team-a',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', events: ['fallback_triggered'],
    });
    const text = JSON.stringify(line);
    expect(text).not.toContain('secret prompt');
    expect(text).not.toContain('gw-key-123');
    expect(text).not.toContain('sk-should-not-appear');
  });

  it('logs requests that never reached the pipeline', () => {
    const line = buildLine(outcome({ method: 'GET', path: '/nope', route: null, surface: null, status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', upstreamMs: 0, durationMs: 1 }), opts);
    expect(line).toMatchObject({ path: '/nope', http_route: null, endpoint: null, route: null, destination: null, status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', attempts: 0, trace_id: null, overhead_ms: 1 });
    expect(line).not.toHaveProperty('request');
  });

  it("adds the error message, and takes the metrics plugin's overhead when it measured one", () => {
    const inv = invocation({ endpoint: endpoint('chat') });
    inv.state.set('metrics', { overheadMs: 1.234 });
    const line = buildLine(outcome({ invocation: inv, status: 401, code: 'GW_ERR_UPSTREAM_STATUS', message: 'Incorrect API key provided: [REDACTED].', durationMs: 500, upstreamMs: 100 }), opts);
    expect(line).toMatchObject({ code: 'GW_ERR_UPSTREAM_STATUS', message: 'Incorrect API key provided: [REDACTED].', overhead_ms: 1.23 });
  });

  it('adds truncated content only when asked', () => {
    const inv = invocation({ endpoint: endpoint('chat'), body: { messages: [{ role: 'user', content: 'x'.repeat(50) }], temperature: 0 } });
    inv.result = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' }] } as never;
    const line = buildLine(outcome({ invocation: inv }), { includeContent: true, maxContentChars: 20 });
    expect(line.request).toBe(`${'[{"role":"user","content":"xxx'.slice(0, 20)}…[${JSON.stringify(inv.body.messages).length - 20} more]`);
    expect(line.response).toBe('hello there');
    // Streams: the text the chunk observer gathered.
    const s = invocation({ endpoint: endpoint('chat'), stream: true, body: { prompt: 'hi' } });
    s.state.set('request-log', { text: 'streamed words' });
    expect(buildLine(outcome({ invocation: s, stream: true }), { includeContent: true, maxContentChars: 100 })).toMatchObject({ request: '"hi"', response: 'streamed words' });
  });

  it('reads content from answers and chunks', () => {
    expect(responseText({ object: 'text_completion', choices: [{ text: 'a' }, { text: 'b' }] })).toBe('a\nb');
    expect(responseText({ object: 'list', data: [{}, {}] })).toBe('[2 embedding(s)]');
    expect(responseText(null)).toBeNull();
    expect(chunkText({ choices: [{ delta: { content: 'He' } }] } as never)).toBe('He');
    expect(chunkText({ choices: [{ text: 'llo' }] } as never)).toBe('llo');
  });

  it('maps statuses to levels and strips queries', () => {
    expect([200, 404, 429, 499, 500, 504].map(levelOf)).toEqual(['info', 'warn', 'warn', 'warn', 'error', 'error']);
    expect(pathOnly('/v1/models?x=1')).toBe('/v1/models');
    expect(traceIdOf(null)).toBeNull();
  });
});

describe('lineText', () => {
  afterEach(() => { vi.useRealTimers(); });

  /** What pino itself writes for `log[level](line, 'request')`. */
  function pinoText(line: object, level: 'info' | 'warn' | 'error'): string {
    let text = '';
    requestLogger({ write: (s: string) => { text += s; } }, 'info')[level](line, 'request');
    return text;
  }

  it('formats the time as pino.stdTimeFunctions.isoTime does', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const t of [0, 999, 1000, 1_764_570_000_000, 1_764_570_000_999, 1_764_570_001_000, 1_764_570_001_001, 1_764_570_060_042, 253_402_300_800_000, -1, -1001]) {
      vi.setSystemTime(t);
      expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
      expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime()); // the cached text too
    }
  });

  it('writes what pino writes, byte for byte, for every field buildLine sets', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_764_570_000_123);
    const a = endpoint('a', 'openai', 'gpt-4o'), b = endpoint('b "quoted"', 'anthropic', null);
    const emoji = '\u{1F600}'.repeat(5); // cut in half by the truncation below: a lone surrogate
    const odd = ['plain', 'with "quotes" and \\ backslash', 'new\nline\ttab\u0001', 'é ü \u2028 \u{1F600}', '\ud800 lone', `long ${'x\ud800"'.repeat(40)}`, `\\ud800 escaped`, ''];
    const lines = [];
    for (const [i, text] of odd.entries()) {
      const inv = invocation({
        id: `req-${text}`, target: text, route: route(`split-${text}`, ['a', 'b']), endpoint: b,
        attempts: [attempt(1, a, { upstreamMs: 30, error: 'GW_ERR_UPSTREAM_STATUS' }), attempt(2, b, { upstreamMs: 70 })],
        events: [{ name: 'fallback_triggered', at: 1 }, { name: text, at: 2 }],
        body: { messages: [{ role: 'user', content: `${text}${emoji}` }] },
      });
      inv.state.set('tracing', { traceId: text });
      inv.result = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `${emoji}${text}` }, finish_reason: 'stop' }] } as never;
      const o = outcome({ id: text, invocation: inv, path: `/p/${text}?k=v`, route: text, status: [200, 404, 502][i % 3], code: 'GW_ERR_UPSTREAM_STATUS', message: `upstream said: ${text}`,
        durationMs: [112.345, Number.NaN, Infinity, -0, 1e21, 0.1 + 0.2, 5e-7, 3][i]!, upstreamMs: 100, ttfbMs: i % 2 ? null : 110,
        caller: { name: text, scopes: [] }, client: { ip: text }, usage: i % 2 ? null : { prompt_tokens: 5, completion_tokens: undefined as never, total_tokens: 12 } });
      lines.push(buildLine(o, { includeContent: true, maxContentChars: 10 + i }), buildLine(o, opts));
    }
    lines.push(buildLine(outcome({ method: 'GET', path: '/nope', route: null, surface: null, status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND' }), opts));
    // Every optional member is in at least one line.
    expect(lines[0]).toHaveProperty('message');
    expect(lines[0]).toHaveProperty('events');
    expect(lines[0]).toHaveProperty('request');
    expect(lines[0]).toHaveProperty('response');
    for (const line of lines) {
      for (const level of ['info', 'warn', 'error'] as const) expect(lineText(line, level)).toBe(pinoText(line, level));
    }
  });

  it('leaves values it does not copy pino on to pino', () => {
    const line = buildLine(outcome(), opts);
    expect(lineText({ ...line, caller: 10n as never }, 'info')).toBeNull();
    expect(lineText({ ...line, tokens: { input: 1, output: 2, total: 3n as never } }, 'info')).toBeNull();
  });
});

/** A fake registration context that records what the plugin did. */
function fakeContext(config: Record<string, unknown>) {
  const kept = new Map<string, { value: unknown; dispose?: (v: any) => unknown }>();
  const observers: any[] = [];
  const ctx = {
    name: 'request-log', config, logger: console, observe: (o: unknown) => observers.push(o),
    keep: (k: string, make: () => unknown, dispose?: (v: any) => unknown) => {
      if (!kept.has(k)) kept.set(k, { value: make(), dispose });
      return kept.get(k)!.value;
    },
  };
  return { ctx, observers, async dispose() { for (const { value, dispose } of kept.values()) await dispose?.(value); } };
}

describe('the plugin', () => {
  it('writes one pino JSON line per request to a file, at the configured level, across reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'nested', 'requests.log');
    try {
      const f = fakeContext({ destination: file, level: 'info' });
      await plugin.register(f.ctx as never);
      f.observers[0].finish(outcome({ id: 'one' }));
      f.observers[0].finish(outcome({ id: 'two', status: 502, code: 'GW_ERR_UPSTREAM_STATUS' }));
      // A reload to level warn: same destination, new level.
      f.ctx.config = { destination: file, level: 'warn' };
      await plugin.register(f.ctx as never);
      f.observers[1].finish(outcome({ id: 'three' }));
      f.observers[1].finish(outcome({ id: 'four', status: 429, code: 'GW_ERR_RATE_LIMITED' }));
      await f.dispose();
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.request_id, l.level, l.msg])).toEqual([['one', 30, 'request'], ['two', 50, 'request'], ['four', 40, 'request']]);
      expect(typeof lines[0].time).toBe('string');
      expect(lines[0]).not.toHaveProperty('pid');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('gathers streamed text only when content is logged', async () => {
    const off = fakeContext({ destination: join(tmpdir(), 'unused-request-log.log') });
    await plugin.register(off.ctx as never);
    expect(off.observers[0].chunk).toBeUndefined();
    await off.dispose();
    rmSync(join(tmpdir(), 'unused-request-log.log'), { force: true });

    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'r.log');
    const on = fakeContext({ destination: file, include_content: true });
    await plugin.register(on.ctx as never);
    const inv = invocation({ endpoint: endpoint('chat'), stream: true, body: { messages: [{ role: 'user', content: 'hi' }] } });
    on.observers[0].chunk(inv, { choices: [{ delta: { content: 'Hel' } }] });
    on.observers[0].chunk(inv, { choices: [{ delta: { content: 'lo' } }] });
    on.observers[0].finish(outcome({ invocation: inv, stream: true, chunks: 2 }));
    await on.dispose();
    const [line] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(line).toMatchObject({ response: 'Hello', request: '[{"role":"user","content":"hi"}]' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps lines whole and in order, across turns of the event loop and through pino', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'order.log');
    const sink = openDestination(file);
    const log = requestLogger(sink, 'info');
    const expected: number[] = [];
    for (let turn = 0; turn < 5; turn++) {
      for (let i = 0; i < 200; i++) {
        const n = turn * 1000 + i;
        expected.push(n);
        if (i % 3) sink.write(`${JSON.stringify({ n, pad: 'x'.repeat(i) })}\n`);
        else log.info({ n }, 'request');
      }
      await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((r) => { sink.once('close', () => r()); sink.end(); });
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).n)).toEqual(expected);
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds lines for the flush interval and writes them together; past 16 KiB they go at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'held.log');
    const read = () => { try { return readFileSync(file, 'utf8'); } catch { return ''; } };
    const sink = openDestination(file, {}, 300);
    try {
      sink.write('{"n":1}\n');
      await new Promise((r) => setImmediate(r));
      sink.write('{"n":2}\n');
      await new Promise((r) => setTimeout(r, 50));
      // Two turns later, still held (a write per turn is what the interval saves).
      expect(read()).toBe('');
      await vi.waitFor(() => expect(read()).toBe('{"n":1}\n{"n":2}\n'), { timeout: 3000, interval: 20 });
      // A long interval: lines that would pass 16 KiB go without waiting for it, whole.
      sink.holdFor?.(60_000);
      const line = (n: number) => `${JSON.stringify({ n, pad: 'x'.repeat(6000) })}\n`;
      sink.write(line(10));
      sink.write(line(11));
      expect(read()).toBe('{"n":1}\n{"n":2}\n');
      sink.write(line(12)); // would pass 16 KiB: the two before it go now
      await vi.waitFor(() => expect(read()).toBe(`{"n":1}\n{"n":2}\n${line(10)}${line(11)}`), { timeout: 3000, interval: 20 });
      const big = `${JSON.stringify({ pad: 'x'.repeat(20 * 1024) })}\n`;
      sink.write(big); // alone past 16 KiB: line 12 goes, then this one
      await vi.waitFor(() => expect(read().endsWith(`${line(12)}${big}`)).toBe(true), { timeout: 3000, interval: 20 });
      // end() writes what is held at once.
      sink.write('{"n":3}\n');
      await new Promise<void>((r) => { sink.once('close', () => r()); sink.end(); });
      expect(read().endsWith('{"n":3}\n')).toBe(true);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it.skipIf(!existsSync('/dev/full'))('a destination whose writes fail reports them, never throws, and lets the process exit', () => {
    // In a process of its own, from the built module: lines to /dev/full (every write: ENOSPC),
    // then process.exit() with lines still held. sonic-boom's own flushSync would retry them
    // forever at exit; an unhandled 'error' event would have crashed the process first.
    const built = fileURLToPath(new URL('../dist/destination.js', import.meta.url));
    const script = `
      const { lineDestination } = await import(${JSON.stringify(built)});
      const errors = [];
      const sink = lineDestination('/dev/full', 1 << 20, { onError: (e) => errors.push(e.code) }, 0);
      sink.write('{"n":1}\\n');
      await new Promise((r) => setTimeout(r, 200));
      sink.write('{"n":2}\\n');
      await new Promise((r) => setImmediate(r));
      sink.write('{"n":3}\\n');
      console.log(JSON.stringify([...new Set(errors)]));
      process.exit(0);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(r.error).toBeUndefined(); // a timeout (a hung exit) is an error here
    expect([r.status, r.stdout.trim(), r.stderr]).toEqual([0, '["ENOSPC"]', '']);
  });

  it('a destination whose reader is gone (EPIPE) reports it once and drops lines from then on', async () => {
    const built = fileURLToPath(new URL('../dist/destination.js', import.meta.url));
    // stdout is a pipe whose reader is closed at once: writes to it fail with EPIPE.
    const script = `
      const { lineDestination } = await import(${JSON.stringify(built)});
      const errors = [];
      let drops = 0;
      const sink = lineDestination(1, 1 << 20, { onError: (e) => errors.push(e.code), onDrop: () => drops++ }, 0);
      for (let i = 0; i < 20; i++) { sink.write('{"n":' + i + '}\\n'); await new Promise((r) => setTimeout(r, 10)); }
      process.stderr.write(JSON.stringify({ errors, drops }));
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect([code, JSON.parse(err)]).toEqual([0, { errors: ['EPIPE'], drops: 0 }]);
  });

  it('writes through pino with no base fields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'x.log');
    const sink = openDestination(file);
    const log = requestLogger(sink, 'info');
    log.info({ a: 1 }, 'request');
    log.debug({ b: 2 }, 'request');
    await new Promise<void>((r) => { sink.once('close', () => r()); sink.end(); });
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ level: 30, time: expect.any(String), a: 1, msg: 'request' }]);
    rmSync(dir, { recursive: true, force: true });
  });
});
