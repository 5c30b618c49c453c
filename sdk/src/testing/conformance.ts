/**
 * Static checks every provider definition should pass; use them in a provider's own tests:
 * `expect(checkProvider(def)).toEqual([])`.
 */
import { isProviderDefinition, API_VERSION, type ProviderDefinition } from '../plugin.js';

export function checkProvider(def: unknown, manifestName?: string): string[] {
  const problems: string[] = [];
  if (!isProviderDefinition(def)) return ['not a provider definition (use defineProvider or openAICompatible)'];
  const p = def as ProviderDefinition;
  if (p.apiVersion !== API_VERSION) problems.push(`apiVersion ${p.apiVersion} is not ${API_VERSION}`);
  if (!p.displayName) problems.push('displayName is empty');
  if (manifestName && p.name !== manifestName && !p.aliases.includes(manifestName)) problems.push(`name '${p.name}' does not match the manifest entry '${manifestName}'`);
  if (p.requiresConfig && !p.configSchema) problems.push('requiresConfig is true but there is no configSchema');
  if (p.configSchema && (p.configSchema as { type?: string }).type !== 'object') problems.push("configSchema must have type 'object'");
  if (typeof p.create !== 'function') problems.push('create is not a function');
  return problems;
}
