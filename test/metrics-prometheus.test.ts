/**
 * The metrics plugin under `gatehouse start --workers 2` (the built CLI), scraped by a real
 * Prometheus server (Debian's /usr/bin/prometheus), with the request log writing to a file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { callOnNewConnection, REPO_ROOT, type Answer } from './helpers/gateway.js';
import { freePort } from './helpers/processes.js';

const PROMETHEUS = '/usr/bin/prometheus';
const CLI = join(REPO_ROOT, 'core/bin/gatehouse.js');
const KEY = 'sk-planted-metrics-key-8f3a9c2b71d4e6';
const ROUTE = '/endpoints/:name/invocations';
const runnable = existsSync(PROMETHEUS) && existsSync(join(REPO_ROOT, 'core/dist/cli.js'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const call = callOnNewConnection;

/** Sum of a metric's samples in Prometheus text, over lines whose labels contain every `match`. */
function sumOf(text: string, name: string, ...match: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!match.every((m) => line.includes(m))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
const seriesOf = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).length;

function startProcess(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { text: '' };
  child.stdout!.on('data', (d) => { out.text += d; });
  child.stderr!.on('data', (d) => { out.text += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, tries = 80, everyMs = 250): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try { const v = await probe(); if (v !== undefined) return v; } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const chatBody = { messages: [{ role: 'user', content: 'a confidential prompt' }] };
const chunk = (content: string | null, finish: string | null = null, usage?: unknown) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }], ...(usage ? { usage } : {}) });

