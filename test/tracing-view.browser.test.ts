/**
 * The trace view (/docs/traces) in a real browser (Debian's chromium through playwright-core):
 * the list of kept traces, and the waterfall of a fallback call — root, stages, one bar per
 * upstream attempt, event markers — with a span's attributes, inputs and outputs on click.
 * Screenshots go to test-output/tracing/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startFakeUpstream, startTestGateway, type FakeUpstream, type TestGateway } from '@gatehouse/sdk/testing';
import { REPO_ROOT } from './helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(REPO_ROOT, 'test-output', 'tracing');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`tracing view browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!hasChromium && !process.env.CI)('trace view in chromium', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let browser: BrowserContext;
  let page: Page;
  let dir: string;
  let profile: string;
  let traceId: string;
  const offsite: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tracing-view-'));
    profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
    up = await startFakeUpstream({
      'POST /ok/v1/chat/completions': { delayMs: 30, json: { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'MLflow is an open source platform for the ML lifecycle.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 11, total_tokens: 15 } } },
      'POST /down/v1/chat/completions': { delayMs: 15, status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } },
    });
    const ep = (name: string, base: string) => ({ name, endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4o-mini', config: { openai_api_key: 'sk-test-view-000000000000', openai_api_base: `${up.url}/${base}/v1` } } });
    gw = await startTestGateway({
      hostDir: REPO_ROOT,
      listen: true,
      config: {
        endpoints: [ep('primary', 'down'), ep('backup', 'ok')],
        routes: [{ name: 'assistant', task_type: 'llm/v1/chat', routing_strategy: 'FALLBACK', destinations: [{ name: 'primary' }, { name: 'backup' }], retries: { attempts: 1, backoff_ms: 5, max_backoff_ms: 5 } }],
        tracing: { sampling_rate: 1, slow_threshold_ms: 1000, dir, flush_interval_ms: 10 },
      },
    });
    for (const content of ['Explain MLflow', 'What is tracing?']) {
      const r = await fetch(`${gw.url}/endpoints/backup/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content }] }) });
      expect(r.status).toBe(200);
    }
    const r = await fetch(`${gw.url}/endpoints/assistant/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'Explain MLflow tracing' }], temperature: 0.3 }) });
    expect(r.status).toBe(200);
    traceId = r.headers.get('traceparent')!.split('-')[1]!;
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('request', (q) => { if (!q.url().startsWith(gw.url!) && !q.url().startsWith('data:')) offsite.push(q.url()); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  it('lists the kept traces, newest first', async () => {
    await page.goto(`${gw.url}/docs/traces`);
    expect(await page.title()).toBe('Gatehouse traces');
    const rows = page.locator('#trace-list tbody tr[data-trace-id]');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    expect(await rows.first().getAttribute('data-trace-id')).toBe(traceId);
    expect(await rows.first().innerText()).toContain('assistant');
    await page.screenshot({ path: join(OUT, 'list.png') });
  });

  it("draws a trace's waterfall: root, stages, one bar per attempt, event markers", async () => {
    await page.locator(`#trace-list tr[data-trace-id="${traceId}"]`).click();
    await page.locator('#waterfall .wf-row').first().waitFor({ timeout: 10_000 });
    expect(page.url()).toContain(`#${traceId}`);
    const trace: any = await (await fetch(`${gw.url}/api/gatehouse/traces/${traceId}`)).json();
    const rows = page.locator('#waterfall .wf-row');
    expect(await rows.count()).toBe(trace.spans.length);
    const names = await page.locator('#waterfall .wf-row .wf-name').allInnerTexts();
    expect(names[0]).toContain('POST /endpoints/:name/invocations');
    expect(names.filter((n) => n.includes('chat gpt-4o-mini'))).toHaveLength(3); // two tries at primary, one at backup
    expect(names).toEqual(expect.arrayContaining([expect.stringContaining('stage invoke')]));
    // Attempts are indented under the invoke stage, which is under the root.
    const pad = async (text: string) => page.locator('#waterfall .wf-row .wf-name', { hasText: text }).first().evaluate((e) => parseFloat((globalThis as any).getComputedStyle(e).paddingLeft));
    expect(await pad('chat gpt-4o-mini')).toBeGreaterThan(await pad('stage invoke'));
    expect(await pad('stage invoke')).toBeGreaterThan(await pad('POST /endpoints'));
    expect(await page.locator('#waterfall .wf-bar.error').count()).toBe(2);
    const markers = await page.locator('#waterfall .wf-event').evaluateAll((els) => els.map((e) => e.getAttribute('data-event')));
    expect(markers).toEqual(expect.arrayContaining(['retry', 'fallback_triggered']));
    // Bars sit where their spans start: the last attempt starts after the first.
    const lefts = await page.locator('#waterfall .wf-row', { hasText: 'chat gpt-4o-mini' }).locator('.wf-bar').evaluateAll((els) => els.map((e) => parseFloat((e as any).style.left)));
    expect(lefts[2]!).toBeGreaterThan(lefts[0]!);
    expect(await page.locator('#trace-summary').innerText()).toContain(traceId);
    await page.screenshot({ path: join(OUT, 'waterfall.png'), fullPage: true });
  });

  it("shows a span's attributes, inputs and outputs on click", async () => {
    await page.locator('#waterfall .wf-row', { hasText: 'POST /endpoints' }).click();
    await expect.poll(() => page.locator('#span-detail pre.inputs').innerText()).toContain('Explain MLflow tracing');
    expect(await page.locator('#span-detail pre.outputs').innerText()).toContain('MLflow is an open source platform');
    await page.locator('#waterfall .wf-row', { hasText: 'chat gpt-4o-mini' }).last().click();
    const detail = page.locator('#span-detail');
    await expect.poll(() => detail.innerText()).toContain('gen_ai.usage.output_tokens');
    const text = await detail.innerText();
    expect(text).toContain('gen_ai.provider.name');
    expect(text).toContain('gen_ai.request.temperature');
    expect(text).toContain('backup');
    await page.locator('#waterfall .wf-row', { hasText: 'chat gpt-4o-mini' }).first().click();
    await expect.poll(() => detail.innerText()).toContain('GW_ERR_UPSTREAM');
    await page.screenshot({ path: join(OUT, 'span-detail.png'), fullPage: true });
  });

  it('filters the list by status', async () => {
    await page.locator('select[name=status]').selectOption('ERROR');
    await page.locator('#filters button[type=submit]').click();
    await expect.poll(() => page.locator('#trace-list tbody').innerText()).toContain('No traces match');
    await page.locator('select[name=status]').selectOption('OK');
    await page.locator('#filters button[type=submit]').click();
    await expect.poll(() => page.locator('#trace-list tbody tr[data-trace-id]').count()).toBe(3);
  });

  it('asked nothing of any other host and logged no errors', () => {
    expect(offsite).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
