/**
 * The docs page in a real browser (Debian's chromium, driven by playwright-core): it renders from
 * local files only, lists the configured endpoints, and "Try it out" sends real requests
 * through the gateway, streaming included (MLflow 3.11 shapes: `provider`, `"usage": null`).
 * Screenshots go to test-output/docs-ui/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, startTestGateway, type TestGateway } from './helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(REPO_ROOT, 'test-output', 'docs-ui');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`docs-ui browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!hasChromium && !process.env.CI)('docs-ui in chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  const offsite: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    // The quickstart config as shipped: three mock endpoints.
    gw = await startTestGateway({ config: readFileSync(join(REPO_ROOT, 'examples/quickstart/config.yaml'), 'utf8'), logLevel: 'warn' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (r) => { if (!r.url().startsWith(gw.url) && !r.url().startsWith('data:')) offsite.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('renders the page from local files and lists the endpoints', async () => {
    await page.goto(`${gw.url}/`);
    expect(page.url()).toBe(`${gw.url}/docs`);
    expect(await page.title()).toBe('Gatehouse');
    await page.locator('.opblock').first().waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('.info .title').innerText()).toContain('Gatehouse');
    const paths = await page.locator('.opblock-summary-path').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
    expect(paths).toEqual(expect.arrayContaining([
      '/endpoints/chat/invocations', '/endpoints/completions/invocations', '/endpoints/embeddings/invocations',
      '/health', '/v1/chat/completions', '/v1/models',
    ]));
    expect(await page.locator('.errors-wrapper').count()).toBe(0);
    // The header links the tracing plugin's trace browser exactly when it is served.
    const traces = await fetch(`${gw.url}/docs/traces`);
    await traces.arrayBuffer();
    expect(await page.locator('header.gatehouse a[href="docs/traces"]').count()).toBe(traces.status === 200 ? 1 : 0);
    await page.screenshot({ path: join(OUT, 'page.png') });
  });

  it('"Try it out" on the chat endpoint shows the mock\'s answer', async () => {
    const op = page.locator('#operations-Endpoints-invoke_chat');
    await op.locator('.opblock-summary').first().click();
    await op.locator('button.try-out__btn').click();
    await op.locator('button.execute').click();
    const body = op.locator('.live-responses-table .response-col_description pre').first();
    await expect.poll(() => body.innerText(), { timeout: 10_000 }).toContain('This is a mock response from Gatehouse');
    expect(await body.innerText()).toContain('"object": "chat.completion"');
    expect(await body.innerText()).toContain('"provider": "mock"');
    expect(await op.locator('.live-responses-table tbody .response-col_status').first().innerText()).toContain('200');
    await op.screenshot({ path: join(OUT, 'try-it.png') });
    await op.locator('.live-responses-table').first().screenshot({ path: join(OUT, 'try-it-response.png') });
  });

  it('"Try it out" with the streaming example shows the server-sent events', async () => {
    const op = page.locator('#operations-Endpoints-invoke_chat');
    await op.locator('select.examples-select-element').selectOption('stream');
    await expect.poll(() => op.locator('textarea.body-param__text').inputValue()).toContain('"stream": true');
    await op.locator('button.execute').click();
    const body = op.locator('.live-responses-table .response-col_description pre').first();
    await expect.poll(() => body.innerText(), { timeout: 10_000 }).toContain('chat.completion.chunk');
    const text = await body.innerText();
    expect(text).toContain('data: {');
    expect(text).toContain('"finish_reason":"stop"');
    expect(text).toContain('"usage":null,"provider":"mock"');
    await op.screenshot({ path: join(OUT, 'try-it-stream.png') });
    await op.locator('.live-responses-table').first().screenshot({ path: join(OUT, 'try-it-stream-response.png') });
  });

  it('asked nothing of any other host and logged no errors', () => {
    expect(offsite).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
