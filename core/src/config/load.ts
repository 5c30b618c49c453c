import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import {
  DEFAULT_UPSTREAM_TIMEOUT_MS, ENDPOINT_TYPES, isGatewayError, requestSchemas, validateRequest, type EndpointInfo, type EndpointType,
  type PluginDefinition, type ProviderDefinition, type RouteInfo,
} from '@gatehouse/sdk';
import { normaliseName, type Discovery, type ManifestEntry } from '../plugins/discovery.js';
import { loadPlugin, loadProvider } from '../plugins/load.js';
import { ajv, ajvProblems, compileSchema, configError, didYouMean, type ConfigProblem } from './errors.js';
import { getPath, resolveKey, setPath } from './keys.js';

export interface EndpointConfig {
  info: EndpointInfo;
  /** `model.config` without the default request parameters, keys resolved. */
  providerConfig: Record<string, unknown>;
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
  /** Every installed feature plugin's name, enabled or not. */
  installed: string[];
  /** Resolved key values, to scrub from anything shown or logged. */
  secrets: string[];
  warnings: string[];
  /** The kernel's HTTP edge limits (`server:`). */
  server: { maxBodyBytes: number; bodyTimeoutMs: number; idleGcMs: number };
}

type Path = Array<string | number>;
type Raw = Record<string, any>;

const compiled = new WeakMap<object, ValidateFunction>();
const compile = (schema: object, owner: string): ValidateFunction => {
  let v = compiled.get(schema);
  if (!v) { v = compileSchema(schema, owner); compiled.set(schema, v); }
  return v;
};

const NAME_RE = /^[\p{L}\p{N}_\-.]+$/u;
/** Resolved fields whose values are scrubbed from responses and logs (a region or a role ARN is not). */
const SECRET_FIELD = /key|secret|token|password|credential/i;
/** Which first-party package serves a config key, for the message when none installed does. */
const SERVED_BY: Record<string, string> = {
  limit: '@gatehouse/plugin-rate-limit', 'rate-limit': '@gatehouse/plugin-rate-limit', routes: '@gatehouse/plugin-routing',
  routing: '@gatehouse/plugin-routing', TRAFFIC_SPLIT: '@gatehouse/plugin-routing', FALLBACK: '@gatehouse/plugin-routing',
  retries: '@gatehouse/plugin-routing', tracing: '@gatehouse/plugin-tracing', metrics: '@gatehouse/plugin-metrics',
  auth: '@gatehouse/plugin-auth', 'request-log': '@gatehouse/plugin-request-log', 'docs-ui': '@gatehouse/plugin-docs-ui',
};
const servedBy = (key: string) => (SERVED_BY[key] ? `; install ${SERVED_BY[key]}` : '');

const KERNEL_ENDPOINT_KEYS = {
  name: { type: 'string' },
  endpoint_type: { type: 'string' },
  model: {
    type: 'object', required: ['provider'], additionalProperties: false,
    properties: { provider: { type: 'string' }, name: { type: ['string', 'null'] }, config: { type: ['object', 'null'] } },
  },
  timeout_seconds: { type: 'number', exclusiveMinimum: 0 },
};
const KERNEL_ROUTE_KEYS = {
  name: { type: 'string' },
  task_type: { type: 'string' },
  destinations: { type: 'array', minItems: 1 },
  routing_strategy: { type: 'string' },
};
const KERNEL_TOP_KEYS = ['endpoints', 'routes', 'timeout_seconds', 'server'];
const SERVER_SCHEMA = {
  type: ['object', 'null'], additionalProperties: false,
  properties: {
    max_body_bytes: { type: 'integer', minimum: 1024 }, body_timeout_seconds: { type: 'number', exclusiveMinimum: 0 }, idle_gc_seconds: { type: 'number', minimum: 0 },
  },
};

/** The slices installed plugins own, and who owns each. */
interface Owned { endpoint: Map<string, string>; route: Map<string, string>; destination: Map<string, string>; strategies: Map<string, string> }