describe.skipIf(!runnable && !process.env.CI)('metrics under --workers 2, scraped by a real Prometheus', () => {
  let dir: string;
  let up: FakeUpstream;
  let gw: ReturnType<typeof startProcess>;
  let prom: ReturnType<typeof startProcess>;
  let base: string;
  let promUrl: string;
  let configPath: string;
  let logFile: string;
  const requestIds: string[] = [];
  let sent = 0; // requests to ROUTE

  const config = (extra: Record<string, unknown>[] = []) => stringify({
    endpoints: [
      { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/v1` } } },
      { name: 'broken', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/bad/v1` } } },
      ...extra,
    ],
    'request-log': { destination: logFile },
  });

  /** Prometheus's answer to an instant query, as a number (undefined while it has no sample). */
  async function query(q: string): Promise<number | undefined> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const js = await res.json() as { status: string; data: { result: Array<{ value: [number, string] }> } };
    if (js.status !== 'success' || js.data.result.length === 0) return undefined;
    return Number(js.data.result[0]!.value[1]);
  }
  const queryEquals = (q: string, want: number) => until(`${q} == ${want}`, async () => ((await query(q)) === want ? true : undefined));

  async function invoke(endpoint: string, body: unknown = chatBody): Promise<Answer> {
    const r = await call('POST', `${base}/endpoints/${endpoint}/invocations`, body);
    sent++;
    requestIds.push(String(r.headers['x-request-id']));
    return r;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-'));
    logFile = join(dir, 'logs', 'requests.log');
    up = await startFakeUpstream({
      'POST /v1/chat/completions': (req) => req.json?.stream
        ? { sse: [chunk('Hel'), chunk('lo'), chunk(null, 'stop', { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }), '[DONE]'] }
        : { json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'hi there' }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } } },
      // An upstream that echoes the key back, as OpenAI does for a wrong one.
      'POST /bad/v1/chat/completions': { status: 401, json: { error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error' } } },
    });
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, config());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = startProcess(process.execPath, [CLI, 'start', '--config-path', configPath, '--port', String(port), '--workers', '2', '--grace-period', '5'], { PLANTED_KEY: KEY });
    // Both workers must serve (and answer prom-client's requests) before the first scrape.
    await until('two workers listening', async () => ((gw.out.text.match(/listening on/g) ?? []).length >= 2 ? true : undefined), 120);

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'gatehouse', scrape_interval: '1s', scrape_timeout: '900ms', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    }));
    prom = startProcess(PROMETHEUS, [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
    await until('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 120);
  }, 60_000);

  afterAll(async () => {
    prom?.child.kill('SIGTERM');
    gw?.child.kill('SIGTERM');
    await Promise.race([Promise.all([prom?.exited, gw?.exited]), sleep(8000)]);
    prom?.child.kill('SIGKILL');
    gw?.child.kill('SIGKILL');
    await up?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every answer carries x-gatehouse-overhead-ms: JSON, SSE and errors', async () => {
    const json = await invoke('chat');
    const sse = await invoke('chat', { ...chatBody, stream: true });
    const err = await invoke('broken');
    expect([json.status, sse.status, err.status]).toEqual([200, 200, 401]);
    expect(sse.headers['content-type']).toContain('text/event-stream');
    for (const r of [json, sse, err]) expect(Number(r.headers['x-gatehouse-overhead-ms'])).toBeGreaterThanOrEqual(0);
    expect(err.text).not.toContain(KEY);
    expect(up.requests.find((r) => r.pathname === '/bad/v1/chat/completions')?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('one scrape sees the sum of both workers, and Prometheus stores it', async () => {
    for (let i = 0; i < 12; i++) await invoke('chat');
    for (let i = 0; i < 3; i++) await invoke('chat', { ...chatBody, stream: true });
    for (let i = 0; i < 2; i++) await invoke('broken');
    // Each scrape lands on either worker (fresh connections); each must show every request.
    for (let i = 0; i < 4; i++) {
      const m = await call('GET', `${base}/metrics`);
      expect(m.status).toBe(200);
      expect(m.headers['content-type']).toContain('text/plain');
      expect(sumOf(m.text, 'gateway_requests_total', `handler="${ROUTE}"`)).toBe(sent);
      expect(sumOf(m.text, 'gateway_errors_total', 'code="GW_ERR_UPSTREAM_STATUS"')).toBe(3);
      expect(sumOf(m.text, 'gateway_latency_seconds_count', `handler="${ROUTE}"`)).toBe(sent);
      expect(sumOf(m.text, 'gateway_tokens_total', 'type="input"')).toBe(13 * 7 + 4 * 3);
      expect(sumOf(m.text, 'gateway_time_to_first_token_seconds_count')).toBe(4);
      expect(sumOf(m.text, 'gateway_active_streams')).toBe(0);
      expect(m.text).toContain('process_cpu_user_seconds_total');
    }
    await queryEquals(`sum(gateway_requests_total{handler="${ROUTE}"})`, sent);
    await queryEquals(`sum(gateway_errors_total{code="GW_ERR_UPSTREAM_STATUS"})`, 3);
    expect(await query(`sum(gateway_upstream_attempts_total{endpoint="chat",outcome="ok"})`)).toBe(sent - 3);
  }, 60_000);

  it('counters survive a reload in every worker', async () => {
    const before = sent;
    writeFileSync(configPath, config([{ name: 'chat2', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/v1` } } }]));
    gw.child.kill('SIGHUP');
    await until('both workers reloaded', async () => ((gw.out.text.match(/configuration reloaded/g) ?? []).length >= 2 ? true : undefined), 120);
    for (let i = 0; i < 4; i++) expect((await invoke('chat2')).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await invoke('chat')).status).toBe(200);
    expect(sent).toBe(before + 8);
    await queryEquals(`sum(gateway_requests_total{handler="${ROUTE}"})`, sent);
    expect(await query('max(gateway_config_reloads_total)')).toBe(1);
    expect(await query('min(gateway_config_last_reload_success_timestamp_seconds)')).toBeGreaterThan(1_700_000_000);
    expect(await query('sum(gateway_requests_total{endpoint="chat2",model="gpt-4o-mini",status_class="2xx"})')).toBe(4);
    // No series ever went down in Prometheus's view.
    expect(await query(`sum(resets(gateway_requests_total[5m]))`)).toBe(0);
  }, 60_000);

  it('100 unknown names and paths add no label values', async () => {
    const metricsBefore = (await call('GET', `${base}/metrics`)).text;
    const seriesBefore = seriesOf(metricsBefore, 'gateway_requests_total');
    const junk: string[] = [];
    for (let i = 0; i < 100; i++) {
      const name = `zz${Math.random().toString(36).slice(2, 10)}`;
      junk.push(name);
      const r = i % 2 ? await call('GET', `${base}/${name}/${name}`) : await call('POST', `${base}/endpoints/${name}/invocations`, chatBody);
      expect(r.status).toBe(404);
      if (i % 2 === 0) sent++;
    }
    const m = (await call('GET', `${base}/metrics`)).text;
    // At most the new (none)/(unmatched) 404 combinations, never one per name.
    expect(seriesOf(m, 'gateway_requests_total') - seriesBefore).toBeLessThanOrEqual(3);
    expect(junk.filter((j) => m.includes(j))).toEqual([]);
    expect(sumOf(m, 'gateway_requests_total', 'handler="(unmatched)"')).toBe(50);
    await queryEquals(`sum(gateway_requests_total{handler="${ROUTE}"})`, sent);
    const series = await (await fetch(`${promUrl}/api/v1/series?match[]=${encodeURIComponent('{job="gatehouse",__name__=~"gateway_.+"}')}`)).text();
    expect(junk.filter((j) => series.includes(j))).toEqual([]);
    const count = await query('count(gateway_requests_total)');
    expect(count).toBe(seriesOf(m, 'gateway_requests_total'));
  }, 60_000);

  it('a planted provider key is in no metric label, no stored series and no request-log line', async () => {
    const m = (await call('GET', `${base}/metrics`)).text;
    expect(m).not.toContain(KEY);
    const labels = await (await fetch(`${promUrl}/api/v1/series?match[]=${encodeURIComponent('{job="gatehouse"}')}`)).text();
    expect(labels.length).toBeGreaterThan(1000);
    expect(labels).not.toContain(KEY);

    // Stop the gateway: workers flush the request log on the way out.
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    const raw = readFileSync(logFile, 'utf8');
    expect(raw).not.toContain(KEY);
    expect(raw).not.toContain('a confidential prompt');
    const lines = raw.trim().split('\n').map((l) => JSON.parse(l));
    const invocations = lines.filter((l) => l.http_route === ROUTE);
    expect(invocations).toHaveLength(sent);
    expect(new Set(invocations.map((l) => l.request_id))).toEqual(new Set([...requestIds, ...invocations.filter((l) => l.status === 404).map((l) => l.request_id)]));
    const ok = invocations.find((l) => l.endpoint === 'chat' && !l.stream && l.status === 200);
    expect(ok).toMatchObject({ msg: 'request', level: 30, method: 'POST', surface: 'mlflow', target: 'chat', provider: 'openai', model: 'gpt-4o', code: null, attempts: 1, tokens: { input: 7, output: 4, total: 11 }, caller: null, trace_id: null });
    expect(ok.client_ip).toMatch(/127\.0\.0\.1/);
    expect(ok.duration_ms).toBeGreaterThanOrEqual(ok.overhead_ms);
    const streamed = invocations.find((l) => l.stream);
    expect(streamed).toMatchObject({ status: 200, chunks: 3, tokens: { input: 3, output: 2, total: 5 } });
    const failed = invocations.find((l) => l.endpoint === 'broken');
    expect(failed).toMatchObject({ level: 40, status: 401, code: 'GW_ERR_UPSTREAM_STATUS', message: 'Incorrect API key provided: [REDACTED].' });
    const unknown = invocations.find((l) => l.status === 404);
    expect(unknown).toMatchObject({ target: null, endpoint: null, route: null, code: 'GW_ERR_ROUTE_NOT_FOUND', http_route: ROUTE });
    // Prometheus's scrapes are requests too.
    expect(lines.some((l) => l.path === '/metrics' && l.status === 200)).toBe(true);
  }, 30_000);
});

describe.skipIf(!runnable && !process.env.CI)('metrics.listen under --workers 2', () => {
  it('the primary serves every worker\'s metrics on its own address; the gateway port has no /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-listen-'));
    const [port, metricsPort] = [await freePort(), await freePort()];
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify({
      endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }],
      metrics: { listen: `127.0.0.1:${metricsPort}` },
      'request-log': { enabled: false },
    }));
    const gw = startProcess(process.execPath, [CLI, 'start', '--config-path', configPath, '--port', String(port), '--workers', '2', '--grace-period', '2']);
    try {
      await until('two workers listening', async () => ((gw.out.text.match(/listening on/g) ?? []).length >= 2 ? true : undefined), 120);
      for (let i = 0; i < 10; i++) expect((await call('POST', `http://127.0.0.1:${port}/endpoints/emb/invocations`, { input: 'x' })).status).toBe(200);
      expect((await call('GET', `http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const m = await call('GET', `http://127.0.0.1:${metricsPort}/metrics`);
      expect(m.status).toBe(200);
      expect(sumOf(m.text, 'gateway_requests_total', 'endpoint="emb"', 'status_class="2xx"')).toBe(10);
      expect(sumOf(m.text, 'gateway_requests_total', 'handler="(unmatched)"')).toBe(1);
      expect((await call('GET', `http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
      // The primary closed its listener on the way out.
      await expect(call('GET', `http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
    } finally {
      gw.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
