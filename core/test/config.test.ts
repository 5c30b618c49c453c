import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StartupError, discover, loadConfigFile, loadConfigText } from '../src/index.js';
import { REPO_ROOT } from '../../test/helpers/gateway.js';

// Config rules are about the kernel and providers; feature plugins have their own tests.
const discovery = { ...discover(REPO_ROOT), plugins: new Map() };
const load = (yaml: string, env: Record<string, string> = {}) => loadConfigText(yaml, 'config.yaml', discovery, env);

async function problems(yaml: string, env: Record<string, string> = {}): Promise<string[]> {
  try { await load(yaml, env); } catch (e) {
    expect(e).toBeInstanceOf(StartupError);
    return (e as StartupError).message.split('\n');
  }
  throw new Error('expected the config to be rejected');
}

const ep = (fields: string) => `endpoints:\n  - name: chat\n    endpoint_type: llm/v1/chat\n${fields}`;
const mock = '    model:\n      provider: mock\n';
const openai = (config: string) => `    model:\n      provider: openai\n      name: gpt-4o\n      config:\n${config}`;

describe('config loader: spec §6.1 load pipeline', () => {
  it('server: the edge settings with their defaults; a negative idle_gc_seconds is refused', async () => {
    expect((await load(ep(mock))).server).toEqual({ maxBodyBytes: 16 * 1024 * 1024, bodyTimeoutMs: 30_000, idleGcMs: 60_000 });
    expect((await load(`${ep(mock)}server:\n  idle_gc_seconds: 0\n`)).server.idleGcMs).toBe(0);
    expect((await problems(`${ep(mock)}server:\n  idle_gc_seconds: -1\n`)).join('\n')).toMatch(/server\.idle_gc_seconds: must be >= 0/);
  });
  it('a missing file', async () => {
    await expect(loadConfigFile('/no/such/config.yaml', discovery)).rejects.toThrow('/no/such/config.yaml does not exist');
  });
  it('invalid YAML names the file and the line', async () => {
    const p = await problems('endpoints:\n  - name: [unclosed\n');
    expect(p[0]).toMatch(/^config\.yaml:\d+:\d+: \(top level\): The file at config\.yaml is not a valid yaml file/);
  });
  it('an empty file', async () => {
    expect((await problems(''))[0]).toContain("is empty; expected a mapping with an 'endpoints' list");
  });
  it('endpoints is required', async () => {
    expect(await problems('routes: []\n')).toEqual(["config.yaml:1:1: (top level): missing required key 'endpoints'"]);
  });
  it("the deprecated 'route_type' key", async () => {
    const p = await problems(`endpoints:\n  - name: chat\n    route_type: llm/v1/chat\n    endpoint_type: llm/v1/chat\n${mock}`);
    expect(p).toEqual(["config.yaml:3:17: endpoints[0].route_type: The 'route_type' configuration key is not supported in the configuration file. Use 'endpoint_type' instead."]);
  });
  it('duplicate names across endpoints and routes', async () => {
    const yaml = `${ep(mock)}  - name: chat\n    endpoint_type: llm/v1/chat\n${mock}routes:\n  - name: chat\n    task_type: llm/v1/chat\n    destinations: [{name: chat, traffic_percentage: 100}]\n`;
    const p = await problems(yaml);
    expect(p.filter((l) => l.includes('Duplicate names found in endpoint / route configurations.'))).toHaveLength(2);
    expect(p[0]).toMatch(/^config\.yaml:6:11: endpoints\[1\]\.name: Duplicate names/);
  });
  it('route destinations: unknown name, wrong type (percentage rules belong to the routing plugin)', async () => {
    const yaml = `${ep(mock)}  - name: emb\n    endpoint_type: llm/v1/embeddings\n${mock}routes:\n  - name: r\n    task_type: llm/v1/chat\n    destinations:\n      - {name: nope, traffic_percentage: 50}\n      - {name: emb, traffic_percentage: 120}\n`;
    const p = (await problems(yaml)).join('\n');
    expect(p).toContain("The route destination name must be a endpoint name, but the route 'r' has an invalid destination name 'nope'.");
    expect(p).toContain("The route destination endpoint types in the route 'r' must have endpoint type 'llm/v1/chat' but got endpoint type 'llm/v1/embeddings'.");
  });
  it('a route without task_type is reported, not a crash', async () => {
    const p = await problems(`${ep(mock)}routes:\n  - name: r\n    destinations: [{name: chat, traffic_percentage: 100}]\n`);
    expect(p).toEqual(["config.yaml:7:5: routes[0]: missing required key 'task_type'"]);
  });
  it('a routing_strategy must be served by an installed plugin', async () => {
    const p = await problems(`${ep(mock)}routes:\n  - name: r\n    task_type: llm/v1/chat\n    routing_strategy: ROUND_ROBIN\n    destinations: [{name: chat, traffic_percentage: 100}]\n`);
    expect(p[0]).toContain("routes[0].routing_strategy: no installed plugin serves the routing strategy 'ROUND_ROBIN'");
  });
  it('a name with disallowed characters (dots are fine)', async () => {
    const p = await problems(`endpoints:\n  - name: my chat\n    endpoint_type: llm/v1/chat\n${mock}  - name: v1.chat_x-y\n    endpoint_type: llm/v1/chat\n${mock}`);
    expect(p).toEqual(["config.yaml:2:11: endpoints[0].name: The route name provided contains disallowed characters for a url endpoint. 'my chat' is invalid. Names cannot contain spaces or any non alphanumeric characters other than hyphen, underscore and dot."]);
  });
  it('an unsupported endpoint type', async () => {
    const p = await problems(`endpoints:\n  - name: x\n    endpoint_type: llm/v1/images\n${mock}`);
    expect(p).toEqual(["config.yaml:3:20: endpoints[0].endpoint_type: The route_type 'llm/v1/images' is not supported. Expected one of: llm/v1/chat, llm/v1/completions, llm/v1/embeddings"]);
  });
  it('an unknown provider names the installed ones', async () => {
    const p = await problems(ep('    model:\n      provider: acme\n'));
    expect(p[0]).toMatch(/^config\.yaml:5:17: endpoints\[0\]\.model\.provider: The provider 'acme' is not supported\. Installed providers: .*mock \(@gatehouse\/provider-mock\).*openai \(@gatehouse\/provider-openai\)/);
  });
  it('provider names match case-insensitively, with - and _ alike; the canonical name is kept', async () => {
    const c = await load(`endpoints:\n  - name: a\n    endpoint_type: llm/v1/chat\n    model: {provider: MOCK}\n  - name: b\n    endpoint_type: llm/v1/chat\n    model: {provider: OpenAI, config: {openai_api_key: k}}\n`);
    expect(c.endpoints.map((e) => e.info.model.provider)).toEqual(['mock', 'openai']);
  });
  it('a built-in provider without config', async () => {
    const p = await problems(ep('    model:\n      provider: openai\n      name: gpt-4o\n'));
    expect(p).toEqual(['config.yaml:5:7: endpoints[0].model: A config must be supplied when setting a provider. The provider entry for openai is incorrect.']);
  });
  it('the provider config schema: a missing key and a misspelled key, each with its YAML path', async () => {
    const p = await problems(ep(openai('        openai_api_keys: sk-1\n')));
    expect(p).toEqual([
      "config.yaml:8:9: endpoints[0].model.config: missing required key 'openai_api_key'",
      'config.yaml:8:26: endpoints[0].model.config.openai_api_keys: unknown key \'openai_api_keys\' (did you mean \'openai_api_key\'?); expected one of: openai_api_key, openai_api_type, openai_api_base, openai_api_version, openai_deployment_name, openai_organization',
    ]);
  });
  it('unknown keys are reported, not dropped (MLflow ignores them)', async () => {
    const p = await problems(`${ep(mock)}    limits:\n      calls: 1\ntracing_typo: {}\n`);
    expect(p.join('\n')).toContain("endpoints[0].limits: unknown key 'limits' (did you mean 'limit'?, install @gatehouse/plugin-rate-limit); expected one of: name, endpoint_type, model, timeout_seconds, route_type");
    expect(p.join('\n')).toContain("unknown top-level key 'tracing_typo'");
  });
  it('four typos, one run: top-level keys, provider keys, endpoint keys and a provider that lacks the endpoint type, with hints', async () => {
    const yaml = `endpoint:\n  - name: x\nendpoints:\n  - name: chat\n    endpoint_type: llm/v1/chat\n    model:\n      provider: openai\n      name: gpt-4o\n      config:\n        openai_api_bse: https://x\n        openai_api_key: sk-123456789\n  - name: emb\n    endpoint_type: llm/v1/embeddings\n    limitt: {calls: 1}\n    model:\n      provider: anthropic\n      name: claude\n      config:\n        anthropic_api_key: k-123456789\n`;
    const p = (await problems(yaml)).join('\n');
    expect(p).toContain("endpoint: unknown top-level key 'endpoint' (did you mean 'endpoints'?)");
    expect(p).toContain("endpoints[0].model.config.openai_api_bse: unknown key 'openai_api_bse' (did you mean 'openai_api_base'?)");
    expect(p).toContain("endpoints[1].limitt: unknown key 'limitt' (did you mean 'limit'?, install @gatehouse/plugin-rate-limit)");
    expect(p).toContain("endpoints[1].endpoint_type: The Anthropic provider cannot serve 'llm/v1/embeddings' endpoints");
  });
  it('a YAML syntax error shows the offending line', async () => {
    const p = await problems('endpoints:\n  - name: a\n    endpoint_type: llm/v1/chat\n   model: {provider: mock}\n');
    expect(p.join('\n')).toContain('       model: {provider: mock}\n    ^');
  });
  it('every problem in one report', async () => {
    const p = await problems(`endpoints:\n  - name: a b\n    endpoint_type: nope\n    model: {provider: zzz}\n`);
    expect(p).toHaveLength(3);
  });
});

