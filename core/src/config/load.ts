import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isNode } from 'yaml';
import {
  ENDPOINT_TYPES, type EndpointType, type PluginDefinition, type ProviderDefinition, type RouteInfo,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
} from '@gatehouse/sdk';
import { normaliseName, type Discovery, type ManifestEntry } from '../plugins/discovery.js';
import { loadPlugin, loadProvider } from '../plugins/load.js';
import { ajvProblems, ConfigError, type ConfigProblem } from './errors.js';
import { getPath, resolveKey, setPath } from './keys.js';
import { parseLimit, type ParsedLimit } from './limit.js';

export interface EndpointConfig {
  name: string;
  endpoint_type: EndpointType;
  model: { provider: string; name: string | null; config: Record<string, unknown> };
  limit: { calls: number; key: string | null; renewal_period: string } | null;
  parsedLimit: ParsedLimit | null;
  timeoutMs: number;
  provider: ProviderDefinition;
}

export interface ActivePlugin { def: PluginDefinition; entry: ManifestEntry; config: Record<string, unknown> }

export interface GatewayConfig {
  file: string;
  endpoints: EndpointConfig[];
  routes: RouteInfo[];
  /** Enabled feature plugins with their validated sections (not yet ordered). */
  plugins: ActivePlugin[];
  /** Resolved key values, to scrub from anything shown or logged. */
  secrets: string[];
  warnings: string[];
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, useDefaults: true });
const compiled = new WeakMap<object, ValidateFunction>();
const compile = (schema: object): ValidateFunction => {
  let v = compiled.get(schema);
  if (!v) { v = ajv.compile(schema); compiled.set(schema, v); }
  return v;
};

const KERNEL_KEYS = ['endpoints', 'routes', 'timeout_seconds'];
const NAME_RE = /^[\p{L}\p{N}_\-.]+$/u;
/** Resolved fields whose values are scrubbed from responses and logs (a region or a role ARN is not). */
const SECRET_FIELD = /key|secret|token|password|credential/i;

const endpointSchema = {
  type: 'object',
  required: ['name', 'endpoint_type', 'model'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    endpoint_type: { type: 'string' },
    route_type: {},
    model: {
      type: 'object',
      required: ['provider'],
      additionalProperties: false,
      properties: { provider: { type: 'string' }, name: { type: ['string', 'null'] }, config: { type: ['object', 'null'] } },
    },
    limit: {
      type: ['object', 'null'],
      required: ['calls', 'renewal_period'],
      additionalProperties: false,
      properties: { calls: { type: 'integer' }, renewal_period: { type: 'string' }, key: { type: ['string', 'null'] } },
    },
    timeout_seconds: { type: 'number', exclusiveMinimum: 0 },
  },
};

const routeSchema = {
  type: 'object',
  required: ['name', 'task_type', 'destinations'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    task_type: { type: 'string' },
    destinations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object', required: ['name', 'traffic_percentage'], additionalProperties: false,
        properties: { name: { type: 'string' }, traffic_percentage: { type: 'integer' } },
      },
    },
    routing_strategy: { const: 'TRAFFIC_SPLIT' },
  },
};

function topSchema(pluginNames: string[]) {
  const props: Record<string, unknown> = {
    endpoints: { type: 'array', items: endpointSchema },
    routes: { type: ['array', 'null'], items: routeSchema },
    timeout_seconds: { type: 'number', exclusiveMinimum: 0 },
  };
  for (const n of pluginNames) props[n] = { type: ['object', 'null'] };
  return { type: 'object', required: ['endpoints'], additionalProperties: false, properties: props };
}

/** Read, parse and validate a config file. Throws ConfigError listing every problem. */
export async function loadConfigFile(file: string, discovery: Discovery, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new ConfigError(file, [{ path: [], message: `${file} does not exist` }]);
  let text: string;
  try { text = readFileSync(abs, 'utf8'); } catch (e) {
    throw new ConfigError(file, [{ path: [], message: `The file at ${file} is not a valid yaml file: ${(e as Error).message}` }]);
  }
  return loadConfigText(text, file, discovery, env);
}

