/**
 * The npm path, as a user walks it: `npm pack` the sdk, the kernel, the surface plugins and the
 * example third-party provider; install the tarballs into a fresh application outside the repo;
 * `gatehouse plugins list` shows the provider with its package and version; `gatehouse start`
 * serves a chat through it. Then a second package declaring the same provider name, and a
 * package built for apiVersion 1, are refused at start-up before any of their code runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHouseServer, type HouseServer } from '../examples/custom-provider/test/model-server.js';
import { REPO_ROOT } from './helpers/gateway.js';
import { freePort } from './helpers/processes.js';

const run = promisify(execFile);
const KEY = 'house-npm-path-key-0123456789';
const PACKED = ['sdk', 'core', 'plugins/mlflow', 'plugins/openai-compat', 'examples/custom-provider'];

let work: string;
let app: string;
let packs: Record<string, string>;
let house: HouseServer;
let installLog = '';

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** `npm install` from the cache; when the cache lacks some package metadata, allow the registry for just those. */
async function install(cwd: string, extra: string[] = []): Promise<void> {
  try {
    await npm(['install', '--offline', '--no-audit', '--no-fund', ...extra], cwd);
    installLog += 'offline ';
  } catch {
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...extra], cwd);
    installLog += 'prefer-offline ';
  }
}

/** A small package that declares a provider and whose module throws if anything imports it. */
function thirdParty(name: string, gateway: unknown): string {
  const dir = join(work, 'src', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.1.0', type: 'module', exports: { '.': './index.js', './package.json': './package.json' }, gateway, peerDependencies: { '@gatehouse/sdk': '^0.2.0' } }, null, 2));
  writeFileSync(join(dir, 'index.js'), `throw new Error('the code of ${name} ran');\n`);
  return dir;
}

function gatehouse(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(app, 'node_modules', '@gatehouse', 'core', 'bin', 'gatehouse.js'), ...args], {
    cwd: app, env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return Object.assign(child, { output: () => out, exited });
}

/** Run `gatehouse start` where start-up must fail; returns the exit code and everything printed. */
async function failedStart(): Promise<{ code: number | null; output: string }> {
  const child = gatehouse(['start', '--config-path', 'config.yaml', '--port', String(await freePort())], { HOUSE_API_KEY: KEY });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gatehouse-npm-path-'));
  app = join(work, 'my-gateway');
  mkdirSync(app);
  // The example is not part of the stock build; build it when its output is missing.
  if (!existsSync(join(REPO_ROOT, 'examples/custom-provider/dist/index.js'))) {
    await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'examples/custom-provider'], { cwd: REPO_ROOT });
  }
  const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', work, ...PACKED.flatMap((w) => ['-w', w])], REPO_ROOT)) as Array<{ name: string; filename: string }>;
  packs = Object.fromEntries(packed.map((p) => [p.name, join(work, p.filename)]));
  house = await startHouseServer({ key: KEY });
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'my-gateway', version: '1.0.0', private: true, type: 'module',
    dependencies: Object.fromEntries(Object.entries(packs).map(([name, file]) => [name, `file:${file}`])),
  }, null, 2));
  writeFileSync(join(app, 'config.yaml'), [
    'endpoints:',
    '  - name: chat',
    '    endpoint_type: llm/v1/chat',
    '    model:',
    '      provider: house',
    '      name: house-echo-1',
    '      config:',
    '        house_api_key: $HOUSE_API_KEY',
    `        house_api_base: ${house.url}`,
    '  - name: embeddings',
    '    endpoint_type: llm/v1/embeddings',
    '    model:',
    '      provider: house-class',
    '      name: house-echo-1',
    '      config:',
    '        house_api_key: $HOUSE_API_KEY',
    `        house_api_base: ${house.url}`,
    '',
  ].join('\n'));
  await install(app);
}, 120_000);