describe('config loader: spec §6.2 API keys', () => {
  it('$ENV resolves from the environment', async () => {
    const c = await load(ep(openai('        openai_api_key: $MY_KEY\n')), { MY_KEY: 'sk-from-env' });
    expect(c.endpoints[0]!.providerConfig.openai_api_key).toBe('sk-from-env');
    expect(c.secrets).toContain('sk-from-env');
  });
  it('$ENV unset or empty is an error', async () => {
    expect(await problems(ep(openai('        openai_api_key: $NOPE_KEY\n')))).toEqual(["config.yaml:8:25: endpoints[0].model.config.openai_api_key: Environment variable 'NOPE_KEY' is not set"]);
    expect((await problems(ep(openai('        openai_api_key: $EMPTY\n')), { EMPTY: '' }))[0]).toContain("Environment variable 'EMPTY' is not set");
  });
  it('a key file is read with surrounding whitespace trimmed (echo KEY > file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-key-'));
    const file = join(dir, 'key.txt');
    writeFileSync(file, 'sk-from-file\n');
    const c = await load(ep(openai(`        openai_api_key: ${file}\n`)));
    expect(c.endpoints[0]!.providerConfig.openai_api_key).toBe('sk-from-file');
  });
  it('a value that looks like a path but names no file is an error, not a key sent upstream', async () => {
    expect((await problems(ep(openai('        openai_api_key: /not/a/real/path\n'))))[0]).toContain('endpoints[0].model.config.openai_api_key');
  });
  it('a non-string key is rejected by the schema with its path', async () => {
    const p = await problems(ep(openai('        openai_api_key: 12345\n')));
    expect(p).toEqual(['config.yaml:8:25: endpoints[0].model.config.openai_api_key: expected a string, got a number']);
  });
});