/** One schema per distinct plugin set, compiled once (not on every reload). */
const schemaCache = new Map<string, { top: ValidateFunction; endpoint: ValidateFunction; route(): ValidateFunction; destination(): ValidateFunction }>();
function schemasFor(plugins: PluginDefinition[], sections: string[]) {
  const key = `${plugins.map((p) => p.name).sort().join(',')}|${[...sections].sort().join(',')}`;
  let s = schemaCache.get(key);
  if (s) return s;
  const object = (props: object, required: string[]) => ({ type: 'object', required, additionalProperties: false, properties: props });
  /** The kernel's keys of a slice plus every plugin's; when that does not compile, the first plugin whose keys do not is named. */
  const sliced = (k: 'endpoint' | 'route' | 'destination', kernel: object, required: string[]) => {
    try { return ajv.compile(object(Object.assign({ ...kernel }, ...plugins.map((p) => p.config?.[k] ?? {})), required)); } catch (e) {
      for (const p of plugins) if (p.config?.[k]) compileSchema(object(p.config[k], []), `plugin '${p.name}' (its ${k} keys)`);
      throw e;
    }
  };
  let route: ValidateFunction | undefined;
  let destination: ValidateFunction | undefined;
  const top: Record<string, unknown> = { endpoints: { type: 'array' }, routes: { type: ['array', 'null'] }, timeout_seconds: { type: 'number', exclusiveMinimum: 0 }, server: SERVER_SCHEMA };
  for (const name of sections) top[name] = { type: ['object', 'null'] };
  s = {
    top: ajv.compile(object(top, ['endpoints'])),
    endpoint: sliced('endpoint', { ...KERNEL_ENDPOINT_KEYS, route_type: {} }, ['name', 'endpoint_type', 'model']),
    // Compiled when a config first has a route (about 17 ms of a start without one).
    route: () => (route ??= sliced('route', KERNEL_ROUTE_KEYS, ['name', 'task_type', 'destinations'])),
    destination: () => (destination ??= sliced('destination', { name: { type: 'string' }, traffic_percentage: { type: 'integer' } }, ['name'])),
  };
  schemaCache.set(key, s);
  return s;
}

/** Read, parse and validate a config file. Throws a StartupError listing every problem. */
export async function loadConfigFile(file: string, discovery: Discovery, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw configError(file, [{ path: [], message: `${file} does not exist` }]);
  let text: string;
  try { text = readFileSync(abs, 'utf8'); } catch (e) {
    throw configError(file, [{ path: [], message: `The file at ${file} is not a valid yaml file: ${(e as Error).message}` }]);
  }
  return loadConfigText(text, file, discovery, env);
}

function parseYaml(text: string, file: string): { raw: unknown; doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    const line = pos ? text.split(/\r?\n/)[pos.line - 1] : undefined;
    const shown = line !== undefined ? `\n    ${line}\n    ${' '.repeat(Math.max(0, pos!.col - 1))}^` : '';
    throw configError(file, [{ path: [], message: `The file at ${file} is not a valid yaml file: ${e.message.split('\n')[0]}${shown}`, line: pos?.line, col: pos?.col }]);
  }
  return { raw: doc.toJS() as unknown, doc, lc };
}

/** Parse and validate config text: every problem of the file in one report. */
export async function loadConfigText(text: string, file: string, discovery: Discovery, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  const { raw, doc, lc } = parseYaml(text, file);
  const where = (path: Path): { line?: number; col?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) { const p = lc.linePos(node.range[0]); return { line: p.line, col: p.col }; }
    }
    return {};
  };
  const fail = (problems: ConfigProblem[]): never => { throw configError(file, problems.map((p) => ({ ...where(p.path), ...p }))); };
  if (raw === null || raw === undefined) fail([{ path: [], message: `The file at ${file} is empty; expected a mapping with an 'endpoints' list` }]);
  if (typeof raw !== 'object' || Array.isArray(raw)) fail([{ path: [], message: `expected a mapping with an 'endpoints' list at the top of ${file}` }]);
  const cfg = raw as Raw;
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const secrets: string[] = [];

  const plugins = await loadPlugins(cfg, discovery, problems);
  const defs = plugins.map((p) => p.def);
  const schemas = schemasFor(defs, [...discovery.plugins.keys()]);
  const owned = ownership(defs);
  checkTop(cfg, schemas.top, [...KERNEL_TOP_KEYS, ...discovery.plugins.keys()], problems);

  const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
  const endpointsRaw = list(cfg.endpoints);
  const routesRaw = list(cfg.routes);
  checkNames(endpointsRaw, routesRaw, problems);
  const timeout = typeof cfg.timeout_seconds === 'number' ? cfg.timeout_seconds * 1000 : DEFAULT_UPSTREAM_TIMEOUT_MS;
  const deprecatedSeen = new Set<string>();
  const endpoints: EndpointConfig[] = [];
  for (const [i, ep] of endpointsRaw.entries()) {
    const e = await loadEndpoint(ep, ['endpoints', i], { discovery, schemas, owned, env, timeout, problems, secrets, warnings, deprecatedSeen });
    if (e) endpoints.push(e);
  }
  const routeNames = new Set(routesRaw.map((r) => r.name));
  const routes = routesRaw.map((r, i) => loadRoute(r, ['routes', i], endpointsRaw, routeNames, schemas, owned, problems)).filter((r): r is RouteInfo => r !== null);
  for (const p of plugins) pluginSection(p, cfg, env, problems, secrets);
  if (!problems.length) {
    const infos = endpoints.map((e) => e.info);
    for (const p of plugins) {
      try { for (const pr of p.def.config?.check?.({ section: p.config, endpoints: infos, routes, env }) ?? []) problems.push(pr); } catch (e) {
        problems.push({ path: [p.def.name], message: `plugin '${p.def.name}' failed to check the config: ${(e as Error).message}` });
      }
    }
  }
  if (problems.length) fail(problems);
  const s = cfg.server ?? {};
  const server = { maxBodyBytes: s.max_body_bytes ?? 16 * 1024 * 1024, bodyTimeoutMs: (s.body_timeout_seconds ?? 30) * 1000, idleGcMs: (s.idle_gc_seconds ?? 60) * 1000 };
  return { file, endpoints, routes, plugins, installed: [...discovery.plugins.keys()], secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length), warnings, server };
}