/** Parse and validate config text. */
export async function loadConfigText(text: string, file: string, discovery: Discovery, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const where = (path: Array<string | number>): { line?: number; col?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) { const p = lc.linePos(node.range[0]); return { line: p.line, col: p.col }; }
    }
    return {};
  };
  const fail = (problems: ConfigProblem[]): never => {
    throw new ConfigError(file, problems.map((p) => ({ ...where(p.path), ...p })));
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(file, [{ path: [], message: `The file at ${file} is not a valid yaml file: ${e.message.split('\n')[0]}`, line: pos?.line, col: pos?.col }]);
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || raw === undefined) fail([{ path: [], message: `The file at ${file} is empty; expected a mapping with an 'endpoints' list` }]);
  if (typeof raw !== 'object' || Array.isArray(raw)) fail([{ path: [], message: `expected a mapping with an 'endpoints' list at the top of ${file}` }]);
  const cfg = raw as Record<string, any>;
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const pluginNames = [...discovery.plugins.keys()];

  // MLflow's deprecated key, reported with its own message rather than as an unknown key.
  (Array.isArray(cfg.endpoints) ? cfg.endpoints : []).forEach((ep: any, i: number) => {
    if (ep && typeof ep === 'object' && 'route_type' in ep) {
      problems.push({ path: ['endpoints', i, 'route_type'], message: "The 'route_type' configuration key is not supported in the configuration file. Use 'endpoint_type' instead." });
    }
  });
  const validateTop = compile(topSchema(pluginNames));
  if (!validateTop(cfg)) {
    for (const p of ajvProblems(validateTop.errors, [], cfg)) {
      if (p.path.length === 1 && typeof p.path[0] === 'string' && p.message.startsWith('unknown key')) {
        p.message = `unknown top-level key '${p.path[0]}'; expected one of: ${[...KERNEL_KEYS, ...pluginNames].join(', ')} (a plugin's section is named after an installed plugin)`;
      }
      if (p.path[p.path.length - 1] === 'route_type') continue;
      problems.push(p);
    }
  }
  if (problems.length) fail(problems);

  const endpointsRaw = (cfg.endpoints ?? []) as any[];
  const routesRaw = (cfg.routes ?? []) as any[];

  // Names: unique across endpoints and routes, URL-safe.
  const names = new Map<string, Array<string | number>>();
  const checkName = (name: string, path: Array<string | number>) => {
    if (!NAME_RE.test(name)) {
      problems.push({ path, message: `The route name provided contains disallowed characters for a url endpoint. '${name}' is invalid. Names cannot contain spaces or any non alphanumeric characters other than hyphen, underscore and dot.` });
    }
    if (names.has(name)) {
      problems.push({ path, message: `Duplicate names found in endpoint / route configurations. Please remove the duplicate endpoint / route name from the configuration to ensure that endpoints / routes are created properly. ('${name}' is also used at ${formatPathShort(names.get(name)!)})` });
    } else names.set(name, path);
  };
  endpointsRaw.forEach((ep, i) => checkName(ep.name, ['endpoints', i, 'name']));
  routesRaw.forEach((r, i) => checkName(r.name, ['routes', i, 'name']));

  const typeOk = (t: string, path: Array<string | number>) => {
    if ((ENDPOINT_TYPES as readonly string[]).includes(t)) return true;
    problems.push({ path, message: `The route_type '${t}' is not supported. Expected one of: ${ENDPOINT_TYPES.join(', ')}` });
    return false;
  };

  const globalTimeout = typeof cfg.timeout_seconds === 'number' ? cfg.timeout_seconds * 1000 : DEFAULT_UPSTREAM_TIMEOUT_MS;
  const secrets: string[] = [];
  const endpoints: EndpointConfig[] = [];
  const deprecatedSeen = new Set<string>();

  for (const [i, ep] of endpointsRaw.entries()) {
    const base = ['endpoints', i];
    typeOk(ep.endpoint_type, [...base, 'endpoint_type']);
    const providerRaw: string = ep.model.provider;
    const entry = discovery.providers.get(normaliseName(providerRaw));
    if (!entry) {
      const installed = [...discovery.providers.values()].map((e) => `${e.name} (${e.packageName})`).sort();
      problems.push({ path: [...base, 'model', 'provider'], message: `The provider '${providerRaw}' is not supported. Installed providers: ${installed.join(', ') || 'none'}` });
      continue;
    }
    let def: ProviderDefinition;
    try { def = await loadProvider(entry); } catch (e) {
      problems.push({ path: [...base, 'model', 'provider'], message: (e as Error).message });
      continue;
    }
    if (def.deprecated && !deprecatedSeen.has(entry.name)) {
      deprecatedSeen.add(entry.name);
      warnings.push(`provider '${entry.name}' is deprecated: ${def.deprecated}`);
    }
    let config = ep.model.config as Record<string, unknown> | null | undefined;
    if (config == null) {
      if (def.requiresConfig) {
        problems.push({ path: [...base, 'model'], message: `A config must be supplied when setting a provider. The provider entry for ${entry.name} is incorrect.` });
        continue;
      }
      config = {};
    }
    config = structuredClone(config);
    const configPath = [...base, 'model', 'config'];
    if (def.configSchema) {
      const v = compile(def.configSchema);
      if (!v(config)) { problems.push(...ajvProblems(v.errors, configPath, config)); continue; }
    }
    const keyFields = def.keyFields ?? Object.keys(config).filter((k) => k.endsWith('_api_key'));
    let keysOk = true;
    for (const field of keyFields) {
      const value = getPath(config, field);
      if (value === undefined) continue;
      const r = resolveKey(value, env);
      if (r.error) { problems.push({ path: [...configPath, ...field.split('.')], message: r.error }); keysOk = false; continue; }
      setPath(config, field, r.value);
      if (SECRET_FIELD.test(field.split('.').pop()!) && r.value && r.value.trim().length >= 6) secrets.push(r.value, r.value.trim());
    }
    if (!keysOk) continue;
    const model = { name: ep.model.name ?? null, provider: entry.name };
    if (def.validate && (ENDPOINT_TYPES as readonly string[]).includes(ep.endpoint_type)) {
      const extra = def.validate(config, model, ep.endpoint_type);
      for (const m of extra === undefined ? [] : Array.isArray(extra) ? extra : [extra]) problems.push({ path: configPath, message: m });
    }
    let parsedLimit: ParsedLimit | null = null;
    if (ep.limit) {
      parsedLimit = parseLimit(ep.limit.calls, ep.limit.renewal_period);
      if (!parsedLimit) {
        problems.push({ path: [...base, 'limit'], message: 'Failed to parse the rate limit configuration. Please make sure limit.calls is a positive number and limit.renewal_period is a right granularity (second, minute, hour, day, month or year, optionally with a multiple, e.g. "5 minutes")' });
      }
    }
    endpoints.push({
      name: ep.name,
      endpoint_type: ep.endpoint_type,
      model: { provider: entry.name, name: model.name, config },
      limit: ep.limit ? { calls: ep.limit.calls, key: ep.limit.key ?? null, renewal_period: ep.limit.renewal_period } : null,
      parsedLimit,
      timeoutMs: typeof ep.timeout_seconds === 'number' ? ep.timeout_seconds * 1000 : globalTimeout,
      provider: def,
    });
  }

  // Traffic routes (MLflow's collision rules).
  const byName = new Map(endpointsRaw.map((e) => [e.name, e]));
  const routeNames = new Set(routesRaw.map((r) => r.name));
  const routes: RouteInfo[] = [];
  for (const [i, r] of routesRaw.entries()) {
    const base = ['routes', i];
    typeOk(r.task_type, [...base, 'task_type']);
    let sum = 0;
    for (const [j, d] of (r.destinations as any[]).entries()) {
      const dpath = [...base, 'destinations', j];
      const target = byName.get(d.name);
      if (!target) {
        problems.push({ path: [...dpath, 'name'], message: `The route destination name must be a endpoint name, but the route '${r.name}' has an invalid destination name '${d.name}'.${routeNames.has(d.name) ? ' (It names a route; routes cannot nest.)' : ''}` });
      } else if (target.endpoint_type !== r.task_type) {
        problems.push({ path: [...dpath, 'name'], message: `The route destination endpoint types in the route '${r.name}' must have endpoint type '${r.task_type}' but got endpoint type '${target.endpoint_type}'.` });
      }
      if (d.traffic_percentage < 0 || d.traffic_percentage > 100) {
        problems.push({ path: [...dpath, 'traffic_percentage'], message: 'The route destination traffic percentage must between 0 and 100.' });
      }
      sum += d.traffic_percentage;
    }
    if (sum !== 100) {
      problems.push({ path: [...base, 'destinations'], message: `For each route configuration, the traffic percentage sum of destinations must be 100, but got invalid configuration of route '${r.name}'. (The sum is ${sum}.)` });
    }
    routes.push({ name: r.name, task_type: r.task_type, destinations: r.destinations.map((d: any) => ({ name: d.name, traffic_percentage: d.traffic_percentage })), routing_strategy: r.routing_strategy ?? 'TRAFFIC_SPLIT' });
  }

  // Feature plugins: active unless their section says `enabled: false`.
  const plugins: ActivePlugin[] = [];
  for (const [name, entry] of discovery.plugins) {
    const section = (cfg[name] ?? {}) as Record<string, unknown>;
    if (section.enabled === false) continue;
    if (section.enabled !== undefined && section.enabled !== true) {
      problems.push({ path: [name, 'enabled'], message: 'expected true or false' });
      continue;
    }
    let def: PluginDefinition;
    try { def = await loadPlugin(entry); } catch (e) { problems.push({ path: cfg[name] ? [name] : [], message: (e as Error).message }); continue; }
    const { enabled: _enabled, ...rest } = section;
    const own = structuredClone(rest);
    if (def.configSchema) {
      const v = compile(def.configSchema);
      if (!v(own)) { problems.push(...ajvProblems(v.errors, [name], own)); continue; }
    } else if (Object.keys(own).length) {
      problems.push({ path: [name], message: `plugin '${name}' takes no configuration besides 'enabled'` });
      continue;
    }
    plugins.push({ def, entry, config: own });
  }

  if (problems.length) fail(problems);
  return { file, endpoints, routes, plugins, secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length), warnings };
}

function formatPathShort(path: Array<string | number>): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}
