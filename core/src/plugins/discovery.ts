import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import semverSatisfies from 'semver/functions/satisfies.js';
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { API_VERSION } from '@gatehouse/sdk';
import { ajv, StartupError } from '../config/errors.js';

export type EntryKind = 'provider' | 'plugin';

/** One `gateway.providers` / `gateway.plugins` entry of an installed package. */
export interface ManifestEntry {
  kind: EntryKind;
  name: string;
  packageName: string;
  version: string;
  packageDir: string;
  /** Absolute path of the module to import. */
  file: string;
  /** A definition given in memory (the test gateway), used instead of importing `file`. */
  definition?: unknown;
}

export interface Discovery {
  hostDir: string;
  entries: ManifestEntry[];
  /** Provider entries by normalised name (lower case, `_` as `-`). */
  providers: Map<string, ManifestEntry>;
  plugins: Map<string, ManifestEntry>;
}


const SDK_VERSION: string = (() => {
  try { return (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@gatehouse/sdk/package.json'), 'utf8')) as { version: string }).version; } catch { return '0.0.0'; }
})();

/** npm's own range check (a peer dependency's `^0.2.0`, `>=0.2 <1`, `||` ...). */
export const satisfies = (version: string, range: string): boolean => semverSatisfies(version, range);

/** Provider names match case-insensitively with `-` and `_` alike, as MLflow's do. */
export const normaliseName = (s: string): string => s.trim().toLowerCase().replace(/_/g, '-');

const NAME = '^[a-z0-9]+(-[a-z0-9]+)*$';
const validateManifest = ajv.compile({
  type: 'object',
  required: ['apiVersion'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'integer' },
    providers: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: { type: 'string' } },
    plugins: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: { type: 'string' } },
  },
});

function findPackageDir(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Read the host package's dependencies, keep those with a `gateway` manifest, validate every
 * manifest and check every name for duplicates — all before any plugin code is imported.
 */
export function discover(hostDir: string): Discovery {
  const hostPkgFile = join(hostDir, 'package.json');
  if (!existsSync(hostPkgFile)) throw new StartupError('GW_ERR_PLUGIN_MANIFEST', [`no package.json in ${hostDir}: the host package lists the plugins to load`]);
  const host = JSON.parse(readFileSync(hostPkgFile, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  const deps = [...new Set([...Object.keys(host.dependencies ?? {}), ...Object.keys(host.optionalDependencies ?? {})])].sort();
  const problems: string[] = [];
  const entries: ManifestEntry[] = [];
  const seenDirs = new Set<string>();
  for (const dep of deps) {
    const dir = findPackageDir(hostDir, dep);
    if (!dir) {
      if (!(dep in (host.optionalDependencies ?? {}))) problems.push(`dependency '${dep}' of ${hostPkgFile} is not installed (run npm install)`);
      continue;
    }
    if (seenDirs.has(dir)) continue;
    seenDirs.add(dir);
    let pkg: { name?: string; version?: string; gateway?: unknown };
    try { pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')); } catch (e) {
      problems.push(`package '${dep}': cannot read package.json (${(e as Error).message})`);
      continue;
    }
    if (pkg.gateway === undefined) continue;
    const packageName = pkg.name ?? dep;
    if (!validateManifest(pkg.gateway)) {
      for (const err of validateManifest.errors ?? []) {
        const where = `gateway${err.instancePath.replace(/\//g, '.')}`;
        const what = err.keyword === 'pattern' || err.keyword === 'propertyNames'
          ? `names must be kebab-case (${(err.params as { propertyName?: string }).propertyName ?? ''})`.replace(' ()', '')
          : err.message;
        problems.push(`package '${packageName}': invalid manifest at ${where}: ${what}`);
      }
      continue;
    }
    const manifest = pkg.gateway as { apiVersion: number; providers?: Record<string, string>; plugins?: Record<string, string> };
    if (manifest.apiVersion !== API_VERSION) {
      problems.push(`package '${packageName}' declares gateway.apiVersion ${manifest.apiVersion}, but this gateway speaks apiVersion ${API_VERSION}`);
      continue;
    }
    const wants = (pkg as { peerDependencies?: Record<string, string> }).peerDependencies?.['@gatehouse/sdk'];
    if (wants && !satisfies(SDK_VERSION, wants)) {
      problems.push(`package '${packageName}' needs @gatehouse/sdk ${wants}, but this gateway has @gatehouse/sdk ${SDK_VERSION}`);
      continue;
    }
    for (const kind of ['provider', 'plugin'] as const) {
      for (const [name, rel] of Object.entries(manifest[`${kind}s`] ?? {})) {
        const file = resolve(dir, rel);
        const inside = relative(dir, file);
        if (isAbsolute(rel) || inside.startsWith('..') || inside.split(sep).includes('..')) {
          problems.push(`package '${packageName}': ${kind} '${name}' points outside the package (${rel})`);
          continue;
        }
        entries.push({ kind, name, packageName, version: pkg.version ?? '0.0.0', packageDir: dir, file });
      }
    }
  }
  // Duplicates first: they are the most confusing failure when two packages disagree.
  const duplicates: string[] = [];
  const providers = new Map<string, ManifestEntry>();
  const plugins = new Map<string, ManifestEntry>();
  for (const e of entries) {
    const table = e.kind === 'provider' ? providers : plugins;
    const key = e.kind === 'provider' ? normaliseName(e.name) : e.name;
    const prior = table.get(key);
    if (prior && prior.packageName !== e.packageName) {
      duplicates.push(`duplicate ${e.kind} name '${e.name}': declared by both '${prior.packageName}' (${prior.packageDir}) and '${e.packageName}' (${e.packageDir})`);
    } else if (!prior) table.set(key, e);
  }
  if (duplicates.length) throw new StartupError('GW_ERR_PLUGIN_DUPLICATE', [...duplicates, ...problems]);
  if (problems.length) throw new StartupError('GW_ERR_PLUGIN_MANIFEST', problems);
  return { hostDir, entries, providers, plugins };
}

/**
 * The host package: the nearest package.json upward from `from` that depends on @gatehouse/core
 * (the stock distribution, or a trimmed gateway), or undefined.
 */
export function findHostDir(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const f = join(dir, 'package.json');
    if (existsSync(f)) {
      try {
        const pkg = JSON.parse(readFileSync(f, 'utf8')) as { dependencies?: Record<string, string> };
        if (pkg.dependencies?.['@gatehouse/core']) return dir;
      } catch { /* keep looking */ }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
