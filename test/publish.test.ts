/**
 * Ready to publish: `npm pack --dry-run` every public workspace package and check what would ship.
 * - no tests, fixtures, test helpers or build-only files (tsconfig, .tsbuildinfo) ship;
 * - every shipped TypeScript source has its built module beside it in dist (no sources-only module);
 * - every `exports` target (every condition), `types`, `bin` and `gateway` module is in the tarball;
 * - plugins and providers take the sdk as a peer dependency with a semver range matching the sdk's
 *   version, never as a dependency of their own, and never depend on the kernel.
 * The dist files come from `npm run build` (`npm test` runs it first).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/gateway.js';

const run = promisify(execFile);

interface Pkg {
  name: string; version: string; private?: boolean; types?: string; main?: string;
  bin?: string | Record<string, string>; exports?: unknown; files?: string[];
  gateway?: { apiVersion: number; providers?: Record<string, string>; plugins?: Record<string, string> };
  dependencies?: Record<string, string>; peerDependencies?: Record<string, string>;
}

/** The workspace folders of the root package.json (`dir` or `dir/*` entries). */
function workspaces(): string[] {
  const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.flatMap((w) => (w.endsWith('/*')
    ? readdirSync(join(REPO_ROOT, w.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${w.slice(0, -2)}/${d.name}`)
    : [w])).filter((d) => existsSync(join(REPO_ROOT, d, 'package.json'))).sort();
}

const pkgOf = (dir: string): Pkg => JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as Pkg;
const PUBLIC = workspaces().filter((d) => !pkgOf(d).private);

/** Every string target of an `exports` value, with the conditions that lead to it. */
function targets(value: unknown, path: string[] = []): Array<{ where: string; target: string }> {
  if (typeof value === 'string') return [{ where: path.join(' > ') || '.', target: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => targets(v, [...path, String(i)]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => targets(v, [...path, k]));
  return [];
}

const norm = (p: string) => p.replace(/^\.\//, '');
const SDK_VERSION = pkgOf('sdk').version;

let shipped: Map<string, Set<string>>;
beforeAll(async () => {
  // The example provider is not in the root build until tsconfig.json references it; build it when missing.
  if (!existsSync(join(REPO_ROOT, 'examples/custom-provider/dist/index.js'))) {
    await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'examples/custom-provider'], { cwd: REPO_ROOT });
  }
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...PUBLIC.flatMap((d) => ['-w', d])], {
    cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  const packed = JSON.parse(stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
  shipped = new Map(packed.map((p) => [p.name, new Set(p.files.map((f) => f.path))]));
}, 60_000);

describe('publishable packages', () => {
  it('covers every public workspace package, built', () => {
    expect(PUBLIC).toContain('sdk');
    expect(PUBLIC).toContain('core');
    expect(PUBLIC).toContain('examples/custom-provider');
    expect([...shipped.keys()].sort()).toEqual(PUBLIC.map((d) => pkgOf(d).name).sort());
    const unbuilt = PUBLIC.filter((d) => !existsSync(join(REPO_ROOT, d, 'dist')));
    expect(unbuilt, 'run `npm run build` first (`npm test` does)').toEqual([]);
  });

  describe.each(PUBLIC)('%s', (dir) => {
    const pkg = pkgOf(dir);
    const files = () => shipped.get(pkg.name)!;

    it('ships no tests, fixtures, test helpers or build-only files', () => {
      const bad = [...files()].filter((f) => /(^|\/)(test|tests|__tests__|fixtures|bench)\//.test(f)
        || /\.(test|spec)\.[cm]?[jt]s$/.test(f) || /(^|\/)tsconfig[^/]*\.json$/.test(f) || /\.tsbuildinfo$/.test(f)
        || /^\.|\/\./.test(f) || /(^|\/)vitest[^/]*$/.test(f));
      expect(bad).toEqual([]);
      expect(files().has('package.json')).toBe(true);
    });

    it('ships no TypeScript source without its built module (no sources-only files)', () => {
      const sourcesOnly = [...files()].filter((f) => /^src\/.*\.ts$/.test(f) && !f.endsWith('.d.ts'))
        .filter((f) => !files().has(f.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js')));
      expect(sourcesOnly).toEqual([]);
    });

    it('has every exports target, types, bin and gateway module in the tarball', () => {
      const missing: string[] = [];
      expect(pkg.exports, 'an exports map').toBeTruthy();
      for (const { where, target } of targets(pkg.exports)) {
        if (target.includes('*')) {
          const re = new RegExp(`^${norm(target).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.+')}$`);
          if (![...files()].some((f) => re.test(f))) missing.push(`exports ${where}: ${target}`);
        } else if (!files().has(norm(target))) missing.push(`exports ${where}: ${target}`);
      }
      if (pkg.types && !files().has(norm(pkg.types))) missing.push(`types: ${pkg.types}`);
      if (pkg.main && !files().has(norm(pkg.main))) missing.push(`main: ${pkg.main}`);
      const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin ?? {};
      for (const [name, file] of Object.entries(bins)) if (!files().has(norm(file))) missing.push(`bin ${name}: ${file}`);
      for (const [kind, entries] of Object.entries({ providers: pkg.gateway?.providers, plugins: pkg.gateway?.plugins })) {
        for (const [name, file] of Object.entries(entries ?? {})) if (!files().has(norm(file))) missing.push(`gateway.${kind}.${name}: ${file}`);
      }
      expect(missing).toEqual([]);
      // TypeScript picks the first matching condition: `types` must come before `default`.
      for (const [sub, value] of Object.entries(pkg.exports as Record<string, unknown>)) {
        if (value && typeof value === 'object') {
          const keys = Object.keys(value);
          if (keys.includes('types') && keys.includes('default')) expect([sub, keys.indexOf('types') < keys.indexOf('default')]).toEqual([sub, true]);
        }
      }
    });

    it('names the sdk the right way: a peer range for plugins, a dependency of the kernel only', () => {
      if (dir === 'sdk') {
        expect(pkg.dependencies?.['@gatehouse/core']).toBeUndefined();
        expect(Object.keys(pkg.exports as object)).toEqual(expect.arrayContaining(['.', './testing', './client', './package.json']));
        return;
      }
      if (dir === 'core') {
        expect(pkg.dependencies?.['@gatehouse/sdk']).toBe(SDK_VERSION);
        return;
      }
      // A plugin or provider package: the host's sdk, through a semver range that admits this sdk.
      expect(pkg.gateway?.apiVersion).toBe(2);
      expect(pkg.peerDependencies?.['@gatehouse/sdk']).toBe(`^${SDK_VERSION}`);
      expect(pkg.dependencies?.['@gatehouse/sdk']).toBeUndefined();
      expect(pkg.dependencies?.['@gatehouse/core']).toBeUndefined();
      expect(pkg.peerDependencies?.['@gatehouse/core']).toBeUndefined();
      expect(files().has('README.md')).toBe(true);
      expect((pkg.exports as Record<string, unknown>)['./package.json']).toBe('./package.json');
    });
  });
});
