/**
 * The metrics plugin in one in-process gateway: the overhead header on every kind of pipeline
 * answer, what /metrics shows, reloads, and `metrics.listen`.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/processes.js';

const KEY = 'sk-planted-inprocess-key-5e7d1c0a9b';
const chatBody = { messages: [{ role: 'user', content: 'hi' }] };
const chunk = (content: string | null, finish: string | null = null) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] });

function sumOf(text: string, name: string, ...match: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (match.every((m) => line.includes(m))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const endpoints = (up: FakeUpstream, extra: unknown[] = []) => [
  { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/v1` } } },
  { name: 'down', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: '$PLANTED_KEY', openai_api_base: `${up.url}/down/v1` } } },
  ...extra,
];

describe('metrics in one process', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream({
      'POST /v1/chat/completions': (req) => req.json?.stream
        ? { sse: [chunk('a'), chunk('b'), chunk(null, 'stop'), '[DONE]'], chunkDelayMs: 5 }
        : { json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } }, delayMs: 30 },
      'POST /down/v1/chat/completions': { status: 500, json: { error: { message: `upstream broke (key ${KEY})` } } },
    });
    gw = await startTestGateway({ env: { PLANTED_KEY: KEY }, config: { endpoints: endpoints(up), 'request-log': { enabled: false } } });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('puts x-gatehouse-overhead-ms on JSON, SSE, upstream errors and invalid bodies', async () => {
    const t0 = performance.now();
    const json = await postJson(`${gw.url}/endpoints/chat/invocations`, chatBody);
    const elapsed = performance.now() - t0;
    const sseRes = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chatBody, stream: true }) });
    const events = await readSse(sseRes);
    const upstreamError = await postJson(`${gw.url}/endpoints/down/invocations`, chatBody);
    const invalid = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: 'not a list' });
    const openai = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', ...chatBody });
    expect([json.status, sseRes.status, upstreamError.status, invalid.status, openai.status]).toEqual([200, 200, 500, 422, 200]);
    expect(events.at(-1).choices[0].finish_reason).toBe('stop');
    const values = [json.headers, sseRes.headers, upstreamError.headers, invalid.headers, openai.headers].map((h) => h.get('x-gatehouse-overhead-ms'));
    for (const v of values) expect(v).toMatch(/^\d+\.\d{2}$/);
    // The upstream's 30 ms delay is not the gateway's overhead.
    expect(Number(values[0])).toBeLessThanOrEqual(elapsed - 29);
    expect(upstreamError.text).not.toContain(KEY);
  });

  it("serves seed 003's names and the rest at /metrics, with no key anywhere", async () => {
    for (let i = 0; i < 3; i++) await postJson(`${gw.url}/endpoints/chat/invocations`, chatBody);
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = await res.text();
    for (const name of ['gateway_requests_total', 'gateway_latency_seconds', 'gateway_errors_total']) expect(m).toContain(`# TYPE ${name} `);
    expect(m).toContain('# TYPE gateway_latency_seconds histogram');
    // 3 here + JSON, SSE and OpenAI-surface calls of the first test.
    expect(sumOf(m, 'gateway_requests_total', 'endpoint="chat"', 'status_class="2xx"')).toBe(6);
    expect(sumOf(m, 'gateway_requests_total', 'surface="openai"', 'endpoint="chat"')).toBe(1);
    expect(sumOf(m, 'gateway_errors_total', 'endpoint="down"', 'code="GW_ERR_UPSTREAM_STATUS"')).toBe(1);
    expect(sumOf(m, 'gateway_errors_total', 'endpoint="chat"', 'code="GW_ERR_REQUEST_VALIDATION"')).toBe(1);
    expect(sumOf(m, 'gateway_upstream_latency_seconds_count', 'endpoint="chat"', 'outcome="ok"')).toBe(6);
    expect(sumOf(m, 'gateway_upstream_latency_seconds_sum', 'endpoint="chat"', 'outcome="ok"')).toBeGreaterThan(5 * 0.03);
    expect(sumOf(m, 'gateway_overhead_seconds_count', 'endpoint="chat"')).toBe(7);
    expect(sumOf(m, 'gateway_time_to_first_token_seconds_count', 'endpoint="chat"')).toBe(1);
    expect(sumOf(m, 'gateway_tokens_total', 'endpoint="chat"', 'type="output"')).toBe(5);
    expect(sumOf(m, 'gateway_active_streams')).toBe(0);
    expect(sumOf(m, 'gateway_pipeline_events_total', 'event="first_token"')).toBe(1);
    expect(m).toContain('nodejs_eventloop_lag_seconds');
    expect(m).not.toContain(KEY);
  });

  it('counts a live stream while it is written', async () => {
    // The upstream sends two chunks and keeps the stream open until the caller leaves.
    up.on('POST /v1/chat/completions', { sse: [chunk('a'), chunk('b')], holdOpen: true });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chatBody, stream: true }), signal: ac.signal });
    expect(res.status).toBe(200);
    const during = await (await fetch(`${gw.url}/metrics`)).text();
    expect(sumOf(during, 'gateway_active_streams', 'endpoint="chat"')).toBe(1);
    ac.abort();
    await res.text().catch(() => undefined);
    let after = '';
    for (let i = 0; i < 50; i++) {
      after = await (await fetch(`${gw.url}/metrics`)).text();
      if (sumOf(after, 'gateway_active_streams', 'endpoint="chat"') === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sumOf(after, 'gateway_active_streams', 'endpoint="chat"')).toBe(0);
  });

  it('keeps every counter across a reload and counts the reload', async () => {
    const before = await (await fetch(`${gw.url}/metrics`)).text();
    const total = sumOf(before, 'gateway_requests_total', 'handler="/endpoints/:name/invocations"');
    expect(sumOf(before, 'gateway_config_reloads_total')).toBe(0);
    writeFileSync(gw.configPath, stringify({ endpoints: endpoints(up, [{ name: 'extra', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }]), 'request-log': { enabled: false } }));
    expect(await gw.gateway.reload()).toBe(true);
    expect((await postJson(`${gw.url}/endpoints/extra/invocations`, { input: 'x' })).status).toBe(200);
    const after = await (await fetch(`${gw.url}/metrics`)).text();
    expect(sumOf(after, 'gateway_requests_total', 'handler="/endpoints/:name/invocations"')).toBe(total + 1);
    expect(sumOf(after, 'gateway_requests_total', 'endpoint="extra"', 'provider="mock"')).toBe(1);
    expect(sumOf(after, 'gateway_config_reloads_total')).toBe(1);
    expect(sumOf(after, 'gateway_config_last_reload_success_timestamp_seconds')).toBeGreaterThanOrEqual(sumOf(before, 'gateway_config_last_reload_success_timestamp_seconds'));
    // One metrics route, one registry: the reload did not register a second set.
    expect(after.match(/# TYPE gateway_requests_total /g)).toHaveLength(1);
  });
});

describe('refusals, fallbacks and breakers from the rate-limit and routing plugins', () => {
  it('counts them with bounded labels', async () => {
    const up = await startFakeUpstream({ 'POST /down/v1/chat/completions': { status: 503, json: { error: { message: 'overloaded' } } } });
    const gw = await startTestGateway({
      env: { PLANTED_KEY: KEY },
      config: {
        endpoints: [
          ...endpoints(up).filter((e) => (e as { name: string }).name === 'down'),
          { name: 'ok', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } },
          { name: 'limited', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' }, limit: { calls: 1, renewal_period: 'minute' } },
        ],
        routes: [{ name: 'safe', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'down' }, { name: 'ok' }], breaker: { consecutive_failures: 2, cooldown_ms: 60000 } }],
        'request-log': { enabled: false },
      },
    });
    try {
      const limited = [await postJson(`${gw.url}/endpoints/limited/invocations`, chatBody), await postJson(`${gw.url}/endpoints/limited/invocations`, chatBody)];
      expect(limited.map((r) => r.status)).toEqual([200, 429]);
      expect(limited[1]!.headers.get('x-gatehouse-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
      for (let i = 0; i < 3; i++) expect((await postJson(`${gw.url}/endpoints/safe/invocations`, chatBody)).status).toBe(200);
      const m = await (await fetch(`${gw.url}/metrics`)).text();
      expect(sumOf(m, 'gateway_rate_limited_total', 'endpoint="limited"')).toBe(1);
      expect(sumOf(m, 'gateway_errors_total', 'endpoint="limited"', 'code="GW_ERR_RATE_LIMITED"')).toBe(1);
      expect(sumOf(m, 'gateway_requests_total', 'route="safe"', 'endpoint="ok"', 'status_class="2xx"')).toBe(3);
      // The first two calls tried 'down' first, then fell back; after two failures its breaker opened.
      expect(sumOf(m, 'gateway_fallback_attempts_total', 'route="safe"', 'endpoint="ok"', 'kind="fallback"')).toBe(2);
      expect(sumOf(m, 'gateway_upstream_attempts_total', 'endpoint="down"', 'outcome="GW_ERR_UPSTREAM_STATUS"')).toBe(2);
      expect(sumOf(m, 'gateway_pipeline_events_total', 'event="breaker_open"', 'route="safe"')).toBe(1);
      expect(sumOf(m, 'gateway_breaker_open', 'endpoint="down"')).toBe(1);
      expect(sumOf(m, 'gateway_pipeline_events_total', 'event="rate_limited"', 'endpoint="limited"')).toBe(1);
    } finally { await gw.close(); await up.close(); }
  });
});

describe('/metrics access', () => {
  it("needs the auth plugin's admin scope when keys are configured", async () => {
    const gw = await startTestGateway({
      env: { USER_KEY: 'gw-user-9f8e7d', ADMIN_KEY: 'gw-admin-1a2b3c' },
      config: {
        endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }],
        auth: { keys: [{ name: 'user', key: '$USER_KEY' }, { name: 'ops', key: '$ADMIN_KEY', admin: true }] },
        'request-log': { enabled: false },
      },
    });
    try {
      const as = (key?: string) => fetch(`${gw.url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      expect((await as()).status).toBe(401);
      expect((await as('gw-user-9f8e7d')).status).toBe(403);
      const ok = await as('gw-admin-1a2b3c');
      expect(ok.status).toBe(200);
      const m = await ok.text();
      expect(sumOf(m, 'gateway_errors_total', 'handler="/metrics"', 'code="GW_ERR_AUTH_MISSING"')).toBe(1);
      expect(sumOf(m, 'gateway_errors_total', 'handler="/metrics"', 'code="GW_ERR_AUTH_FORBIDDEN"')).toBe(1);
      expect(m).not.toContain('gw-admin-1a2b3c');
      const doc = await (await fetch(`${gw.url}/openapi.json`)).json() as { paths: Record<string, unknown> };
      expect(doc.paths['/metrics']).toBeDefined();
    } finally { await gw.close(); }
  });
});

describe('metrics.listen', () => {
  it('serves /metrics on its own address and not on the gateway port', async () => {
    const port = await freePort();
    const gw = await startTestGateway({ config: { endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }], metrics: { listen: `127.0.0.1:${port}` }, 'request-log': { enabled: false } } });
    try {
      expect((await postJson(`${gw.url}/endpoints/emb/invocations`, { input: 'x' })).status).toBe(200);
      expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      const m = await res.text();
      expect(sumOf(m, 'gateway_requests_total', 'endpoint="emb"')).toBe(1);
      // The 404 for /metrics on the gateway port is counted too, under no endpoint.
      expect(sumOf(m, 'gateway_requests_total', 'status_class="4xx"')).toBe(1);
      // A reload that moves the address keeps the running listener (and says so).
      const other = await freePort();
      writeFileSync(gw.configPath, stringify({ endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }], metrics: { listen: `127.0.0.1:${other}` }, 'request-log': { enabled: false } }));
      expect(await gw.gateway.reload()).toBe(true);
      expect(gw.logs.some((l) => l.includes(`metrics.listen changed to 127.0.0.1:${other}`))).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${other}/metrics`)).rejects.toThrow();
    } finally { await gw.close(); }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('refuses a listen value that is not host:port', async () => {
    await expect(startTestGateway({ config: { endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock' } }], metrics: { listen: 'nowhere' } } })).rejects.toThrow(/metrics.*listen|host:port/s);
  });
});