describe('config loader: spec §6.3 OpenAI rules and §8 limits', () => {
  it('azure without deployment/version', async () => {
    const p = await problems(ep(openai('        openai_api_key: k\n        openai_api_type: azure\n')));
    expect(p[0]).toContain("OpenAI route configuration must specify 'openai_api_base', 'openai_deployment_name', and 'openai_api_version' if 'openai_api_type' is 'azure'.");
  });
  it('an invalid API type', async () => {
    expect((await problems(ep(openai('        openai_api_key: k\n        openai_api_type: gcp\n'))))[0]).toContain("Invalid OpenAI API type 'gcp'");
  });
  it('a limit with no limiter installed is refused, naming the package (limit rules belong to the rate-limit plugin)', async () => {
    expect((await problems(`${ep(mock)}    limit: {calls: 3, renewal_period: 5 minutes}\n`))[0]).toContain("endpoints[0].limit: no installed plugin handles 'limit' in an endpoint; install @gatehouse/plugin-rate-limit");
  });
  it('timeouts: per endpoint, global, default 300 s', async () => {
    const c = await load(`timeout_seconds: 20\nendpoints:\n  - {name: a, endpoint_type: llm/v1/chat, model: {provider: mock}}\n  - {name: b, endpoint_type: llm/v1/chat, model: {provider: mock}, timeout_seconds: 1.5}\n`);
    expect(c.endpoints.map((e) => e.timeoutMs)).toEqual([20_000, 1500]);
    expect((await load(ep(mock))).endpoints[0]!.timeoutMs).toBe(300_000);
  });
});