/** Feature plugins: active unless their section says `enabled: false`; loaded first, since their schemas shape the rest. */
async function loadPlugins(cfg: Raw, discovery: Discovery, problems: ConfigProblem[]): Promise<ActivePlugin[]> {
  const out: ActivePlugin[] = [];
  for (const [name, entry] of discovery.plugins) {
    const section = (cfg[name] && typeof cfg[name] === 'object' ? cfg[name] : {}) as Raw;
    if (section.enabled === false) continue;
    if (section.enabled !== undefined && section.enabled !== true) { problems.push({ path: [name, 'enabled'], message: 'expected true or false' }); continue; }
    try { out.push({ def: await loadPlugin(entry), entry, config: {} }); } catch (e) {
      problems.push({ path: cfg[name] ? [name] : [], message: (e as Error).message });
    }
  }
  return out;
}

function ownership(defs: PluginDefinition[]): Owned {
  const o: Owned = { endpoint: new Map(), route: new Map(), destination: new Map(), strategies: new Map() };
  for (const d of defs) {
    for (const k of ['endpoint', 'route', 'destination'] as const) for (const key of Object.keys(d.config?.[k] ?? {})) o[k].set(key, d.name);
    for (const s of d.config?.strategies ?? []) o.strategies.set(s, d.name);
  }
  return o;
}

function checkTop(cfg: Raw, validate: ValidateFunction, known: string[], problems: ConfigProblem[]) {
  if (validate(cfg)) return;
  for (const p of ajvProblems(validate.errors, [], cfg)) {
    if (p.path.length === 1 && typeof p.path[0] === 'string' && p.message.startsWith('unknown key')) {
      const key = p.path[0];
      const near = didYouMean(key, known);
      p.message = SERVED_BY[key]
        ? `no installed plugin handles the top-level section '${key}'${servedBy(key)}`
        : `unknown top-level key '${key}'${near ? ` (did you mean '${near}'?)` : ''}; expected one of: ${known.join(', ')} (a plugin's section is named after an installed plugin)`;
    }
    problems.push(p);
  }
}

/** Names: unique across endpoints and routes, URL-safe (MLflow's messages). */
function checkNames(endpoints: Raw[], routes: Raw[], problems: ConfigProblem[]) {
  const names = new Map<string, Path>();
  const check = (name: unknown, path: Path) => {
    if (typeof name !== 'string') return;
    if (!NAME_RE.test(name)) {
      problems.push({ path, message: `The route name provided contains disallowed characters for a url endpoint. '${name}' is invalid. Names cannot contain spaces or any non alphanumeric characters other than hyphen, underscore and dot.` });
    }
    const prior = names.get(name);
    if (prior) {
      problems.push({ path, message: `Duplicate names found in endpoint / route configurations. Please remove the duplicate endpoint / route name from the configuration to ensure that endpoints / routes are created properly. ('${name}' is also used at ${prior.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[')})` });
    } else names.set(name, path);
  };
  endpoints.forEach((ep, i) => check(ep.name, ['endpoints', i, 'name']));
  routes.forEach((r, i) => check(r.name, ['routes', i, 'name']));
}