afterAll(async () => {
  await house?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a provider package installed with npm into a fresh application', () => {
  it('packs exactly the five packages, outside the repo', () => {
    expect(Object.keys(packs).sort()).toEqual(['@gatehouse/core', '@gatehouse/plugin-mlflow', '@gatehouse/plugin-openai-compat', '@gatehouse/sdk', 'gatehouse-provider-house']);
    expect(app.startsWith(REPO_ROOT)).toBe(false);
    expect(installLog).not.toBe('');
  });

  it('`npx gatehouse plugins list` shows the provider with its package and version', async () => {
    const out = await run('npx', ['--no-install', 'gatehouse', 'plugins', 'list'], { cwd: app, env: { ...process.env, npm_config_update_notifier: 'false' } }).then((r) => r.stdout);
    expect(out).toContain(`host package: ${app}`);
    const rows = out.split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toContainEqual(['house', 'provider', 'gatehouse-provider-house', '1.0.0']);
    expect(rows).toContainEqual(['house-class', 'provider', 'gatehouse-provider-house', '1.0.0']);
    expect(rows).toContainEqual(['mlflow', 'plugin', '@gatehouse/plugin-mlflow', '0.2.0']);
  });

  it('`gatehouse start` serves a chat through it (object style) and embeddings (class style)', async () => {
    const port = await freePort();
    const child = gatehouse(['start', '--config-path', 'config.yaml', '--host', '127.0.0.1', '--port', String(port)], { HOUSE_API_KEY: KEY });
    try {
      const base = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 150 && !up && child.exitCode === null; i++) {
        up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect(up, child.output()).toBe(true);
      const res = await fetch(`${base}/endpoints/chat/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hello from npm' }] }) });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const body = JSON.parse(text);
      expect(body.object).toBe('chat.completion');
      expect(body.choices[0].message.content).toBe('Echo: hello from npm');
      expect(house.received.at(-1)!.authorization).toBe(`House ${KEY}`);
      const list = await (await fetch(`${base}/api/2.0/endpoints/`)).json() as { endpoints: Array<{ name: string; model: { provider: string } }> };
      expect(list.endpoints.map((e) => [e.name, e.model.provider])).toEqual([['chat', 'house'], ['embeddings', 'house-class']]);
      const emb = await fetch(`${base}/endpoints/embeddings/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: ['a', 'b'] }) });
      const embBody = await emb.text();
      expect(emb.status, embBody).toBe(200);
      expect(JSON.parse(embBody).data.map((d: { index: number; embedding: number[] }) => [d.index, d.embedding.length])).toEqual([[0, 4], [1, 4]]);
      expect(text + embBody + child.output()).not.toContain(KEY);
    } finally {
      child.kill('SIGTERM');
      await child.exited;
    }
  });

  it('a second package declaring the same provider name, and one built for apiVersion 1, are refused before any of their code runs', async () => {
    const clone = thirdParty('gatehouse-provider-house-clone', { apiVersion: 2, providers: { house: './index.js' } });
    const old = thirdParty('gatehouse-provider-old', { apiVersion: 1, providers: { old: './index.js' } });
    const tarballs = JSON.parse(await npm(['pack', '--json', '--pack-destination', work, clone, old], work)) as Array<{ filename: string }>;
    await install(app, tarballs.map((t) => join(work, t.filename)));

    const both = await failedStart();
    expect(both.code, both.output).toBe(2);
    expect(both.output).toMatch(/duplicate provider name 'house': declared by both 'gatehouse-provider-house' \(.*\) and 'gatehouse-provider-house-clone'|duplicate provider name 'house': declared by both 'gatehouse-provider-house-clone' \(.*\) and 'gatehouse-provider-house'/);
    expect(both.output).not.toContain('the code of');

    await npm(['uninstall', '--offline', '--no-audit', '--no-fund', 'gatehouse-provider-house-clone'], app).catch(() => npm(['uninstall', '--prefer-offline', '--no-audit', '--no-fund', 'gatehouse-provider-house-clone'], app));
    const versions = await failedStart();
    expect(versions.code, versions.output).toBe(2);
    expect(versions.output).toContain("package 'gatehouse-provider-old' declares gateway.apiVersion 1, but this gateway speaks apiVersion 2");
    expect(versions.output).not.toContain('duplicate');
    expect(versions.output).not.toContain('the code of');
  }, 60_000);
});
