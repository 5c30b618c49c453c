import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { discover, loadConfigText, StartupError } from '../src/index.js';
import { postJson, REPO_ROOT, startTestGateway } from '../../test/helpers/gateway.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('plugin discovery', () => {
  it('two packages declaring the same provider name stop start-up, naming both, before either is imported', async () => {
    (globalThis as any).__gatehouseFixtureImported = undefined;
    let err: unknown;
    try { discover(fixture('dup-host')); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).code).toBe('GW_ERR_PLUGIN_DUPLICATE');
    expect((err as Error).message).toMatch(/duplicate provider name 'acme': declared by both 'acme-provider-a' .* and 'acme-provider-b'/);
    // Starting a whole gateway fails the same way, and still no plugin code ran.
    await expect(startTestGateway({ config: 'endpoints: []\n', hostDir: fixture('dup-host') })).rejects.toThrow(/acme-provider-a.*acme-provider-b/);
    expect((globalThis as any).__gatehouseFixtureImported).toBeUndefined();
  });

  it('invalid manifests are reported together, with the package name', () => {
    let err: StartupError | undefined;
    try { discover(fixture('bad-manifest-host')); } catch (e) { err = e as StartupError; }
    expect(err?.problems.map((p) => p.message).join('\n')).toContain("package 'bad-plugin': invalid manifest");
    expect(err?.problems.some((p) => p.message.includes('kebab-case'))).toBe(true);
    expect(err?.problems.some((p) => p.message.includes('must NOT have additional properties'))).toBe(true);
  });

  it('tells "installed but its import failed" apart, and loads a plain-JS third-party provider', async () => {
    const d = discover(fixture('broken-host'));
    expect([...d.providers.keys()].sort()).toEqual(['broken', 'echo']);
    const broken = `endpoints:\n  - {name: b, endpoint_type: llm/v1/completions, model: {provider: broken, config: {}}}\n`;
    await expect(loadConfigText(broken, 'c.yaml', d, {})).rejects.toThrow(/provider 'broken' of package 'broken-provider' is installed but failed to import/);
    // The broken package is only imported when the config uses it: an echo-only config starts fine.
    const gw = await startTestGateway({ config: { endpoints: [{ name: 'e', endpoint_type: 'llm/v1/completions', model: { provider: 'echo', config: { prefix: '> ' } } }] }, hostDir: fixture('broken-host') });
    try {
      const r = await postJson(`${gw.url}/endpoints/e/invocations`, { prompt: 'hi' });
      expect(r.status).toBe(200);
      expect(r.json.choices[0].text).toBe('> hi');
      const list = (await (await fetch(`${gw.url}/api/2.0/endpoints/e`)).json() as any);
      expect(list.model.provider).toBe('echo');
      const chat = await postJson(`${gw.url}/endpoints/e/invocations`, { messages: [] });
      expect(chat.status).toBe(422);
    } finally { await gw.close(); }
  });

  it('the stock distribution discovers every first-party package', () => {
    const d = discover(REPO_ROOT);
    expect(d.providers.get('openai')?.packageName).toBe('@gatehouse/provider-openai');
    expect(d.providers.get('mock')?.packageName).toBe('@gatehouse/provider-mock');
    expect(d.providers.get('amazon-bedrock')?.packageName).toBe('@gatehouse/provider-bedrock');
  });
});

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}
const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);

describe('package boundaries', () => {
  it('core/src imports no plugin', () => {
    const intoPlugins = (f: string, i: string) => /@gatehouse\/(provider|plugin)-/.test(i) || (i.startsWith('.') && !relative(join(REPO_ROOT, 'plugins'), join(f, '..', i)).startsWith('..'));
    const bad = files(join(REPO_ROOT, 'core/src')).flatMap((f) => importsOf(f).filter((i) => intoPlugins(f, i)).map((i) => `${relative(REPO_ROOT, f)} -> ${i}`));
    expect(bad).toEqual([]);
  });
  it('every plugin imports @gatehouse/sdk and never @gatehouse/core or another package by path', () => {
    const pluginsDir = join(REPO_ROOT, 'plugins');
    const problems: string[] = [];
    for (const name of readdirSync(pluginsDir)) {
      const src = join(pluginsDir, name, 'src');
      let all: string[];
      try { all = files(src); } catch { continue; }
      if (!all.length) continue;
      const imports = all.flatMap((f) => importsOf(f).map((i) => ({ f, i })));
      if (!imports.some(({ i }) => i === '@gatehouse/sdk')) problems.push(`${name}: does not import @gatehouse/sdk`);
      for (const { f, i } of imports) {
        if (i.startsWith('@gatehouse/') && i !== '@gatehouse/sdk' && i !== '@gatehouse/sdk/testing') problems.push(`${relative(REPO_ROOT, f)} -> ${i}`);
        if (i.startsWith('.') && relative(join(pluginsDir, name), join(f, '..', i)).startsWith('..')) problems.push(`${relative(REPO_ROOT, f)} -> ${i} (outside its package)`);
      }
      const pkg = JSON.parse(readFileSync(join(pluginsDir, name, 'package.json'), 'utf8'));
      if (pkg.dependencies?.['@gatehouse/core'] || pkg.peerDependencies?.['@gatehouse/core']) problems.push(`${name}: package.json depends on @gatehouse/core`);
    }
    expect(problems).toEqual([]);
  });
  it('the sdk depends on neither tsyringe nor decorators', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'sdk/package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('tsyringe');
    const src = files(join(REPO_ROOT, 'sdk/src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(src).not.toMatch(/from 'tsyringe'|reflect-metadata|^\s*@\w+\(/m);
  });
});

describe('peerDependencies on the sdk', () => {
  it('ranges are checked as npm checks them', async () => {
    const { satisfies } = await import('../src/plugins/discovery.js');
    const cases: Array<[string, string, boolean]> = [
      ['0.2.0', '^0.2.0', true], ['0.3.0', '^0.2.0', false], ['0.2.5', '~0.2.0', true], ['0.3.0', '~0.2.0', false],
      ['1.4.0', '^1.2.0', true], ['2.0.0', '^1.2.0', false], ['0.2.0', '0.2.0', true], ['0.2.1', '0.2.0', false],
      ['0.2.0', '>=0.1.0', true], ['0.2.0', '^0.1.0 || ^0.2.0', true], ['0.2.0', '*', true],
    ];
    for (const [v, r, want] of cases) expect([v, r, satisfies(v, r)]).toEqual([v, r, want]);
  });
});
