import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  API_VERSION, isPluginDefinition, isProviderDefinition, type PluginDefinition, type ProviderDefinition,
} from '@gatehouse/sdk';
import type { ManifestEntry } from './discovery.js';
import { StartupError } from '../config/errors.js';

const cache = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Where a manifest's module file is really loaded from. A test runner that runs TypeScript sources
 * installs a mapping (`dist` → `src`) under this global before any gateway starts.
 */
const RESOLVER = Symbol.for('gatehouse.moduleResolver');
const moduleFile = (file: string): string => ((globalThis as Record<symbol, ((f: string) => string) | undefined>)[RESOLVER] ?? String)(file);

async function importEntry(entry: ManifestEntry): Promise<Record<string, unknown>> {
  if (entry.definition) return { default: entry.definition };
  const file = moduleFile(entry.file);
  if (!existsSync(file)) {
    throw new StartupError('GW_ERR_PLUGIN_LOAD', [`${entry.kind} '${entry.name}' of package '${entry.packageName}': module ${entry.file} does not exist (is the package built?)`]);
  }
  let p = cache.get(file);
  if (!p) { p = import(pathToFileURL(file).href) as Promise<Record<string, unknown>>; cache.set(file, p); }
  try { return await p; } catch (e) {
    cache.delete(file);
    throw new StartupError('GW_ERR_PLUGIN_LOAD', [`${entry.kind} '${entry.name}' of package '${entry.packageName}' is installed but failed to import: ${(e as Error).message}`]);
  }
}

function pick<T extends { name: string }>(mod: Record<string, unknown>, entry: ManifestEntry, is: (x: unknown) => x is T, names: (d: T) => string[]): T {
  const candidates = [mod.default, ...Object.values(mod)].filter(is);
  const found = candidates.find((d) => names(d).includes(entry.name));
  if (!found) {
    throw new StartupError('GW_ERR_PLUGIN_LOAD', [`package '${entry.packageName}' declares ${entry.kind} '${entry.name}', but its module exports no ${entry.kind} definition with that name (found: ${candidates.map((c) => c.name).join(', ') || 'none'})`]);
  }
  if ((found as unknown as { apiVersion: number }).apiVersion !== API_VERSION) {
    throw new StartupError('GW_ERR_PLUGIN_API_VERSION', [`${entry.kind} '${entry.name}' of package '${entry.packageName}' was built for apiVersion ${(found as unknown as { apiVersion: number }).apiVersion}; this gateway speaks ${API_VERSION}`]);
  }
  return found;
}

export async function loadProvider(entry: ManifestEntry): Promise<ProviderDefinition> {
  return pick(await importEntry(entry), entry, isProviderDefinition, (d) => [d.name, ...d.aliases]);
}

export async function loadPlugin(entry: ManifestEntry): Promise<PluginDefinition> {
  return pick(await importEntry(entry), entry, isPluginDefinition, (d) => [d.name]);
}

/** Order plugins by declared dependencies (ties by name), never by discovery order. */
export function orderPlugins(defs: PluginDefinition[], installed: Set<string>): PluginDefinition[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const problems: string[] = [];
  for (const d of defs) {
    for (const dep of d.dependsOn) {
      if (!byName.has(dep)) {
        problems.push(installed.has(dep)
          ? `plugin '${d.name}' depends on plugin '${dep}', which is disabled in the config`
          : `plugin '${d.name}' depends on plugin '${dep}', which is not installed`);
      }
    }
  }
  if (problems.length) throw new StartupError('GW_ERR_PLUGIN_DEPENDENCY', problems);
  const out: PluginDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (d: PluginDefinition, trail: string[]) => {
    const s = state.get(d.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new StartupError('GW_ERR_PLUGIN_DEPENDENCY', [`plugin dependency cycle: ${[...trail, d.name].join(' -> ')}`]);
    state.set(d.name, 'visiting');
    for (const dep of [...d.dependsOn].sort()) visit(byName.get(dep)!, [...trail, d.name]);
    state.set(d.name, 'done');
    out.push(d);
  };
  // Names are kebab-case ASCII (the manifest says so): `<` orders them; `localeCompare` would load ICU's collator (about 10 ms).
  for (const d of [...defs].sort((a, b) => (a.name < b.name ? -1 : 1))) visit(d, []);
  return out;
}
