#!/usr/bin/env node
/**
 * Gatehouse benchmark suite: `npm run bench [-- options]`.
 *
 * Sends the same requests, interleaved, straight to a fake OpenAI upstream (direct), through two
 * floors (a minimal node:http + undici proxy, and nginx when the machine has it), through Gatehouse
 * (stock plugins, features on) and its feature variants, and through the Portkey gateway (the peer);
 * reports Gatehouse's cost as ratios to the Node floor, to direct and to the peer, with
 * min / median / max over repeats. Also start-up time, `--version` time and RSS. See docs/benchmarks.md.
 *
 *   --quick           seconds-long smoke run (also BENCH_QUICK=1): tiny durations, 1 repeat, 50 streams
 *   --out FILE        write the Markdown there (default docs/benchmarks.md; with --quick, only when given)
 *   --json FILE       also write every raw figure as JSON
 *   --repeats N       repeats of every run (default 3; quick 1)
 *   --duration S      seconds per load and streaming run (default 3; quick 0.4)
 *   --streams N       streams held open at once (default 1000; quick 50)
 *   --only IDS        run only these scenarios (comma-separated: seq,sat,d50,rate,stream,hold,startup)
 *   --no-peer         leave the peer out
 *   --no-nginx        leave nginx out
 *   --no-variants     leave the feature variants out (Gatehouse runs with features on only)
 *   --variants IDS    run only these variants besides the main one (e.g. gh-base,gh-limit)
 *   --compare-tree DIR  also run the Gatehouse of another checkout (built; e.g. a git worktree of an
 *                     older commit) as target `gh-prev`, in the same rounds: an interleaved before/after
 *   --no-build        do not run `tsc -b` on the packages the gateway needs first
 *   --cpu-prof DIR    run the main Gatehouse under `node --cpu-prof`; the profile lands in DIR when it stops
 *   --heap-prof DIR   run the main Gatehouse under `node --heap-prof` (what is still allocated at exit), likewise
 *   --alloc-prof DIR  sample every allocation of the main Gatehouse, collected ones included (then
 *                     `node test/bench/alloc-top.mjs DIR/*.heapprofile`)
 *   --profile-variant ID  profile this Gatehouse variant instead of the main one (e.g. gh-base)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as P from './procs.mjs';
import * as R from './services.mjs';
import { percentiles } from './stats.mjs';
import { absRow, markdown, targetRow, absoluteTable, targetsTable, variantRow, variantsTable, COLUMNS } from './report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const t0 = Date.now();
const machineStart = P.machineCpu();
const loadStart = os.loadavg()[0];

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    repeats: { type: 'string' },
    duration: { type: 'string' },
    streams: { type: 'string' },
    only: { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    'no-nginx': { type: 'boolean', default: false },
    'no-variants': { type: 'boolean', default: false },
    variants: { type: 'string' },
    'compare-tree': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'heap-prof': { type: 'string' },
    'alloc-prof': { type: 'string' },
    'profile-variant': { type: 'string', default: 'gatehouse' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, '') + '\n');
  process.exit(0);
}

const quick = opt.quick || process.env.BENCH_QUICK === '1';
const num = (v, d) => (v === undefined ? d : Number(v));
const dur = num(opt.duration, quick ? 0.4 : 3);
const S = {
  quick,
  repeats: num(opt.repeats, quick ? 1 : 3),
  seqS: dur, satS: dur, d50S: dur, rateS: dur,
  rate: 1000, rateConns: 10, satConns: 50,
  streamSeqMs: dur * 1000,
  holdStreams: num(opt.streams, quick ? 50 : 1000),
  fastChunks: 16, slowChunks: quick ? 5 : 30, slowIntervalMs: 100,
  // Gatehouse and the peer need ~2 s of load before V8 has optimised their hot paths.
  warmupS: quick ? 0.3 : 2, settleMs: quick ? 50 : 300,
  startRepeats: quick ? 1 : 5, versionRepeats: quick ? 1 : 5,
  peer: !opt['no-peer'], nginx: !opt['no-nginx'], variants: !opt['no-variants'],
  generousLimit: { calls: 100000000, renewal_period: 'second' },
  samplingRate: 0.2,
};
const outFile = opt.out ? resolve(opt.out) : quick ? null : join(ROOT, 'docs', 'benchmarks.md');
const log = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);
const only = opt.only ? new Set(opt.only.split(',')) : null;
const wanted = (id) => !only || only.has(id);

// Everything stops by itself: children die with the runner, and the runner has a deadline (armed after the build).
const tmp = mkdtempSync(join(os.tmpdir(), 'gatehouse-bench-'));
P.installCleanup(tmp);
const armDeadline = () => {
  const ms = quick ? 150_000 : 25 * 60_000;
  setTimeout(() => { log(`bench: still running after ${ms / 1000} s; giving up`); P.stopAll(1000).finally(() => process.exit(1)); }, ms).unref();
};

// ---------------------------------------------------------------------------------------------
// Build and plugins

const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const runTsc = (projects) => execFileSync(process.execPath, [tsc, '-b', ...projects], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });

/** The feature plugins the root package installs (the "stock" plugins), from their manifests. */
function stockPlugins() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const out = [];
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    const dir = join(ROOT, 'node_modules', dep);
    let m;
    try { m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')); } catch { continue; }
    const real = realpathSync(dir);
    for (const [name, rel] of Object.entries(m.gateway?.plugins ?? {})) out.push({ name, pkg: dep, dir: real, file: resolve(real, rel) });
  }
  return out;
}