const typeOk = (t: unknown, path: Path, problems: ConfigProblem[]): t is EndpointType => {
  if ((ENDPOINT_TYPES as readonly unknown[]).includes(t)) return true;
  if (t !== undefined) problems.push({ path, message: `The route_type '${t}' is not supported. Expected one of: ${ENDPOINT_TYPES.join(', ')}` });
  return false;
};

/** Keys of a slice no installed plugin owns, with the package that would serve them. */
function unowned(obj: Raw, kernel: object, owned: Map<string, string>, path: Path, what: string, problems: ConfigProblem[]): Set<string> {
  const bad = new Set<string>();
  for (const k of Object.keys(obj)) {
    if (k in kernel || owned.has(k) || k === 'route_type') continue;
    if (SERVED_BY[k]) { problems.push({ path: [...path, k], message: `no installed plugin handles '${k}' in ${what}${servedBy(k)} (a setting that is silently ignored is worse than an error)` }); bad.add(k); }
  }
  return bad;
}

function schemaProblems(v: ValidateFunction, obj: Raw, path: Path, skip: Set<string>, problems: ConfigProblem[]) {
  if (v(obj)) return true;
  for (const p of ajvProblems(v.errors, path, obj)) {
    if (skip.has(String(p.path[path.length])) || p.path[p.path.length - 1] === 'route_type') continue;
    // A misspelling of a key only a plugin serves: say which package would serve the intended key.
    const key = String(p.path[p.path.length - 1]);
    const near = p.message.startsWith('unknown key') && !p.message.includes('did you mean') ? didYouMean(key, Object.keys(SERVED_BY)) : undefined;
    if (near) p.message = p.message.replace(`unknown key '${key}'`, `unknown key '${key}' (did you mean '${near}'?${servedBy(near).replace(';', ',')})`);
    problems.push(p);
  }
  return false;
}

/** Request parameters given in `model.config`: endpoint-level defaults, validated like a request's own. */
function takeDefaults(type: EndpointType, config: Raw, path: Path, problems: ConfigProblem[]): Record<string, unknown> {
  const props = (requestSchemas[type] as { properties?: Record<string, unknown> }).properties ?? {};
  const skip = new Set(['messages', 'prompt', 'input', 'stream', 'model', 'stream_options']);
  const defaults: Record<string, unknown> = {};
  for (const k of Object.keys(config)) if (k in props && !skip.has(k)) { defaults[k] = config[k]; delete config[k]; }
  if (!Object.keys(defaults).length) return defaults;
  const probe = type === 'llm/v1/chat' ? { messages: [{ role: 'user', content: 'x' }] } : type === 'llm/v1/completions' ? { prompt: 'x' } : { input: 'x' };
  try { validateRequest(type, { ...probe, ...defaults }); } catch (e) {
    const detail = isGatewayError(e) && Array.isArray(e.detail) ? e.detail as Array<{ loc: Path; msg: string }> : [{ loc: [], msg: (e as Error).message }];
    for (const d of detail) problems.push({ path: [...path, ...d.loc.filter((l) => l !== 'body')], message: `${d.msg} (a default request parameter)` });
  }
  return defaults;
}

interface EndpointDeps {
  discovery: Discovery; schemas: ReturnType<typeof schemasFor>; owned: Owned; env: NodeJS.ProcessEnv; timeout: number;
  problems: ConfigProblem[]; secrets: string[]; warnings: string[]; deprecatedSeen: Set<string>;
}

