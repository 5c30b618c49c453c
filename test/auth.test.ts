/**
 * Gateway keys (plugins/auth) on the stock distribution: every surface and route refuses a call
 * without a valid key and serves an authorised one; the official OpenAI and Anthropic clients see
 * their own error classes; path tricks do not get around the endpoint list; keys never leak.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findKey } from '@gatehouse/plugin-auth';
import { postJson, startTestGateway, type TestGateway } from './helpers/gateway.js';

const KEY_A = 'gh-team-a-8c1f0d2e9b7a4c55';
const KEY_ADMIN = 'gh-admin-3f9e2d1c0b8a7f66';
const KEY_OLD = 'gh-expired-77aa99bb11cc22dd';
const KEY_LIMITED = 'gh-limited-5e5e5e5e5e5e5e5e';
const PROVIDER_KEY = 'sk-upstream-never-shown-1234567890';
const dir = mkdtempSync(join(tmpdir(), 'gh-auth-'));
const keyFile = join(dir, 'admin.key');
writeFileSync(keyFile, `${KEY_ADMIN}\n`);
const traces = join(dir, 'traces');

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const config = (keys: unknown[]) => ({
  endpoints: [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } },
    { name: 'secret-chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } },
    { name: 'x', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'mock-chat' } },
    { name: 'upstream', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o', config: { openai_api_key: PROVIDER_KEY, openai_api_base: 'http://127.0.0.1:9/v1' } } },
  ],
  routes: [{ name: 'laundry', task_type: 'llm/v1/chat', destinations: [{ name: 'secret-chat', traffic_percentage: 100 }], routing_strategy: 'TRAFFIC_SPLIT' }],
  auth: { keys },
  tracing: { sampling_rate: 1, slow_threshold_ms: 1000, dir: traces },
});
const keys = [
  { name: 'team-a', key: '$TEAM_A_KEY', endpoints: ['chat', 'upstream', 'laundry'] },
  { name: 'ops', key: keyFile, admin: true },
  { name: 'old', sha256: sha(KEY_OLD), expires_at: '2020-01-01T00:00:00Z' },
  { name: 'metered', sha256: sha(KEY_LIMITED), endpoints: ['chat'], limit: { calls: 3, renewal_period: 'day' } },
];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ config: config(keys), env: { TEAM_A_KEY: KEY_A }, watch: false, logLevel: 'debug' });
});
afterAll(async () => { await gw?.close(); });

const ask = { messages: [{ role: 'user', content: 'hi' }] };
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gw.url}${path}`, { headers });

describe('auth: who may call', () => {
  it('no key → 401 with WWW-Authenticate, in each surface\'s shape, before the body is read', async () => {
    const mlflow = await postJson(`${gw.url}/endpoints/chat/invocations`, ask);
    expect(mlflow.status).toBe(401);
    expect(mlflow.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"');
    expect(mlflow.json).toEqual({ detail: expect.stringContaining('A gateway key is required') });
    const openai = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', ...ask });
    expect(openai.status).toBe(401);
    expect(openai.json.error).toMatchObject({ message: expect.stringContaining('gateway key') });
    const anthropic = await postJson(`${gw.url}/v1/messages`, { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(anthropic.status).toBe(401);
    expect(anthropic.json).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    // Anthropic's SDK reads request-id (APIError.requestID): the guard's refusal carries it too.
    expect(anthropic.headers.get('request-id')).toBe(anthropic.headers.get('x-request-id'));
    expect(anthropic.json.request_id).toBe(anthropic.headers.get('x-request-id'));
    // A 15 MB body is refused on headers alone: 401, not 413.
    const huge = await postJson(`${gw.url}/endpoints/chat/invocations`, JSON.stringify({ ...ask, pad: 'x'.repeat(15 * 1024 * 1024) }));
    expect(huge.status).toBe(401);
  });

  it('an unknown key → 401; an expired key → 403; a key without access → 403; an allowed key → 200', async () => {
    expect((await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer('nope'))).status).toBe(401);
    expect((await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(KEY_OLD))).status).toBe(403);
    const denied = await postJson(`${gw.url}/endpoints/secret-chat/invocations`, ask, bearer(KEY_A));
    expect(denied.status).toBe(403);
    expect(denied.json.detail).toBe("The gateway key 'team-a' may not call 'secret-chat'.");
    expect((await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(KEY_A))).status).toBe(200);
    expect((await postJson(`${gw.url}/gateway/chat/invocations`, ask, { 'x-api-key': KEY_A })).status).toBe(200);
    expect((await postJson(`${gw.url}/v1/chat/completions`, { model: 'secret-chat', ...ask }, bearer(KEY_A))).status).toBe(403);
    expect((await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', ...ask }, bearer(KEY_A))).status).toBe(200);
  });

  it('path tricks are refused for a key without access', async () => {
    const tricks = [
      '/ENDPOINTS/secret-chat/invocations', '/endpoints/%73ecret-chat/invocations', '//endpoints/secret-chat/invocations',
      '/endpoints/secret-chat./invocations', '/endpoints/secret-chat/invocations/', '/gateway/secret-chat/invocations',
      '/Gateway/secret-chat/invocations', '/endpoints/laundry/invocations',
    ];
    for (const path of tricks) {
      const r = await postJson(`${gw.url}${path}`, ask, bearer(KEY_A));
      expect([path, r.status]).toEqual([path, expect.toSatisfy((s: number) => s === 403 || s === 404 || s === 307)]);
      expect([path, r.status === 200]).toEqual([path, false]);
    }
    expect((await postJson(`${gw.url}/v1/chat/completions`, { model: 'laundry', ...ask }, bearer(KEY_A))).status).toBe(403);
    expect((await postJson(`${gw.url}/endpoints/laundry/invocations`, ask, bearer(KEY_ADMIN))).status).toBe(200);
  });

  it('lists show only what the key may call; admin routes need the admin scope; /health stays open', async () => {
    const models = await (await get('/v1/models', bearer(KEY_A))).json() as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id).sort()).toEqual(['chat', 'upstream']);
    const eps = await (await get('/api/2.0/endpoints/', bearer(KEY_A))).json() as { endpoints: Array<{ name: string }> };
    expect(eps.endpoints.map((e) => e.name).sort()).toEqual(['chat', 'upstream']);
    expect((await get('/api/2.0/endpoints/secret-chat', bearer(KEY_A))).status).toBe(403);
    expect((await get('/v1/models')).status).toBe(401);
    expect((await get('/api/2.0/endpoints/')).status).toBe(401);
    for (const path of ['/metrics', '/api/2.0/endpoints/limits/chat', '/api/gatehouse/traces']) {
      expect([path, (await get(path)).status]).toEqual([path, 401]);
      expect([path, (await get(path, bearer(KEY_A))).status]).toEqual([path, 403]);
      expect([path, (await get(path, bearer(KEY_ADMIN))).status]).toEqual([path, 200]);
    }
    expect((await get('/health')).status).toBe(200);
    expect((await get('/docs')).status).toBe(200);
  });

  it('per-key limits admit exactly their calls', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(KEY_LIMITED))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it('the official clients get their own error classes', async () => {
    const good = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY_A, maxRetries: 0 });
    expect((await good.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).choices[0]!.message.content).toContain('hi');
    await expect(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'bad', maxRetries: 0 }).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(good.chat.completions.create({ model: 'secret-chat', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    const claude = new Anthropic({ baseURL: gw.url, apiKey: KEY_A, maxRetries: 0 });
    const msg = await claude.messages.create({ model: 'chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    await expect(new Anthropic({ baseURL: gw.url, apiKey: 'bad', maxRetries: 0 }).messages.create({ model: 'chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    await expect(claude.messages.create({ model: 'secret-chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  it('planted keys appear in 0 log lines, metrics and trace files; the key\'s name does', async () => {
    await postJson(`${gw.url}/endpoints/upstream/invocations`, ask, bearer(KEY_A));
    await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(`${KEY_A}x`));
    const metrics = await (await get('/metrics', bearer(KEY_ADMIN))).text();
    await vi.waitFor(() => expect(readdirSync(traces).length).toBeGreaterThan(0), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    const files: string[] = [];
    const walk = (d: string) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else files.push(readFileSync(p, 'utf8')); } };
    walk(traces);
    const everything = [gw.logs.join('\n'), metrics, ...files].join('\n');
    for (const planted of [KEY_A, KEY_ADMIN, KEY_OLD, KEY_LIMITED, PROVIDER_KEY]) expect(everything.includes(planted)).toBe(false);
    expect(gw.logs.join('\n')).toContain('team-a');
  });

  it('keys reload with the config: a removed key stops working on the next request', async () => {
    expect((await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(KEY_A))).status).toBe(200);
    writeFileSync(gw.configPath, JSON.stringify(config(keys.filter((k) => k.name !== 'team-a'))));
    expect(await gw.gateway.reload()).toBe(true);
    expect((await postJson(`${gw.url}/endpoints/chat/invocations`, ask, bearer(KEY_A))).status).toBe(401);
  });
});

describe('auth: the comparison does not leak length or prefix', () => {
  it('hashes the presented key to a fixed size and compares it with every entry, never stopping early', () => {
    let reads = 0;
    const entry = (key: string) => ({ name: key, admin: false, expiresAt: null, allowed: [], limit: null, get digest() { reads++; return createHash('sha256').update(key).digest(); } });
    const entries = ['alpha-key-0001', 'beta-key-00002', 'gamma-key-0003', 'delta-key-0004'].map(entry);
    for (const presented of ['alpha-key-0001', 'delta-key-0004', 'a', 'alpha-key-000', 'x'.repeat(10_000), '']) {
      reads = 0;
      const found = findKey(entries as never, presented);
      expect(reads).toBe(entries.length);
      expect(found?.name ?? null).toBe(['alpha-key-0001', 'delta-key-0004'].includes(presented) ? presented : null);
    }
  });
});