function prepare() {
  if (!opt['no-build']) {
    log('building sdk, core and provider-openai (tsc -b) ...');
    try { runTsc(['sdk', 'core', 'plugins/provider-openai']); } catch (e) {
      throw new Error(`the gateway does not build:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
  if (!existsSync(join(ROOT, 'core', 'dist', 'cli.js'))) throw new Error('core/dist/cli.js is missing: build first (npx tsc -b sdk core plugins/provider-openai)');
  const plugins = stockPlugins();
  for (const p of plugins) {
    p.enabled = true;
    if (!opt['no-build'] && existsSync(join(p.dir, 'src', 'index.ts')) && existsSync(join(p.dir, 'tsconfig.json'))) {
      try { runTsc([p.dir]); } catch { p.enabled = false; p.why = 'does not build yet'; continue; }
    }
    if (!existsSync(p.file)) { p.enabled = false; p.why = 'not built (no dist)'; }
  }
  return plugins;
}

// ---------------------------------------------------------------------------------------------
// Gatehouse configurations: the main one (features on) and the feature variants.

const VARIANTS = [
  { id: 'gatehouse', label: 'features on: in-memory limiter + metrics + tracing + request log', features: { limit: true, obs: true } },
  { id: 'gh-base', label: 'baseline: stock plugins, no feature configured', features: {} },
  { id: 'gh-limit', label: 'in-memory limiter', features: { limit: true } },
  { id: 'gh-redis', label: 'Redis limiter', features: { limit: true, redis: true } },
  { id: 'gh-obs', label: 'metrics + tracing (sampling 0.2) + request log', features: { obs: true } },
];

/**
 * A config for one variant. Baseline: the stock plugins loaded, none doing work — `metrics` and
 * `request-log` (active by default) turned off, no `tracing:` section, no `limit`.
 */
function gatehouseConfig(upPort, plugins, f, name) {
  const limit = f.limit ? `    limit: {calls: ${S.generousLimit.calls}, renewal_period: ${S.generousLimit.renewal_period}}\n` : '';
  const ep = (epName, base) => `  - name: ${epName}
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-4o-mini
      config:
        openai_api_key: sk-bench
        openai_api_base: http://127.0.0.1:${upPort}${base}
${limit}`;
  const sections = {};
  const has = (n) => plugins.some((p) => p.name === n && p.enabled);
  if (has('metrics') && !f.obs) sections.metrics = '  enabled: false\n';
  if (has('request-log')) sections['request-log'] = f.obs ? `  destination: ${join(tmp, `${name}-requests.log`)}\n` : '  enabled: false\n';
  if (has('tracing') && f.obs) sections.tracing = `  sampling_rate: ${S.samplingRate}\n  slow_threshold_ms: 1000\n  dir: ${join(tmp, `${name}-traces`)}\n`;
  if (f.redis) sections['rate-limit'] = `  storage_uri: redis://127.0.0.1:${f.redisPort}\n`;
  for (const p of plugins) if (!p.enabled) sections[p.name] = `  enabled: false  # ${p.why}\n`;
  const text = Object.entries(sections).map(([k, v]) => `${k}:\n${v}`).join('');
  return `# Written by test/bench/run.mjs (${name})\nendpoints:\n${ep('chat', '/v1')}${ep('chat-d50', '/d50/v1')}${ep('chat-slow', '/slow/v1')}${text}`;
}

/** Why a variant cannot run on this machine / with these plugins, or null. */
function variantMissing(v, plugins) {
  const has = (n) => plugins.some((p) => p.name === n && p.enabled);
  if (v.features.limit && !has('rate-limit')) return 'the rate-limit plugin is not available';
  if (v.features.redis && !procs.redis) return 'redis-server is not installed';
  if (v.features.obs && !(has('metrics') && has('tracing') && has('request-log'))) return 'metrics, tracing or request-log is not available';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Processes

const preload = pathToFileURL(join(HERE, 'eld-preload.mjs')).href;
const procs = {};
const notes = { skipped: [] };

async function startUpstream() {
  const child = P.spawnNode({
    name: 'upstream', script: join(HERE, 'upstream.mjs'), ipc: true, cwd: ROOT,
    env: P.childEnv({ BENCH_FAST_CHUNKS: String(S.fastChunks), BENCH_SLOW_CHUNKS: String(S.slowChunks), BENCH_SLOW_INTERVAL_MS: String(S.slowIntervalMs) }),
  });
  const { port } = await P.waitMessage(child, (m) => m?.type === 'ready', 15_000);
  return { child, port };
}

async function startFloor(upPort) {
  const eldFile = join(tmp, 'eld-floor.json');
  const child = P.spawnNode({
    name: 'floor', script: join(HERE, 'floor-proxy.mjs'), ipc: true, cwd: ROOT, nodeArgs: ['--import', preload],
    env: P.childEnv({ FLOOR_UPSTREAM: `http://127.0.0.1:${upPort}`, BENCH_ELD_FILE: eldFile, BENCH_PARENT_PID: String(process.pid) }),
  });
  const { port } = await P.waitMessage(child, (m) => m?.type === 'ready', 15_000);
  return { child, port, eldFile };
}

function gatehouseArgs(configPath, port) {
  return ['start', '--config-path', configPath, '--host', '127.0.0.1', '--port', String(port), '--grace-period', '2'];
}

async function startGatehouse(name, upPort, plugins, features, isMain) {
  const main = name === opt['profile-variant'];
  const configPath = join(tmp, `${name}.yaml`);
  for (let attempt = 0; ; attempt++) {
    writeFileSync(configPath, gatehouseConfig(upPort, plugins, features, name));
    const port = await P.freePort();
    const eldFile = join(tmp, `eld-${name}.json`);
    const prof = [];
    if (main && opt['cpu-prof']) { mkdirSync(resolve(opt['cpu-prof']), { recursive: true }); prof.push('--cpu-prof', `--cpu-prof-dir=${resolve(opt['cpu-prof'])}`); }
    if (main && opt['heap-prof']) { mkdirSync(resolve(opt['heap-prof']), { recursive: true }); prof.push('--heap-prof', `--heap-prof-dir=${resolve(opt['heap-prof'])}`); }
    const child = P.spawnNode({
      name, script: join(ROOT, 'core', 'bin', 'gatehouse.js'), cwd: ROOT,
      nodeArgs: ['--import', preload, ...prof],
      args: gatehouseArgs(configPath, port),
      env: P.childEnv({
        GATEHOUSE_LOG_LEVEL: 'warn', BENCH_ELD_FILE: eldFile, BENCH_PARENT_PID: String(process.pid),
        ...(main && opt['alloc-prof'] ? { BENCH_ALLOC_PROF: resolve(opt['alloc-prof']) } : {}),
      }),
    });
    if (main && opt['alloc-prof']) mkdirSync(resolve(opt['alloc-prof']), { recursive: true });
    try {
      await P.waitHttp(`http://127.0.0.1:${port}/health`, child, 60_000);
      return { child, port, eldFile, configPath };
    } catch (e) {
      // A stock plugin that is installed but broken right now: leave it out once, and say so.
      const broken = plugins.filter((p) => p.enabled && child.log().includes(p.name));
      if (!isMain || attempt > 0 || !broken.length) throw e;
      for (const p of broken) { p.enabled = false; p.why = 'fails to load'; }
      log(`gatehouse did not start with plugin(s) ${broken.map((p) => p.name).join(', ')}; retrying without them`);
    }
  }
}

async function startPeer() {
  const bin = join(ROOT, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing (npm install)`);
  const port = await P.freePort();
  const eldFile = join(tmp, 'eld-peer.json');
  const child = P.spawnNode({
    name: 'portkey', script: bin, cwd: ROOT, nodeArgs: ['--import', preload], args: [`--port=${port}`, '--headless'],
    env: P.childEnv({ BENCH_ELD_FILE: eldFile, BENCH_PARENT_PID: String(process.pid) }),
  });
  await P.waitHttp(`http://127.0.0.1:${port}/`, child);
  return { child, port, eldFile };
}

// ---------------------------------------------------------------------------------------------
// Targets: the same chat request, many ways. Variants: '' (0 ms), '/d50' (50 ms), '/slow' (slow stream).

const messages = [{ role: 'user', content: 'hi' }];
const json = { 'content-type': 'application/json' };
/** name → {label, proc, streams, req(variant, stream)} */
const targets = {};

function defineTargets(upPort) {
  const endpoint = { '': 'chat', '/d50': 'chat-d50', '/slow': 'chat-slow' };
  // What Gatehouse itself sends upstream, so the upstream does the same work either way.
  const openaiBody = (stream) => JSON.stringify(stream ? { model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } } : { model: 'gpt-4o-mini', messages });
  const mlflowBody = (stream) => JSON.stringify(stream ? { messages, stream: true } : { messages });
  targets.direct = {
    label: 'direct', proc: null, streams: true,
    req: (v, stream) => ({ url: `http://127.0.0.1:${upPort}${v}/v1/chat/completions`, headers: { ...json, authorization: 'Bearer sk-bench' }, body: openaiBody(stream) }),
  };
  targets.floor = {
    label: 'Node floor', proc: procs.floor, streams: true,
    req: (v, stream) => ({ url: `http://127.0.0.1:${procs.floor.port}${v}/floor`, headers: json, body: mlflowBody(stream) }),
  };
  if (procs.nginx) {
    targets.nginx = {
      label: 'nginx', proc: procs.nginx, streams: true,
      req: (v, stream) => ({ url: `http://127.0.0.1:${procs.nginx.port}${v}/v1/chat/completions`, headers: { ...json, authorization: 'Bearer sk-bench' }, body: openaiBody(stream) }),
    };
  }
  for (const v of VARIANTS) {
    const p = procs[v.id];
    if (!p) continue;
    targets[v.id] = {
      label: v.id === 'gatehouse' ? 'Gatehouse' : v.label, proc: p, streams: true, variant: v,
      req: (variant, stream) => ({ url: `http://127.0.0.1:${p.port}/endpoints/${endpoint[variant]}/invocations`, headers: json, body: mlflowBody(stream) }),
    };
  }
  if (procs['gh-prev']) {
    const p = procs['gh-prev'];
    targets['gh-prev'] = {
      label: `Gatehouse of ${opt['compare-tree']}`, proc: p, streams: true,
      req: (variant, stream) => ({ url: `http://127.0.0.1:${p.port}/endpoints/${endpoint[variant]}/invocations`, headers: json, body: mlflowBody(stream) }),
    };
  }
  if (procs.peer) {
    targets.peer = {
      label: 'peer', proc: procs.peer, streams: false,
      req: (v) => ({
        url: `http://127.0.0.1:${procs.peer.port}/v1/chat/completions`,
        headers: { ...json, authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${upPort}${v}/v1` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
      }),
    };
  }
}

/** One request through each target before measuring: a wrong setup must not look like a fast one. */
async function sanity(name) {
  const r = targets[name].req('', false);
  const res = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('fixed answer from the benchmark upstream')) throw new Error(`${name}: unexpected answer ${res.status} ${text.slice(0, 300)}`);
  if (targets[name].streams) {
    const s = targets[name].req('', true);
    const sres = await fetch(s.url, { method: 'POST', headers: s.headers, body: s.body, signal: AbortSignal.timeout(10_000) });
    const stext = await sres.text();
    if (sres.status !== 200 || (stext.match(/qzx/g) ?? []).length !== S.fastChunks) throw new Error(`${name} (stream): unexpected answer ${sres.status} ${stext.slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement around one run: CPU time, max RSS, event-loop delay and heap allocation of the target's process.

const alive = (c) => c && c.exitCode === null && c.signalCode === null;

async function measured(name, fn) {
  const p = targets[name].proc;
  const pid = p?.child.pid;
  if (p?.eldFile) await P.readEld(p.child, p.eldFile); // reset
  const cpu0 = pid ? P.cpuMs(pid) : null;
  const rssStart = pid ? P.rssMB(pid) : null;
  const sampler = P.rssSampler(pid ? [pid] : []);
  let rssAtOpen = null;
  const redisBefore = targets[name].variant?.features.redis ? await R.redisCommandStats(procs.redis.port) : null;
  procs.upstream.child.send({ type: 'stats' });
  await P.waitMessage(procs.upstream.child, (m) => m?.type === 'stats', 5000); // resets the upstream's max
  const overflows0 = P.listenOverflows();
  const result = await fn((m) => { if (m?.type === 'open' && pid) rssAtOpen = P.rssMB(pid); });
  const rssMax = sampler.stop();
  const overflows1 = P.listenOverflows();
  const listenOverflows = overflows0 !== null && overflows1 !== null ? overflows1 - overflows0 : null;
  procs.upstream.child.send({ type: 'stats' });
  const upstream = await P.waitMessage(procs.upstream.child, (m) => m?.type === 'stats', 5000);
  const proc = pid ? {
    cpuMs: P.cpuMs(pid) - cpu0, rssMax: rssMax[pid], rssStart, rssAtOpen,
    eld: p.eldFile ? await P.readEld(p.child, p.eldFile) : null,
  } : null;
  let redisCommands = null;
  if (redisBefore) {
    // Commands the gateway sent: scripts count once (not the GET/SET they run inside), our own INFO not at all.
    const after = await R.redisCommandStats(procs.redis.port);
    redisCommands = {};
    for (const [k, v] of Object.entries(after)) if (v - (redisBefore[k] ?? 0) > 0) redisCommands[k] = v - (redisBefore[k] ?? 0);
    redisCommands.info = (redisCommands.info ?? 1) - 1;
  }
  for (const [n, q] of Object.entries(procs)) {
    if (q?.child && !alive(q.child)) throw new Error(`${n} stopped during the run:\n${q.child.log()}`);
  }
  return { ...result, proc, upstreamMaxInflight: upstream.maxInflight, upstreamRequests: upstream.requests, redisCommands, listenOverflows };
}

async function child(script, job, timeoutMs, onOther) {
  const c = P.spawnNode({ name: script.replace('.mjs', ''), script: join(HERE, script), ipc: true, cwd: ROOT });
  c.send(job);
  try {
    return await P.waitMessage(c, (m) => m && m.type !== 'open', timeoutMs, onOther);
  } finally {
    await P.stop(c, 2000);
  }
}

/** One autocannon run against a target. */
function loadRun(target, variant, { connections, duration, overallRate }) {
  const r = targets[target].req(variant, false);
  return measured(target, async () => {
    const res = await child('load.mjs', { ...r, connections, duration, overallRate }, (duration + 30) * 1000);
    if (res.error) throw new Error(`autocannon: ${res.error}`);
    return res;
  });
}

/** One run of the streaming client against a target. */
function streamRun(target, variant, job, timeoutMs) {
  const r = targets[target].req(variant, true);
  return measured(target, (onOpen) => child('stream-client.mjs', { ...job, url: r.url, body: r.body }, timeoutMs, onOpen));
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const FLOORS = ['direct', 'floor', 'nginx'];
const VARIANT_IDS = [...VARIANTS.filter((v) => v.id !== 'gatehouse').map((v) => v.id), 'gh-prev'];
const scenarios = [
  { id: 'seq', title: 'one connection, sequential', targets: [...FLOORS, 'gatehouse', ...VARIANT_IDS, 'peer'],
    run: (t) => loadRun(t, '', { connections: 1, duration: S.seqS }) },
  { id: 'sat', title: `saturation, ${S.satConns} connections`, targets: [...FLOORS, 'gatehouse', ...VARIANT_IDS, 'peer'],
    run: (t) => loadRun(t, '', { connections: S.satConns, duration: S.satS }) },
  { id: 'd50', title: `${S.satConns} connections, 50 ms upstream`, targets: [...FLOORS, 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '/d50', { connections: S.satConns, duration: S.d50S }) },
  { id: 'rate', title: `fixed rate ${S.rate} req/s`, targets: [...FLOORS, 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '', { connections: S.rateConns, duration: S.rateS, overallRate: S.rate }) },
  { id: 'stream', title: 'streaming, one at a time', targets: [...FLOORS, 'gatehouse', 'gh-base', 'gh-prev'],
    run: (t) => streamRun(t, '', { mode: 'seq', durationMs: S.streamSeqMs, expectChunks: S.fastChunks }, S.streamSeqMs + 30_000) },
  { id: 'hold', title: `${S.holdStreams} streams held open`, targets: [...FLOORS, 'gatehouse', 'gh-base', 'gh-prev'],
    run: (t) => {
      const streamMs = S.slowChunks * S.slowIntervalMs;
      const deadlineMs = streamMs * 8 + 15_000;
      return streamRun(t, '/slow', { mode: 'hold', streams: S.holdStreams, expectChunks: S.slowChunks, deadlineMs }, deadlineMs + 30_000);
    } },
];

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

// ---------------------------------------------------------------------------------------------
// Start-up: `gatehouse start` to the first answered request, `--version`, and a fresh process's RSS.

/** Poll `url` with the request every few ms from spawn; ms until the first 200, and the RSS 0.5 s later. */
async function timeStart({ name, cwd, args, req }) {
  const t = performance.now();
  const c = P.spawnNode({ name, script: join(ROOT, 'core', 'bin', 'gatehouse.js'), cwd, args, env: P.childEnv({ GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_ROOT: cwd }) });
  try {
    for (;;) {
      if (!alive(c)) throw new Error(`${name} exited before answering:\n${c.log()}`);
      if (performance.now() - t > 60_000) throw new Error(`${name} did not answer within 60 s`);
      try {
        const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200) {
          const ms = performance.now() - t;
          await sleep(500);
          return { ms, rss: P.rssMB(c.pid), answer: text.slice(0, 80) };
        }
        throw new Error(`${name}: first answer was ${res.status} ${text.slice(0, 200)}`);
      } catch (e) {
        if (/first answer was/.test(e.message)) throw e;
        await sleep(3);
      }
    }
  } finally {
    await P.stop(c, 3000);
  }
}

async function startupRuns(upPort) {
  const out = { stock: [], version: [], trimmed: [], trimmedWhy: null };
  const mainConfig = procs.gatehouse.configPath;
  for (let i = 0; i < S.startRepeats; i++) {
    const port = await P.freePort();
    log(`start-up: stock distribution, features on (${i + 1}/${S.startRepeats})`);
    out.stock.push(await timeStart({
      name: 'gatehouse-startup', cwd: ROOT, args: gatehouseArgs(mainConfig, port),
      req: { url: `http://127.0.0.1:${port}/endpoints/chat/invocations`, headers: json, body: JSON.stringify({ messages }) },
    }));
  }
  for (let i = 0; i < S.versionRepeats; i++) {
    const t = performance.now();
    execFileSync(process.execPath, [join(ROOT, 'core', 'bin', 'gatehouse.js'), '--version'], { cwd: ROOT, stdio: 'pipe', env: P.childEnv() });
    out.version.push(performance.now() - t);
  }
  const trimmed = join(ROOT, 'examples', 'trimmed-gateway');
  if (!existsSync(join(trimmed, 'package.json')) || !existsSync(join(trimmed, 'config.yaml'))) out.trimmedWhy = 'examples/trimmed-gateway does not exist';
  else {
    try {
      for (let i = 0; i < S.startRepeats; i++) {
        const port = await P.freePort();
        log(`start-up: examples/trimmed-gateway (${i + 1}/${S.startRepeats})`);
        out.trimmed.push(await timeStart({
          name: 'trimmed-startup', cwd: trimmed, args: ['start', '--config-path', join(trimmed, 'config.yaml'), '--host', '127.0.0.1', '--port', String(port)],
          req: { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: json, body: JSON.stringify({ model: 'chat', messages }) },
        }));
      }
    } catch (e) { out.trimmedWhy = `did not start: ${e.message.split('\n').slice(0, 3).join(' ')}`; out.trimmed = []; }
  }
  void upPort;
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const plugins = prepare();
  armDeadline();
  const up = await startUpstream();
  procs.upstream = up;
  log(`upstream on 127.0.0.1:${up.port}`);
  procs.floor = await startFloor(up.port);
  log(`node floor on 127.0.0.1:${procs.floor.port}`);
  if (S.nginx) {
    if (!R.NGINX) notes.skipped.push('nginx: not installed on this machine (`apt-get install -y nginx`); its column is empty.');
    else {
      try { procs.nginx = await R.startNginx(tmp, up.port); log(`nginx on 127.0.0.1:${procs.nginx.port}`); } catch (e) {
        notes.skipped.push(`nginx: did not start (${e.message.split('\n')[0]}).`);
      }
    }
  } else notes.skipped.push('nginx: left out (--no-nginx).');
  const pick = opt.variants ? new Set(['gatehouse', ...opt.variants.split(',')]) : null;
  const variants = !S.variants ? VARIANTS.slice(0, 1) : pick ? VARIANTS.filter((v) => pick.has(v.id)) : VARIANTS;
  if (variants.some((v) => v.features.redis)) {
    if (!R.REDIS) notes.skipped.push('Redis limiter: redis-server is not installed on this machine.');
    else { procs.redis = await R.startRedis(tmp); log(`redis-server on 127.0.0.1:${procs.redis.port}`); }
  }
  procs.gatehouse = await startGatehouse('gatehouse', up.port, plugins, VARIANTS[0].features, true);
  log(`gatehouse (features on) on 127.0.0.1:${procs.gatehouse.port} (pid ${procs.gatehouse.child.pid})`);
  // Idle RSS is read from a gateway that stays idle: the same features-on config, one JSON and one
  // stream request, then nothing until the end of the run (it collects start-up's garbage once
  // it has been idle for server.idle_gc_seconds, 60 s by default, and again 6 s later).
  procs.idle = await startGatehouse('gatehouse-idle', up.port, plugins, VARIANTS[0].features, false);
  const idleReq = (stream) => fetch(`http://127.0.0.1:${procs.idle.port}/endpoints/chat/invocations`, { method: 'POST', headers: json, body: JSON.stringify({ messages, ...(stream ? { stream } : {}) }) }).then((r) => r.text());
  await idleReq(false); await idleReq(true);
  const idleSince = Date.now();
  const missing = variants.slice(1).map((v) => [v, variantMissing(v, plugins)]);
  for (const [v, why] of missing) if (why) notes.skipped.push(`variant "${v.label}": ${why}.`);
  await Promise.all(missing.filter(([, why]) => !why).map(async ([v]) => {
    procs[v.id] = await startGatehouse(v.id, up.port, plugins, { ...v.features, redisPort: procs.redis?.port }, false);
    log(`gatehouse (${v.label}) on 127.0.0.1:${procs[v.id].port}`);
  }));
  if (opt['compare-tree']) {
    const dir = resolve(opt['compare-tree']);
    const configPath = join(tmp, 'gh-prev.yaml');
    const ep = (n, base) => `  - name: ${n}\n    endpoint_type: llm/v1/chat\n    model:\n      provider: openai\n      name: gpt-4o-mini\n      config:\n        openai_api_key: sk-bench\n        openai_api_base: http://127.0.0.1:${up.port}${base}\n`;
    writeFileSync(configPath, `endpoints:\n${ep('chat', '/v1')}${ep('chat-d50', '/d50/v1')}${ep('chat-slow', '/slow/v1')}`);
    const port = await P.freePort();
    const eldFile = join(tmp, 'eld-gh-prev.json');
    const child = P.spawnNode({
      name: 'gh-prev', script: join(dir, 'core', 'bin', 'gatehouse.js'), cwd: dir,
      nodeArgs: ['--import', preload, ...(opt['profile-variant'] === 'gh-prev' && opt['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opt['cpu-prof'])}`] : [])],
      args: gatehouseArgs(configPath, port),
      env: P.childEnv({ GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_ROOT: dir, BENCH_ELD_FILE: eldFile, BENCH_PARENT_PID: String(process.pid) }),
    });
    await P.waitHttp(`http://127.0.0.1:${port}/health`, child, 60_000);
    procs['gh-prev'] = { child, port, eldFile, configPath };
    log(`gatehouse of ${dir} (gh-prev) on 127.0.0.1:${port}`);
  }
  if (S.peer) {
    try {
      procs.peer = await startPeer();
      log(`peer (portkey) on 127.0.0.1:${procs.peer.port} (pid ${procs.peer.child.pid})`);
    } catch (e) {
      log(`peer not available, continuing without it: ${e.message.split('\n')[0]}`);
      if (procs.peer?.child) await P.stop(procs.peer.child);
      procs.peer = undefined;
    }
  }
  defineTargets(up.port);
  for (const name of Object.keys(targets)) {
    try { await sanity(name); } catch (e) {
      if (name !== 'peer' && name !== 'nginx') throw e;
      log(`${name} answers wrongly, continuing without it: ${e.message}`);
      notes.skipped.push(`${name}: answered wrongly (${e.message.slice(0, 200)}).`);
      await P.stop(procs[name].child);
      procs[name] = undefined;
      delete targets[name];
    }
  }
  const available = Object.keys(targets);

  await sleep(500);
  const idleFresh = Object.fromEntries(available.filter((t) => targets[t].proc).map((t) => [t, P.rssMB(targets[t].proc.child.pid)]));

  if (!quick) {
    log(`warm-up (${S.warmupS} s per target) ...`);
    for (const t of available) await loadRun(t, '', { connections: S.satConns, duration: t === 'direct' ? Math.min(1, S.warmupS) : S.warmupS });
  }

  const results = {};
  for (const sc of scenarios) {
    if (!wanted(sc.id)) continue;
    const ts = sc.targets.filter((t) => available.includes(t));
    results[sc.id] = [];
    for (let rep = 0; rep < S.repeats; rep++) {
      const row = {};
      for (const t of rotate(ts, rep)) {
        log(`${sc.title}: repeat ${rep + 1}/${S.repeats}, ${t}`);
        try { row[t] = await sc.run(t); } catch (e) {
          if (/stopped during the run/.test(e.message)) throw e;
          log(`  failed: ${e.message.split('\n')[0]}`);
          row[t] = null;
        }
        await sleep(S.settleMs);
      }
      results[sc.id].push(row);
    }
  }

  await sleep(2000);
  const idleAfter = Object.fromEntries(available.filter((t) => targets[t].proc).map((t) => [t, P.rssMB(targets[t].proc.child.pid)]));
  const idleAfterAt = Date.now() - 2000;
  const redisRtt = procs.redis ? percentiles(await R.redisRoundTrips(procs.redis.port, quick ? 50 : 500)) : null;
  const startup = wanted('startup') ? await startupRuns(up.port) : null;
  // Later again (the start-up runs above take a while, the gateways sit idle): what was given back.
  // At least 75 s after the load: Gatehouse collects its heap after 60 s idle and again 6 s later.
  await sleep(quick ? 0 : Math.max(5000, 75_000 - (Date.now() - idleAfterAt)));
  const idleLate = Object.fromEntries(available.filter((t) => targets[t].proc).map((t) => [t, P.rssMB(targets[t].proc.child.pid)]));
  const lateS = ((Date.now() - idleAfterAt) / 1000).toFixed(0);
  const idleSettled = { gatehouse: P.rssMB(procs.idle.child.pid) };
  const idleS = ((Date.now() - idleSince) / 1000).toFixed(0);

  const machine = machineInfo();
  machine.wallS = ((Date.now() - t0) / 1000).toFixed(0);
  await P.stop(procs.gatehouse.child, 15_000); // lets --cpu-prof / --heap-prof write their profiles
  await P.stopAll();
  const machineEnd = P.machineCpu();
  machine.load = `${loadStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (1-min load average)`;
  machine.foreignCpu = P.foreignCpuShare(machineStart, machineEnd);

  const fig = figures(results, { idleFresh, idleSettled, idleS, idleAfter, idleLate, lateS, redisRtt, startup });
  const pluginText = describePlugins(plugins);
  // The analysis of the misses is written by hand (test/bench/holdback.md) and carried into every report.
  const holdBackFile = join(HERE, 'holdback.md');
  const holdBack = existsSync(holdBackFile) ? readFileSync(holdBackFile, 'utf8').trim() : null;
  const md = markdown({ machine, settings: S, ...fig, plugins: pluginText, variants: VARIANTS, skipped: notes.skipped, holdBack });
  process.stdout.write(`\nGatehouse benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}${quick ? ' (quick)' : ''}\n\n`);
  process.stdout.write(`Targets (min / median / max over ${S.repeats} repeat(s); status from the median)\n\n${targetsTable(fig.targets)}\n\n`);
  process.stdout.write(`Feature variants (medians)\n\n${variantsTable(fig.variantRows)}\n\n`);
  process.stdout.write(`Absolute figures\n\n${absoluteTable(fig.absolute)}\n\n`);
  for (const s of notes.skipped) process.stdout.write(`note: ${s}\n`);
  if (outFile) { mkdirSync(dirname(outFile), { recursive: true }); writeFileSync(outFile, md); log(`wrote ${outFile}`); }
  if (opt.json) writeFileSync(resolve(opt.json), JSON.stringify({ machine, settings: S, plugins, idleFresh, idleSettled, idleS, idleAfter, idleLate, lateS, redisRtt, startup, results }, null, 2));
  log(`done in ${machine.wallS} s`);
}

function describePlugins(plugins) {
  const on = plugins.filter((p) => p.enabled).map((p) => `\`${p.name}\``);
  const off = plugins.filter((p) => !p.enabled).map((p) => `\`${p.name}\` (${p.why})`);
  return `${on.length ? `installed: ${on.join(', ')}` : 'installed: none'}${off.length ? `; left out: ${off.join(', ')}` : ''}`;
}

function machineInfo() {
  const cpus = os.cpus();
  let commit = null;
  const git = (...a) => execFileSync('git', ['--no-optional-locks', ...a], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    commit = git('rev-parse', '--short', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no')) commit += ', with uncommitted changes';
  } catch { /* not a checkout */ }
  const version = (p) => { try { return JSON.parse(readFileSync(join(ROOT, p), 'utf8')).version; } catch { return '?'; } };
  let nginx = 'not run';
  if (procs.nginx) { const r = spawnSync(R.NGINX, ['-v'], { encoding: 'utf8' }); nginx = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || 'nginx'; }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nofile: procs.gatehouse ? P.openFilesLimit(procs.gatehouse.child.pid) ?? '?' : '?',
    gatehouse: version('core/package.json'),
    commit,
    peer: procs.peer ? `@portkey-ai/gateway ${version('node_modules/@portkey-ai/gateway/package.json')}` : 'not run',
    nginx: nginx.replace(/^nginx version: /, ''),
    redis: procs.redis ? (() => { try { return execFileSync(R.REDIS, ['--version'], { encoding: 'utf8' }).split(' ')[2]?.replace('v=', 'redis ') ?? 'redis'; } catch { return 'redis'; } })() : 'not run',
    autocannon: version('node_modules/autocannon/package.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// Figures

function figures(results, { idleFresh, idleSettled, idleS, idleAfter, idleLate, lateS, redisRtt, startup }) {
  const per = (id, fn) => (results[id] ?? []).map((row) => { try { return fn(row); } catch { return null; } });
  const diff = (a, b) => (a === null || a === undefined || b === null || b === undefined ? null : a - b);
  const ratio = (a, b) => (a !== null && a !== undefined && b ? a / b : null);
  const N = S.holdStreams;
  const reqs = (r) => (r ? r.ok + (r.non2xx ?? 0) : 0);
  /**
   * Commands a gateway sent to Redis in a run: every command counted by INFO commandstats, less
   * the GET and SET that the limiter's script (BOUNDED_ADD_LUA) runs inside Redis for each call.
   */
  const redisSent = (c) => {
    if (!c) return null;
    const scripts = (c.evalsha ?? 0) + (c.eval ?? 0) + (c.evalsha_ro ?? 0) + (c.eval_ro ?? 0);
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    return total - scripts /* the GET inside */ - Math.min(c.set ?? 0, scripts) /* the SET inside, when admitted */;
  };
  const redisScripts = (c) => (c ? (c.evalsha ?? 0) + (c.eval ?? 0) + (c.evalsha_ro ?? 0) + (c.eval_ro ?? 0) : null);
  const cpuPer = (r) => (r?.proc && reqs(r) ? r.proc.cpuMs / reqs(r) : null);
  const allocPer = (r) => (r?.proc?.eld?.allocatedBytes !== null && r?.proc?.eld?.allocatedBytes !== undefined && reqs(r) ? r.proc.eld.allocatedBytes / reqs(r) / 1024 : null);
  const added = (id, t, p) => per(id, (r) => diff(r[t]?.latency?.[p], r.direct?.latency?.[p]));
  /** Ratio of Gatehouse's figure to another target's, within each repeat. */
  const vs = (id, fn, other, a = 'gatehouse') => per(id, (r) => ratio(fn(r, a), fn(r, other)));
  const ms = (arr) => (arr ?? []).map((x) => x.ms);

  // --- Issue 16 targets: against the floor, direct, and absolute.
  const seqAdded = (p) => (r, t) => diff(r[t]?.latency?.[p], r.direct?.latency?.[p]);
  const holdFig = (f) => (r, t) => f(r[t]);
  const targets = [
    targetRow('CPU per request, 50 connections, Gatehouse ÷ Node floor', '×', vs('sat', (r, t) => cpuPer(r[t]), 'floor'), { op: '<=', value: 1.3 }, 2),
    targetRow('CPU per request, 1 connection, Gatehouse ÷ Node floor', '×', vs('seq', (r, t) => cpuPer(r[t]), 'floor'), { op: '<=', value: 1.3 }, 2),
    targetRow('Added latency, 1 connection, p50, Gatehouse ÷ Node floor', '×', vs('seq', seqAdded('p50'), 'floor'), { op: '<=', value: 1.3 }, 2),
    targetRow('Added latency, 1 connection, p99, Gatehouse ÷ Node floor', '×', vs('seq', seqAdded('p99'), 'floor'), { op: '<=', value: 1.3 }, 2),
    targetRow(`${N} streams at once: last first byte, Gatehouse ÷ direct`, '×', vs('hold', holdFig((x) => x?.allOpenMs), 'direct'), { op: '<=', value: 1.5 }, 2),
    targetRow(`${N} streams at once: first-byte p99, Gatehouse ÷ direct`, '×', vs('hold', holdFig((x) => x?.ttfb?.p99), 'direct'), { op: '<=', value: 3 }, 2),
    targetRow(`RSS idle, ${idleS} s after start`, 'MB', [idleSettled.gatehouse], { op: '<=', value: 80 }, 1),
    targetRow(`RSS idle, ${lateS} s after the load`, 'MB', [idleLate.gatehouse], { op: '<=', value: 150 }, 1),
    targetRow('Start-up: `gatehouse start` to the first answered request', 'ms', ms(startup?.stock), { op: '<=', value: 300 }, 0),
  ];

  // --- Feature costs (issues 9 and 11): each variant against the baseline, within each repeat.
  const vsBase = (id, fn, v) => per(id, (r) => ratio(fn(r[v]), fn(r['gh-base'])));
  const featureTargets = [
    targetRow('In-memory limiter: CPU per request ÷ baseline, 50 connections', '×', vsBase('sat', cpuPer, 'gh-limit'), { op: '<=', value: 1.05 }, 3),
    targetRow('In-memory limiter: CPU per request ÷ baseline, 1 connection', '×', vsBase('seq', cpuPer, 'gh-limit'), { op: '<=', value: 1.05 }, 3),
    targetRow('Redis limiter: commands sent to Redis per request', 'count', per('sat', (r) => ratio(redisSent(r['gh-redis']?.redisCommands), r['gh-redis']?.upstreamRequests)), { op: '<=', value: 1 }, 2),
    targetRow('Redis limiter: scripts run per request', 'count', per('sat', (r) => ratio(redisScripts(r['gh-redis']?.redisCommands), r['gh-redis']?.upstreamRequests)), undefined, 2),
    targetRow('Redis limiter: added latency p50 over the in-memory limiter, in Redis round trips', '×',
      per('seq', (r) => ratio(diff(r['gh-redis']?.latency?.p50, r['gh-limit']?.latency?.p50), redisRtt?.p50)), { op: '<=', value: 1.5 }, 2),
    targetRow('Redis limiter: CPU per request ÷ in-memory limiter, 50 connections', '×', per('sat', (r) => ratio(cpuPer(r['gh-redis']), cpuPer(r['gh-limit']))), undefined, 2),
    targetRow('Metrics + tracing + request log: CPU per request ÷ baseline, 50 connections', '×', vsBase('sat', cpuPer, 'gh-obs'), { op: '<=', value: 1.1 }, 3),
    targetRow('Metrics + tracing + request log: CPU per request ÷ baseline, 1 connection', '×', vsBase('seq', cpuPer, 'gh-obs'), { op: '<=', value: 1.1 }, 3),
    targetRow('All features on: CPU per request ÷ baseline, 50 connections', '×', vsBase('sat', cpuPer, 'gatehouse'), undefined, 3),
  ];

  // --- Earlier targets of this suite (Gatehouse with features on).
  const earlier = [
    targetRow('Added latency, 1 connection, p50', 'ms', added('seq', 'gatehouse', 'p50'), { op: '<=', value: 0.3 }),
    targetRow('Added latency, 1 connection, p99', 'ms', added('seq', 'gatehouse', 'p99'), { op: '<=', value: 1 }),
    targetRow(`Throughput, ${S.satConns} connections, Gatehouse ÷ direct`, '×', vs('sat', (r, t) => r[t]?.rps, 'direct'), { op: '>=', value: 0.5 }, 2),
    targetRow(`Throughput, ${S.satConns} connections, Gatehouse ÷ peer`, '×', vs('sat', (r, t) => r[t]?.rps, 'peer'), { op: '>=', value: 2 }, 2),
    targetRow(`Overhead at ${S.rate} req/s, p50`, 'ms', added('rate', 'gatehouse', 'p50'), { op: '<=', value: 0.5 }),
    targetRow(`Overhead at ${S.rate} req/s, p99`, 'ms', added('rate', 'gatehouse', 'p99'), { op: '<=', value: 2 }),
    targetRow('Streaming TTFB overhead, p50', 'ms', per('stream', (r) => diff(r.gatehouse?.ttfb?.p50, r.direct?.ttfb?.p50)), { op: '<=', value: 1 }),
    targetRow(`Whole-stream overhead (${S.fastChunks} chunks), p50`, 'ms', per('stream', (r) => diff(r.gatehouse?.total?.p50, r.direct?.total?.p50))),
    targetRow(`${N} open streams: Gatehouse errors`, 'count', per('hold', (r) => r.gatehouse?.errors ?? null), undefined, 0),
    targetRow(`Gatehouse RSS with ${N} open streams`, 'MB', per('hold', (r) => r.gatehouse?.proc?.rssMax ?? null), { op: '<=', value: 250 }, 1),
  ];

  // --- Absolute figures: one value function per row, evaluated for every column.
  const row = (label, unit, id, fn, digits, opts = {}) => absRow(label, unit, Object.fromEntries(COLUMNS.map((c) => [c, opts.only && !opts.only.includes(c) ? null : per(id, (r) => fn(r, c))])), digits);
  const single = (label, unit, byCol, digits) => absRow(label, unit, Object.fromEntries(COLUMNS.map((c) => [c, byCol[c] === undefined || byCol[c] === null ? null : [byCol[c]]])), digits);
  const lat = (scen, p) => (r, t) => r[t]?.latency?.[p] ?? null;
  const over = (scen, p) => (r, t) => (t === 'direct' ? null : diff(r[t]?.latency?.[p], r.direct?.latency?.[p]));
  const st = (f) => (r, t) => f(r[t]);
  const absolute = [
    row('1 connection: latency p50', 'ms', 'seq', lat('seq', 'p50')),
    row('1 connection: latency p99', 'ms', 'seq', lat('seq', 'p99')),
    row('1 connection: added latency p50 (over direct)', 'ms', 'seq', over('seq', 'p50')),
    row('1 connection: added latency p99 (over direct)', 'ms', 'seq', over('seq', 'p99')),
    row('1 connection: requests/s', 'req/s', 'seq', (r, t) => r[t]?.rps ?? null, 0),
    row(`${S.satConns} connections: requests/s`, 'req/s', 'sat', (r, t) => r[t]?.rps ?? null, 0),
    row(`${S.satConns} connections: latency p50`, 'ms', 'sat', lat('sat', 'p50')),
    row(`${S.satConns} connections: latency p99`, 'ms', 'sat', lat('sat', 'p99')),
    row(`${S.satConns} conn., 50 ms upstream: requests/s`, 'req/s', 'd50', (r, t) => r[t]?.rps ?? null, 0),
    row(`${S.satConns} conn., 50 ms upstream: latency p99`, 'ms', 'd50', lat('d50', 'p99')),
    row(`${S.rate} req/s: achieved rate`, 'req/s', 'rate', (r, t) => r[t]?.rps ?? null, 0),
    row(`${S.rate} req/s: latency p50`, 'ms', 'rate', lat('rate', 'p50')),
    row(`${S.rate} req/s: latency p99`, 'ms', 'rate', lat('rate', 'p99')),
    row(`${S.rate} req/s: overhead p50 (over direct)`, 'ms', 'rate', over('rate', 'p50')),
    row(`${S.rate} req/s: overhead p99 (over direct)`, 'ms', 'rate', over('rate', 'p99')),
    absRow('Load runs: errors + non-2xx (sum over repeats)', 'count', Object.fromEntries(COLUMNS.map((t) => {
      let sum = 0; let seen = false;
      for (const id of ['seq', 'sat', 'd50', 'rate']) for (const r of results[id] ?? []) if (r[t]) { seen = true; sum += r[t].errors + r[t].non2xx + r[t].timeouts; }
      return [t, seen ? [sum] : null];
    })), 0),
    row('Stream: time to first byte p50', 'ms', 'stream', st((x) => x?.ttfb?.p50)),
    row('Stream: time to first byte p99', 'ms', 'stream', st((x) => x?.ttfb?.p99)),
    row(`Stream: whole stream (${S.fastChunks} chunks) p50`, 'ms', 'stream', st((x) => x?.total?.p50)),
    row(`Stream: whole stream (${S.fastChunks} chunks) p99`, 'ms', 'stream', st((x) => x?.total?.p99)),
    row(`${N} open streams: errors`, 'count', 'hold', st((x) => x?.errors), 0),
    row(`${N} open streams: upstream streams in flight at once (max)`, 'count', 'hold', st((x) => x?.upstreamMaxInflight), 0),
    row(`${N} open streams: time until all had a first byte`, 'ms', 'hold', st((x) => x?.allOpenMs), 0),
    row(`${N} open streams: connections dropped by a full listen queue (machine-wide)`, 'count', 'hold', st((x) => x?.listenOverflows), 0),
    row(`${N} open streams: first byte p50`, 'ms', 'hold', st((x) => x?.ttfb?.p50), 0),
    row(`${N} open streams: first byte p99`, 'ms', 'hold', st((x) => x?.ttfb?.p99), 0),
    row(`${N} open streams: whole stream p50 (nominal ${S.slowChunks * S.slowIntervalMs})`, 'ms', 'hold', st((x) => x?.total?.p50), 0),
    row(`${N} open streams: whole stream max`, 'ms', 'hold', st((x) => x?.total?.max), 0),
    single('RSS idle, after start', 'MB', idleFresh, 1),
    single(`RSS idle, ${idleS} s after start (a gateway left idle)`, 'MB', idleSettled, 1),
    single('RSS idle, after the load', 'MB', idleAfter, 1),
    single(`RSS idle, ${lateS} s after the load`, 'MB', idleLate, 1),
    row(`RSS max, ${S.satConns} connections`, 'MB', 'sat', st((x) => x?.proc?.rssMax), 1),
    row(`RSS max, ${N} open streams`, 'MB', 'hold', st((x) => x?.proc?.rssMax), 1),
    row(`RSS growth while ${N} streams were open (max − start of run)`, 'MB', 'hold', st((x) => diff(x?.proc?.rssMax, x?.proc?.rssStart)), 1),
    row('CPU per request, 1 connection', 'ms', 'seq', st(cpuPer)),
    row(`CPU per request, ${S.satConns} connections`, 'ms', 'sat', st(cpuPer)),
    row(`CPU per request, ${S.rate} req/s`, 'ms', 'rate', st(cpuPer)),
    row(`CPU per request, ${S.satConns} conn. 50 ms upstream`, 'ms', 'd50', st(cpuPer)),
    row(`CPU per stream (${S.fastChunks} chunks), one at a time`, 'ms', 'stream', st((x) => (x?.proc && x.ok ? x.proc.cpuMs / x.ok : null))),
    row(`JS heap allocated per request, ${S.satConns} connections`, 'KB', 'sat', st(allocPer), 1),
    row(`JS heap allocated per stream (${S.fastChunks} chunks)`, 'KB', 'stream', st((x) => (x?.proc?.eld?.allocatedBytes != null && x.ok ? x.proc.eld.allocatedBytes / x.ok / 1024 : null)), 1),
    row(`Event-loop delay p99, ${S.satConns} connections`, 'ms', 'sat', st((x) => x?.proc?.eld?.p99)),
    row(`Event-loop delay max, ${S.satConns} connections`, 'ms', 'sat', st((x) => x?.proc?.eld?.max)),
    row(`Event-loop delay p99, ${S.rate} req/s`, 'ms', 'rate', st((x) => x?.proc?.eld?.p99)),
    row(`Event-loop delay p99, ${N} open streams`, 'ms', 'hold', st((x) => x?.proc?.eld?.p99)),
  ];

  // --- Variant table (medians over repeats; ratios within each repeat).
  const med = (arr) => { const v = arr.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b); return v.length ? (v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : null; };
  const listed = opt['compare-tree'] ? [...VARIANTS, { id: 'gh-prev', label: `the Gatehouse of ${opt['compare-tree']} (its stock plugins, no feature)`, features: {} }] : VARIANTS;
  const variantRows = listed.filter((v) => results.sat?.[0]?.[v.id] !== undefined || results.seq?.[0]?.[v.id] !== undefined).map((v) => variantRow({
    id: v.id, label: v.label,
    cpuSat: med(per('sat', (r) => cpuPer(r[v.id]))),
    cpuSatX: med(vsBase('sat', cpuPer, v.id)),
    cpuSeq: med(per('seq', (r) => cpuPer(r[v.id]))),
    cpuSeqX: med(vsBase('seq', cpuPer, v.id)),
    rps: med(per('sat', (r) => r[v.id]?.rps ?? null)),
    addedP50: med(added('seq', v.id, 'p50')),
    addedP99: med(added('seq', v.id, 'p99')),
    overBaseP50: med(per('seq', (r) => diff(r[v.id]?.latency?.p50, r['gh-base']?.latency?.p50))),
    allocKB: med(per('sat', (r) => allocPer(r[v.id]))),
    rssIdle: idleFresh[v.id] ?? null,
    rssAfter: idleAfter[v.id] ?? null,
    redisPerReq: v.features.redis ? med(per('sat', (r) => ratio(redisSent(r[v.id]?.redisCommands), r[v.id]?.upstreamRequests))) : null,
    cpuStream: med(per('stream', (r) => (r[v.id]?.proc && r[v.id].ok ? r[v.id].proc.cpuMs / r[v.id].ok : null))),
    holdAllOpen: med(per('hold', (r) => r[v.id]?.allOpenMs ?? null)),
  }));

  // --- Start-up.
  const startRows = [];
  if (startup) {
    const stats = (arr) => (arr.length ? percentiles(arr) : null);
    startRows.push(['Stock distribution, features on: `gatehouse start` to the first answered request', stats(ms(startup.stock)), 'ms']);
    startRows.push(['Stock distribution: RSS 0.5 s after its first answer (no preload)', stats(startup.stock.map((x) => x.rss)), 'MB']);
    startRows.push(['`gatehouse --version`', stats(startup.version), 'ms']);
    if (startup.trimmed.length) {
      startRows.push(['examples/trimmed-gateway: `gatehouse start` to the first answered request', stats(ms(startup.trimmed)), 'ms']);
      startRows.push(['examples/trimmed-gateway: RSS 0.5 s after its first answer', stats(startup.trimmed.map((x) => x.rss)), 'MB']);
    }
  }

  const notesOut = [
    'Upstream: `test/bench/upstream.mjs`, plain node:http in its own process. Non-streaming: a fixed ~700-byte chat.completion, at once (`/v1`) or after 50 ms (`/d50/v1`). Streaming: OpenAI chat.completion.chunk events (role, one content delta per event, finish, usage when asked, `data: [DONE]`); ' +
      `${S.fastChunks} content chunks one event-loop turn apart for the one-at-a-time test, ${S.slowChunks} chunks every ${S.slowIntervalMs} ms for the held-open test (\`/slow/v1\`).`,
    'Node floor: `test/bench/floor-proxy.mjs` (50 lines): node:http in, one undici keep-alive Agent out (no connection cap), one `JSON.parse` of the caller\'s body and one `JSON.stringify` of what goes upstream, the answer piped back (with backpressure). It gets what Gatehouse gets and sends what Gatehouse sends. nginx: one process (`master_process off`), `proxy_pass` to the upstream over keep-alive connections, buffering off; it forwards the direct request as it is.',
    'Direct requests (and nginx) carry what Gatehouse itself sends upstream (`model`, and for streams `stream_options.include_usage`), so the upstream does the same work; Gatehouse and the Node floor get the MLflow body `{"messages": [...]}` (Gatehouse on `POST /endpoints/<name>/invocations`); the peer gets the OpenAI body with `x-portkey-provider: openai` and `x-portkey-custom-host`.',
    `Gatehouse variants (one process each, all started before the first run and measured in the same interleaved rounds as the floors): ${VARIANTS.map((v) => `**${v.id}** — ${v.label}`).join('; ')}. The limit is \`limit: {calls: ${S.generousLimit.calls}, renewal_period: ${S.generousLimit.renewal_period}}\` on every bench endpoint (never reached); Redis is a local \`redis-server\` on a free loopback port without persistence (\`rate-limit: {storage_uri: redis://127.0.0.1:PORT}\`); tracing is \`{sampling_rate: ${S.samplingRate}, slow_threshold_ms: 1000}\` writing to the file store in a temp dir; the request log goes to a file. "Commands sent to Redis per request": the change of the server's \`INFO commandstats\` over a run, less the GET and SET the limiter's script runs inside Redis (one each per script call) and the bench's own INFO, divided by the requests the upstream got in that run (every call that passed the limiter; the responses of a load run miss the requests still in flight when it stops); a Redis round trip is a PING on one connection (p50 of ${quick ? 50 : 500}).`,
    `Load: autocannon's programmatic API, one child process per run (\`test/bench/load.mjs\`). Latency percentiles are exact, from every 2xx response time autocannon reports (process.hrtime, sub-millisecond). Every run lasts ${S.seqS} s; before the first, each target gets a warm-up at ${S.satConns} connections (${S.warmupS} s; direct ${Math.min(1, S.warmupS)} s) so V8 has optimised the hot paths${quick ? ' (not in a quick run)' : ''}.`,
    `Fixed rate: autocannon \`overallRate: ${S.rate}\` over ${S.rateConns} connections; autocannon paces by a per-second budget per connection, so each second starts with a burst at up to ${S.rateConns} concurrent requests, then idles.`,
    'Streaming: `test/bench/stream-client.mjs` (node:http) times the first body byte and the last byte of each stream. Gatehouse streams on the MLflow surface carry no usage chunk and no `[DONE]`; a stream counts as complete when all content chunks arrived.',
    `Held-open streams: ${N} streams opened at once (batches of 50, 5 ms apart) against the slow upstream; "time until all had a first byte" is from the first request to the last stream's first byte; the process's RSS is sampled every 100 ms and the max is shown; a stream is an error if it fails, answers non-200, misses chunks, or is still open ${S.slowChunks * S.slowIntervalMs * 8 + 15_000} ms after the start.`,
    'CPU per request: utime+stime of the target\'s own process over the run (/proc/<pid>/stat, 10 ms ticks) divided by the responses of that run; for direct there is no process in between. JS heap allocated: bytes allocated on the V8 heap over the run (`v8.GCProfiler` in the preload: per GC, used-before minus the previous used-after, plus the growth since the last GC), divided by the responses. Event-loop delay: `perf_hooks.monitorEventLoopDelay` (10 ms resolution, subtracted). Both from `test/bench/eld-preload.mjs`, loaded with `node --import` into the Node floor, every Gatehouse and the peer.',
    '"RSS idle, after start" is read 0.5 s after the sanity requests (one JSON, one stream per target); "N s after start" from one more features-on Gatehouse that answered one JSON and one stream request and then sat idle for the whole run (the target is judged on that one: Gatehouse collects start-up’s garbage once idle for `server.idle_gc_seconds`, 60 s, and again 6 s later); "after the load" 2 s after the last run, and once more at least 12 s after it, after the start-up measurements (the gateways idle all along), to show what is given back: Gatehouse collects its heap once it has been idle for 60 s and again 6 s later (`server.idle_gc_seconds`); the target is judged on that later reading. Start-up: `node core/bin/gatehouse.js start` spawned (through `sh`, for the open-files limit) with the features-on config, and a chat request sent every ~3 ms from the spawn until the first 200; the process is stopped after each try. `--version`: the whole `node core/bin/gatehouse.js --version` process, spawn to exit.',
    'Every process (client, upstream, floors, the Gatehouse variants, the peer) shares the same cores, so absolute numbers are the whole box\'s; ratios within one repeat are the headline. When "machine load" above shows other processes using CPU, every figure is lower and noisier than on a quiet machine.',
  ];
  return { targets, featureTargets, earlier, absolute, variantRows, startRows, notes: notesOut };
}

main().then(() => process.exit(0), async (e) => {
  log(`bench failed: ${e?.stack ?? e}`);
  await P.stopAll(1000);
  process.exit(1);
});