async function loadEndpoint(ep: Raw, base: Path, d: EndpointDeps): Promise<EndpointConfig | null> {
  const { problems } = d;
  if ('route_type' in ep) problems.push({ path: [...base, 'route_type'], message: "The 'route_type' configuration key is not supported in the configuration file. Use 'endpoint_type' instead." });
  const skip = unowned(ep, KERNEL_ENDPOINT_KEYS, d.owned.endpoint, base, 'an endpoint', problems);
  // Keep going after a shape problem (an unknown key, say): the provider's checks below report theirs in the same run.
  schemaProblems(d.schemas.endpoint, ep, base, skip, problems);
  const typeValid = typeOk(ep.endpoint_type, [...base, 'endpoint_type'], problems);
  if (!ep.model || typeof ep.model !== 'object' || typeof ep.model.provider !== 'string' || (ep.model.config != null && typeof ep.model.config !== 'object')) return null;
  const providerRaw: string = ep.model.provider;
  const entry = d.discovery.providers.get(normaliseName(providerRaw));
  if (!entry) {
    const installed = [...d.discovery.providers.values()].map((e) => `${e.name} (${e.packageName})`).sort();
    problems.push({ path: [...base, 'model', 'provider'], message: `The provider '${providerRaw}' is not supported. Installed providers: ${installed.join(', ') || 'none'}` });
    return null;
  }
  let def: ProviderDefinition;
  try { def = await loadProvider(entry); } catch (e) { problems.push({ path: [...base, 'model', 'provider'], message: (e as Error).message }); return null; }
  if (def.deprecated && !d.deprecatedSeen.has(entry.name)) { d.deprecatedSeen.add(entry.name); d.warnings.push(`provider '${entry.name}' is deprecated: ${def.deprecated}`); }
  let config = ep.model.config as Raw | null | undefined;
  if (config == null) {
    if (def.requiresConfig) { problems.push({ path: [...base, 'model'], message: `A config must be supplied when setting a provider. The provider entry for ${entry.name} is incorrect.` }); return null; }
    config = {};
  }
  config = structuredClone(config);
  const configPath = [...base, 'model', 'config'];
  const defaults = typeValid ? takeDefaults(ep.endpoint_type, config, configPath, problems) : {};
  if (def.configSchema && !schemaProblems(compile(def.configSchema, `provider '${entry.name}' (package ${entry.packageName})`), config, configPath, new Set(), problems)) return null;
  const keyFields = def.keyFields ?? Object.keys(config).filter((k) => k.endsWith('_api_key'));
  if (!resolveSecrets(config, keyFields, configPath, d.env, problems, d.secrets)) return null;
  const model = { name: ep.model.name ?? null, provider: entry.name };
  if (!typeValid) return null;
  if (def.validate) {
    const extra = def.validate(config, model, ep.endpoint_type);
    for (const m of extra === undefined ? [] : Array.isArray(extra) ? extra : [extra]) problems.push({ path: configPath, message: m });
  }
  const lacking = capabilityProbe(def, config, model, ep.name, ep.endpoint_type);
  if (lacking) problems.push({ path: [...base, 'endpoint_type'], message: lacking });
  const slices: Record<string, unknown> = {};
  for (const k of d.owned.endpoint.keys()) if (ep[k] !== undefined) slices[k] = ep[k];
  const limit = ep.limit && typeof ep.limit === 'object' ? { ...ep.limit, key: ep.limit.key ?? null } : null;
  return {
    info: Object.freeze({ name: ep.name, endpoint_type: ep.endpoint_type, model, limit, defaults: Object.freeze(defaults), slices: Object.freeze(slices) }),
    providerConfig: config,
    timeoutMs: typeof ep.timeout_seconds === 'number' ? ep.timeout_seconds * 1000 : d.timeout,
    provider: def,
  };
}

const NEEDS = { 'llm/v1/chat': ['chat', 'chatStream'], 'llm/v1/completions': ['completions', 'completionsStream'], 'llm/v1/embeddings': ['embeddings'] } as const;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const noHttp = new Proxy({}, { get: () => () => Promise.reject(new Error('no network while checking a config')) });

/** An endpoint whose provider has no method for its type is refused at start-up, not at call time (instances are plain objects, cheap to make). */
function capabilityProbe(def: ProviderDefinition, config: Raw, model: { name: string | null; provider: string }, name: string, type: EndpointType): string | null {
  let instance: Record<string, unknown>;
  try { instance = def.create({ config, model, endpoint: { name, endpoint_type: type }, http: noHttp as never, logger: quiet, timeoutMs: 1 }) as never; } catch { return null; }
  const has = (Object.keys(NEEDS) as EndpointType[]).flatMap((t) => NEEDS[t]).filter((c) => typeof instance[c] === 'function');
  if (NEEDS[type].some((c) => has.includes(c))) return null;
  return `The ${def.displayName} provider cannot serve '${type}' endpoints (it supports: ${has.join(', ') || 'nothing'}).`;
}

/** Resolve `$ENV` / key-file / literal values at dot paths (`*` = every list item); secrets join the scrub list. */
function resolveSecrets(obj: Raw, fields: readonly string[], base: Path, env: NodeJS.ProcessEnv, problems: ConfigProblem[], secrets: string[], always = false): boolean {
  let ok = true;
  // `*` stands for every item of a list or every value of a mapping.
  const expand = (path: string): string[] => {
    const star = path.indexOf('*');
    if (star < 0) return [path];
    const head = path.slice(0, star).replace(/\.$/, '');
    const inner = head ? getPath(obj, head) : obj;
    if (!inner || typeof inner !== 'object') return [];
    return Object.keys(inner).flatMap((k) => expand(`${head ? `${head}.` : ''}${k}${path.slice(star + 1)}`));
  };
  for (const field of fields.flatMap(expand)) {
    const value = getPath(obj, field);
    if (value === undefined) continue;
    const r = resolveKey(value, env);
    if (r.error) { problems.push({ path: [...base, ...field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s))], message: r.error }); ok = false; continue; }
    setPath(obj, field, r.value);
    if ((always || SECRET_FIELD.test(field.split('.').pop()!)) && r.value && r.value.trim().length >= 6) secrets.push(r.value, r.value.trim());
  }
  return ok;
}

/** A traffic route: the generic rules here (destinations exist and match, a plugin serves the strategy); strategy rules belong to that plugin. */
function loadRoute(r: Raw, base: Path, endpoints: Raw[], routeNames: Set<unknown>, schemas: ReturnType<typeof schemasFor>, owned: Owned, problems: ConfigProblem[]): RouteInfo | null {
  const skip = unowned(r, KERNEL_ROUTE_KEYS, owned.route, base, 'a route', problems);
  if (!schemaProblems(schemas.route(), r, base, skip, problems)) return null;
  const typeValid = typeOk(r.task_type, [...base, 'task_type'], problems);
  const strategy = r.routing_strategy ?? 'TRAFFIC_SPLIT';
  if (!owned.strategies.has(strategy)) {
    const served = [...owned.strategies].map(([s, p]) => `${s} (${p})`);
    problems.push({
      path: [...base, ...(r.routing_strategy ? ['routing_strategy'] : [])],
      message: served.length
        ? `unknown routing_strategy '${strategy}'; strategies served by installed plugins: ${served.join(', ')}`
        : `no installed plugin serves the routing strategy '${strategy}'${servedBy(strategy)}`,
    });
  }
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  const destinations: RouteInfo['destinations'] = [];
  for (const [j, dst] of (r.destinations as unknown[]).entries()) {
    const dpath = [...base, 'destinations', j];
    if (!dst || typeof dst !== 'object' || !schemaProblems(schemas.destination(), dst as Raw, dpath, unowned(dst as Raw, { name: 1, traffic_percentage: 1 }, owned.destination, dpath, 'a route destination', problems), problems)) continue;
    const d = dst as Raw;
    const target = byName.get(d.name);
    if (!target) {
      problems.push({ path: [...dpath, 'name'], message: `The route destination name must be a endpoint name, but the route '${r.name}' has an invalid destination name '${d.name}'.${routeNames.has(d.name) ? ' (It names a route; routes cannot nest.)' : ''}` });
    } else if (typeValid && target.endpoint_type !== r.task_type) {
      problems.push({ path: [...dpath, 'name'], message: `The route destination endpoint types in the route '${r.name}' must have endpoint type '${r.task_type}' but got endpoint type '${target.endpoint_type}'.` });
    }
    destinations.push({ ...d, name: d.name });
  }
  const slices: Record<string, unknown> = {};
  for (const k of owned.route.keys()) if (r[k] !== undefined) slices[k] = r[k];
  return Object.freeze({ name: r.name, task_type: r.task_type, destinations, routing_strategy: strategy, slices: Object.freeze(slices) });
}

/** A plugin's own section: validated by its schema, its secret fields resolved. */
function pluginSection(p: ActivePlugin, cfg: Raw, env: NodeJS.ProcessEnv, problems: ConfigProblem[], secrets: string[]) {
  const name = p.def.name;
  const { enabled: _enabled, ...rest } = (cfg[name] ?? {}) as Raw;
  const own = structuredClone(rest);
  const schema = p.def.config?.section ?? p.def.configSchema;
  if (schema) {
    if (!schemaProblems(compile(schema, `plugin '${name}' (package ${p.entry.packageName})`), own, [name], new Set(), problems)) return;
  } else if (Object.keys(own).length) {
    problems.push({ path: [name], message: `plugin '${name}' takes no configuration besides 'enabled'` });
    return;
  }
  if (!resolveSecrets(own, p.def.config?.secrets ?? [], [name], env, problems, secrets, true)) return;
  p.config = own;
}

