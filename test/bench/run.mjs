#!/usr/bin/env node
/**
 * Gatehouse benchmark suite: `npm run bench [-- options]`.
 *
 * Sends the same requests three ways, interleaved: straight to a fake OpenAI upstream, through
 * Gatehouse, and through the Portkey gateway (the peer); reports Gatehouse's cost as ratios and
 * overheads against the direct run, with min / median / max over repeats. See docs/benchmarks.md.
 *
 *   --quick           seconds-long smoke run (also BENCH_QUICK=1): tiny durations, 1 repeat, 50 streams
 *   --out FILE        write the Markdown there (default docs/benchmarks.md; with --quick, only when given)
 *   --json FILE       also write every raw figure as JSON
 *   --repeats N       repeats of every run (default 3; quick 1)
 *   --duration S      seconds per load and streaming run (default 3; quick 0.5)
 *   --streams N       streams held open at once (default 1000; quick 50)
 *   --only IDS        run only these scenarios (comma-separated: seq,sat,d50,rate,stream,hold)
 *   --no-peer         leave the peer out
 *   --no-build        do not run `tsc -b` on the packages the gateway needs first
 *   --cpu-prof DIR    run the gateway under `node --cpu-prof`; the profile lands in DIR when it stops
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as P from './procs.mjs';
import { absRow, markdown, targetRow, absoluteTable, targetsTable } from './report.mjs';

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
    'no-build': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, '') + '\n');
  process.exit(0);
}

const quick = opt.quick || process.env.BENCH_QUICK === '1';
const num = (v, d) => (v === undefined ? d : Number(v));
const dur = num(opt.duration, quick ? 0.5 : 3);
const S = {
  quick,
  repeats: num(opt.repeats, quick ? 1 : 3),
  seqS: dur, satS: dur, d50S: dur, rateS: dur,
  rate: 1000, rateConns: 10, satConns: 50,
  streamSeqMs: dur * 1000,
  holdStreams: num(opt.streams, quick ? 50 : 1000),
  fastChunks: 16, slowChunks: quick ? 5 : 30, slowIntervalMs: 100,
  // Gatehouse and the peer need ~2 s of load before V8 has optimised their hot paths.
  warmupS: quick ? 0.3 : 2, settleMs: quick ? 100 : 300,
  peer: !opt['no-peer'],
};
const outFile = opt.out ? resolve(opt.out) : quick ? null : join(ROOT, 'docs', 'benchmarks.md');
const log = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);

// Everything stops by itself: children die with the runner, and the runner has a deadline.
const tmp = mkdtempSync(join(os.tmpdir(), 'gatehouse-bench-'));
P.installCleanup(tmp);
const deadlineMs = quick ? 90_000 : 9 * 60_000;
setTimeout(() => { log(`bench: still running after ${deadlineMs / 1000} s; giving up`); P.stopAll(1000).finally(() => process.exit(1)); }, deadlineMs).unref();

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

function gatehouseConfig(upPort, plugins) {
  const ep = (name, base) => `  - name: ${name}
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-4o-mini
      config:
        openai_api_key: sk-bench
        openai_api_base: http://127.0.0.1:${upPort}${base}
`;
  const off = plugins.filter((p) => !p.enabled).map((p) => `${p.name}:\n  enabled: false  # ${p.why}\n`).join('');
  return `# Written by test/bench/run.mjs\nendpoints:\n${ep('chat', '/v1')}${ep('chat-d50', '/d50/v1')}${ep('chat-slow', '/slow/v1')}${off}`;
}

// ---------------------------------------------------------------------------------------------
// Processes

const preload = pathToFileURL(join(HERE, 'eld-preload.mjs')).href;
const procs = {};

async function startUpstream() {
  const child = P.spawnNode({
    name: 'upstream', script: join(HERE, 'upstream.mjs'), ipc: true, cwd: ROOT,
    env: P.childEnv({ BENCH_FAST_CHUNKS: String(S.fastChunks), BENCH_SLOW_CHUNKS: String(S.slowChunks), BENCH_SLOW_INTERVAL_MS: String(S.slowIntervalMs) }),
  });
  const { port } = await P.waitMessage(child, (m) => m?.type === 'ready', 15_000);
  return { child, port };
}

async function startGatehouse(upPort, plugins) {
  const configPath = join(tmp, 'gatehouse.yaml');
  for (let attempt = 0; ; attempt++) {
    writeFileSync(configPath, gatehouseConfig(upPort, plugins));
    const port = await P.freePort();
    const eldFile = join(tmp, 'eld-gatehouse.json');
    const prof = opt['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opt['cpu-prof'])}`] : [];
    if (prof.length) mkdirSync(resolve(opt['cpu-prof']), { recursive: true });
    const child = P.spawnNode({
      name: 'gatehouse', script: join(ROOT, 'core', 'bin', 'gatehouse.js'), cwd: ROOT,
      nodeArgs: ['--import', preload, ...prof],
      args: ['start', '--config-path', configPath, '--host', '127.0.0.1', '--port', String(port), '--grace-period', '2'],
      env: P.childEnv({ GATEHOUSE_LOG_LEVEL: 'warn', BENCH_ELD_FILE: eldFile, BENCH_PARENT_PID: String(process.pid) }),
    });
    try {
      await P.waitHttp(`http://127.0.0.1:${port}/health`, child);
      return { child, port, eldFile };
    } catch (e) {
      // A stock plugin that is installed but broken right now: leave it out once, and say so.
      const broken = plugins.filter((p) => p.enabled && child.log().includes(p.name));
      if (attempt > 0 || !broken.length) throw e;
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
// Targets: the same chat request, three ways. Variants: '' (0 ms), '/d50' (50 ms), '/slow' (slow stream).

const messages = [{ role: 'user', content: 'hi' }];
const json = { 'content-type': 'application/json' };
let targets;

function defineTargets(upPort, gw, peer) {
  const endpoint = { '': 'chat', '/d50': 'chat-d50', '/slow': 'chat-slow' };
  targets = {
    // What Gatehouse itself sends upstream, so the upstream does the same work either way.
    direct: (v, stream) => ({
      url: `http://127.0.0.1:${upPort}${v}/v1/chat/completions`,
      headers: { ...json, authorization: 'Bearer sk-bench' },
      body: JSON.stringify(stream ? { model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } } : { model: 'gpt-4o-mini', messages }),
    }),
    gatehouse: (v, stream) => ({
      url: `http://127.0.0.1:${gw.port}/endpoints/${endpoint[v]}/invocations`,
      headers: json,
      body: JSON.stringify(stream ? { messages, stream: true } : { messages }),
    }),
    ...(peer ? {
      peer: (v) => ({
        url: `http://127.0.0.1:${peer.port}/v1/chat/completions`,
        headers: { ...json, authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${upPort}${v}/v1` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
      }),
    } : {}),
  };
}

/** One request through each target before measuring: a wrong setup must not look like a fast one. */
async function sanity(name) {
  const r = targets[name]('', false);
  const res = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('fixed answer from the benchmark upstream')) throw new Error(`${name}: unexpected answer ${res.status} ${text.slice(0, 300)}`);
  if (name !== 'peer') {
    const s = targets[name]('', true);
    const sres = await fetch(s.url, { method: 'POST', headers: s.headers, body: s.body, signal: AbortSignal.timeout(10_000) });
    const stext = await sres.text();
    if (sres.status !== 200 || (stext.match(/qzx/g) ?? []).length !== S.fastChunks) throw new Error(`${name} (stream): unexpected answer ${sres.status} ${stext.slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement around one run: CPU time and max RSS of the gateway and the peer, event-loop delay.

const watched = () => [['gatehouse', procs.gatehouse], ['peer', procs.peer]].filter(([, p]) => p);

async function measured(fn) {
  for (const [, p] of watched()) await P.readEld(p.child, p.eldFile); // reset
  const cpu0 = Object.fromEntries(watched().map(([n, p]) => [n, P.cpuMs(p.child.pid)]));
  const rssStart = Object.fromEntries(watched().map(([n, p]) => [n, P.rssMB(p.child.pid)]));
  const sampler = P.rssSampler(watched().map(([, p]) => p.child.pid));
  const openRss = {};
  procs.upstream.child.send({ type: 'stats' });
  await P.waitMessage(procs.upstream.child, (m) => m?.type === 'stats', 5000); // resets the upstream's max
  const result = await fn((m) => {
    if (m?.type === 'open') for (const [n, p] of watched()) openRss[n] = P.rssMB(p.child.pid);
  });
  const rssMax = sampler.stop();
  procs.upstream.child.send({ type: 'stats' });
  const upstream = await P.waitMessage(procs.upstream.child, (m) => m?.type === 'stats', 5000);
  const proc = {};
  for (const [n, p] of watched()) {
    proc[n] = {
      cpuMs: P.cpuMs(p.child.pid) - cpu0[n],
      rssMax: rssMax[p.child.pid],
      rssStart: rssStart[n],
      rssAtOpen: openRss[n] ?? null,
      eld: await P.readEld(p.child, p.eldFile),
    };
  }
  if (procs.gatehouse.child.exitCode !== null || procs.gatehouse.child.signalCode !== null) {
    throw new Error(`gatehouse stopped during the run:\n${procs.gatehouse.child.log()}`);
  }
  return { ...result, proc, upstreamMaxInflight: upstream.maxInflight };
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
  const r = targets[target](variant, false);
  return measured(async () => {
    const res = await child('load.mjs', { ...r, connections, duration, overallRate }, (duration + 30) * 1000);
    if (res.error) throw new Error(`autocannon: ${res.error}`);
    return res;
  });
}

/** One run of the streaming client against a target. */
function streamRun(target, variant, job, timeoutMs) {
  const r = targets[target](variant, true);
  return measured((onOpen) => child('stream-client.mjs', { ...job, url: r.url, body: r.body }, timeoutMs, onOpen));
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const scenarios = [
  { id: 'seq', title: 'one connection, sequential', targets: ['direct', 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '', { connections: 1, duration: S.seqS }) },
  { id: 'sat', title: `saturation, ${S.satConns} connections`, targets: ['direct', 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '', { connections: S.satConns, duration: S.satS }) },
  { id: 'd50', title: `${S.satConns} connections, 50 ms upstream`, targets: ['direct', 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '/d50', { connections: S.satConns, duration: S.d50S }) },
  { id: 'rate', title: `fixed rate ${S.rate} req/s`, targets: ['direct', 'gatehouse', 'peer'],
    run: (t) => loadRun(t, '', { connections: S.rateConns, duration: S.rateS, overallRate: S.rate }) },
  { id: 'stream', title: 'streaming, one at a time', targets: ['direct', 'gatehouse'],
    run: (t) => streamRun(t, '', { mode: 'seq', durationMs: S.streamSeqMs, expectChunks: S.fastChunks }, S.streamSeqMs + 30_000) },
  { id: 'hold', title: `${S.holdStreams} streams held open`, targets: ['direct', 'gatehouse'],
    run: (t) => {
      const streamMs = S.slowChunks * S.slowIntervalMs;
      const deadlineMs = streamMs * 8 + 15_000;
      return streamRun(t, '/slow', { mode: 'hold', streams: S.holdStreams, expectChunks: S.slowChunks, deadlineMs }, deadlineMs + 30_000);
    } },
];

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

async function main() {
  const plugins = prepare();
  const up = await startUpstream();
  procs.upstream = up;
  log(`upstream on 127.0.0.1:${up.port}`);
  procs.gatehouse = await startGatehouse(up.port, plugins);
  log(`gatehouse on 127.0.0.1:${procs.gatehouse.port} (pid ${procs.gatehouse.child.pid})`);
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
  defineTargets(up.port, procs.gatehouse, procs.peer);
  for (const name of Object.keys(targets)) {
    try { await sanity(name); } catch (e) {
      if (name !== 'peer') throw e;
      log(`peer answers wrongly, continuing without it: ${e.message}`);
      await P.stop(procs.peer.child);
      procs.peer = undefined;
      delete targets.peer;
    }
  }
  const available = Object.keys(targets);

  await sleep(500);
  const idleFresh = Object.fromEntries(watched().map(([n, p]) => [n, P.rssMB(p.child.pid)]));

  log(`warm-up (${S.warmupS} s per target) ...`);
  for (const t of available) await loadRun(t, '', { connections: S.satConns, duration: t === 'direct' ? Math.min(1, S.warmupS) : S.warmupS });

  const only = opt.only ? new Set(opt.only.split(',')) : null;
  const results = {};
  for (const sc of scenarios) {
    if (only && !only.has(sc.id)) continue;
    const ts = sc.targets.filter((t) => available.includes(t));
    results[sc.id] = [];
    for (let rep = 0; rep < S.repeats; rep++) {
      const row = {};
      for (const t of rotate(ts, rep)) {
        log(`${sc.title}: repeat ${rep + 1}/${S.repeats}, ${t}`);
        try { row[t] = await sc.run(t); } catch (e) {
          if (/gatehouse stopped/.test(e.message)) throw e;
          log(`  failed: ${e.message.split('\n')[0]}`);
          row[t] = null;
        }
        await sleep(S.settleMs);
      }
      results[sc.id].push(row);
    }
  }

  await sleep(2000);
  const idleAfter = Object.fromEntries(watched().map(([n, p]) => [n, P.rssMB(p.child.pid)]));
  const machine = machineInfo();
  machine.wallS = ((Date.now() - t0) / 1000).toFixed(0);
  await P.stop(procs.gatehouse.child, 15_000); // lets --cpu-prof write its profile
  await P.stopAll();
  const machineEnd = P.machineCpu();
  machine.load = `${loadStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (1-min load average)`;
  machine.foreignCpu = P.foreignCpuShare(machineStart, machineEnd);

  const { targetRows, absRows, notes } = figures(results, { idleFresh, idleAfter });
  const pluginText = describePlugins(plugins);
  const md = markdown({ machine, settings: S, targets: targetRows, absolute: absRows, notes, plugins: pluginText });
  process.stdout.write(`\nGatehouse benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}${quick ? ' (quick)' : ''}\n\n`);
  process.stdout.write(`Targets (min / median / max over ${S.repeats} repeat(s); status from the median)\n\n${targetsTable(targetRows)}\n\n`);
  process.stdout.write(`Absolute figures\n\n${absoluteTable(absRows)}\n\n`);
  if (outFile) { mkdirSync(dirname(outFile), { recursive: true }); writeFileSync(outFile, md); log(`wrote ${outFile}`); }
  if (opt.json) writeFileSync(resolve(opt.json), JSON.stringify({ machine, settings: S, plugins, idleFresh, idleAfter, results }, null, 2));
  log(`done in ${machine.wallS} s`);
}

function describePlugins(plugins) {
  const on = plugins.filter((p) => p.enabled).map((p) => `\`${p.name}\``);
  const off = plugins.filter((p) => !p.enabled).map((p) => `\`${p.name}\` (${p.why})`);
  return `${on.length ? `enabled: ${on.join(', ')}` : 'enabled: none'}${off.length ? `; left out: ${off.join(', ')}` : ''}`;
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
    autocannon: version('node_modules/autocannon/package.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// Figures

function figures(results, { idleFresh, idleAfter }) {
  const per = (id, fn) => (results[id] ?? []).map((row) => { try { return fn(row); } catch { return null; } });
  const diff = (a, b) => (a === null || a === undefined || b === null || b === undefined ? null : a - b);
  const ratio = (a, b) => (a && b ? a / b : null);
  const lat = (id, t, p) => per(id, (r) => r[t]?.latency?.[p] ?? null);
  const by = (fn, ts = ['direct', 'gatehouse', 'peer']) => Object.fromEntries(ts.map((t) => [t, fn(t)]));
  const procFig = (id, f) => ({ gatehouse: per(id, (r) => f(r.gatehouse?.proc?.gatehouse)), peer: per(id, (r) => f(r.peer?.proc?.peer)) });
  const N = S.holdStreams;

  const cpuRow = (id) => {
    const reqs = (r, t) => (r[t] ? r[t].ok + r[t].non2xx : 0);
    return {
      gatehouse: per(id, (r) => (reqs(r, 'gatehouse') ? r.gatehouse.proc.gatehouse.cpuMs / reqs(r, 'gatehouse') : null)),
      peer: per(id, (r) => (reqs(r, 'peer') && r.peer.proc.peer ? r.peer.proc.peer.cpuMs / reqs(r, 'peer') : null)),
    };
  };

  const targetRows = [
    targetRow('Added latency, 1 connection, p50', 'ms', per('seq', (r) => diff(r.gatehouse.latency.p50, r.direct.latency.p50)), { op: '<=', value: 0.3 }),
    targetRow('Added latency, 1 connection, p99', 'ms', per('seq', (r) => diff(r.gatehouse.latency.p99, r.direct.latency.p99)), { op: '<=', value: 1 }),
    targetRow(`Throughput, ${S.satConns} connections, Gatehouse / direct`, '×', per('sat', (r) => ratio(r.gatehouse.rps, r.direct.rps)), { op: '>=', value: 0.5 }, 2),
    targetRow(`Throughput, ${S.satConns} connections, Gatehouse / peer`, '×', per('sat', (r) => ratio(r.gatehouse.rps, r.peer?.rps)), { op: '>=', value: 2 }, 2),
    targetRow(`Overhead at ${S.rate} req/s, p50`, 'ms', per('rate', (r) => diff(r.gatehouse.latency.p50, r.direct.latency.p50)), { op: '<=', value: 0.5 }),
    targetRow(`Overhead at ${S.rate} req/s, p99`, 'ms', per('rate', (r) => diff(r.gatehouse.latency.p99, r.direct.latency.p99)), { op: '<=', value: 2 }),
    targetRow('Streaming TTFB overhead, p50', 'ms', per('stream', (r) => diff(r.gatehouse.ttfb.p50, r.direct.ttfb.p50)), { op: '<=', value: 1 }),
    targetRow('Streaming TTFB overhead, p99', 'ms', per('stream', (r) => diff(r.gatehouse.ttfb.p99, r.direct.ttfb.p99))),
    targetRow(`Whole-stream overhead (${S.fastChunks} chunks), p50`, 'ms', per('stream', (r) => diff(r.gatehouse.total.p50, r.direct.total.p50))),
    targetRow(`Throughput, ${S.satConns} connections, 50 ms upstream, Gatehouse / direct`, '×', per('d50', (r) => ratio(r.gatehouse.rps, r.direct.rps)), undefined, 2),
    targetRow(`${N} open streams: Gatehouse errors`, 'count', per('hold', (r) => r.gatehouse?.errors ?? null), undefined, 0),
    targetRow('Gatehouse RSS idle, after start', 'MB', [idleFresh.gatehouse], { op: '<=', value: 100 }, 1),
    targetRow('Gatehouse RSS idle, after the load', 'MB', [idleAfter.gatehouse], { op: '<=', value: 100 }, 1),
    targetRow(`Gatehouse RSS with ${N} open streams`, 'MB', per('hold', (r) => r.gatehouse?.proc?.gatehouse?.rssMax ?? null), { op: '<=', value: 250 }, 1),
  ];

  const absRows = [
    absRow('1 connection: latency p50', 'ms', by((t) => lat('seq', t, 'p50'))),
    absRow('1 connection: latency p99', 'ms', by((t) => lat('seq', t, 'p99'))),
    absRow('1 connection: added latency p50 (over direct)', 'ms', by((t) => (t === 'direct' ? null : per('seq', (r) => diff(r[t]?.latency.p50, r.direct.latency.p50))))),
    absRow('1 connection: added latency p99 (over direct)', 'ms', by((t) => (t === 'direct' ? null : per('seq', (r) => diff(r[t]?.latency.p99, r.direct.latency.p99))))),
    absRow('1 connection: requests/s', 'req/s', by((t) => per('seq', (r) => r[t]?.rps ?? null)), 0),
    absRow(`${S.satConns} connections: requests/s`, 'req/s', by((t) => per('sat', (r) => r[t]?.rps ?? null)), 0),
    absRow(`${S.satConns} connections: share of direct`, '×', by((t) => per('sat', (r) => ratio(r[t]?.rps, r.direct.rps))), 2),
    absRow(`${S.satConns} connections: latency p50`, 'ms', by((t) => lat('sat', t, 'p50'))),
    absRow(`${S.satConns} connections: latency p99`, 'ms', by((t) => lat('sat', t, 'p99'))),
    absRow(`${S.satConns} conn., 50 ms upstream: requests/s`, 'req/s', by((t) => per('d50', (r) => r[t]?.rps ?? null)), 0),
    absRow(`${S.satConns} conn., 50 ms upstream: latency p50`, 'ms', by((t) => lat('d50', t, 'p50'))),
    absRow(`${S.satConns} conn., 50 ms upstream: latency p99`, 'ms', by((t) => lat('d50', t, 'p99'))),
    absRow(`${S.rate} req/s: achieved rate`, 'req/s', by((t) => per('rate', (r) => r[t]?.rps ?? null)), 0),
    absRow(`${S.rate} req/s: latency p50`, 'ms', by((t) => lat('rate', t, 'p50'))),
    absRow(`${S.rate} req/s: latency p99`, 'ms', by((t) => lat('rate', t, 'p99'))),
    absRow(`${S.rate} req/s: overhead p50 (over direct)`, 'ms', by((t) => (t === 'direct' ? null : per('rate', (r) => diff(r[t]?.latency.p50, r.direct.latency.p50))))),
    absRow(`${S.rate} req/s: overhead p99 (over direct)`, 'ms', by((t) => (t === 'direct' ? null : per('rate', (r) => diff(r[t]?.latency.p99, r.direct.latency.p99))))),
    absRow('Load runs: errors + non-2xx (sum over repeats)', 'count', by((t) => {
      let sum = 0;
      for (const id of ['seq', 'sat', 'd50', 'rate']) for (const r of results[id] ?? []) if (r[t]) sum += r[t].errors + r[t].non2xx + r[t].timeouts;
      return available(t) ? [sum] : null;
    }), 0),
    absRow('Stream: time to first byte p50', 'ms', by((t) => per('stream', (r) => r[t]?.ttfb.p50 ?? null), ['direct', 'gatehouse'])),
    absRow('Stream: time to first byte p99', 'ms', by((t) => per('stream', (r) => r[t]?.ttfb.p99 ?? null), ['direct', 'gatehouse'])),
    absRow(`Stream: whole stream (${S.fastChunks} chunks) p50`, 'ms', by((t) => per('stream', (r) => r[t]?.total.p50 ?? null), ['direct', 'gatehouse'])),
    absRow(`Stream: whole stream (${S.fastChunks} chunks) p99`, 'ms', by((t) => per('stream', (r) => r[t]?.total.p99 ?? null), ['direct', 'gatehouse'])),
    absRow(`${N} open streams: errors`, 'count', by((t) => per('hold', (r) => r[t]?.errors ?? null), ['direct', 'gatehouse']), 0),
    absRow(`${N} open streams: upstream streams in flight at once (max)`, 'count', by((t) => per('hold', (r) => r[t]?.upstreamMaxInflight ?? null), ['direct', 'gatehouse']), 0),
    absRow(`${N} open streams: time until all had a first byte`, 'ms', by((t) => per('hold', (r) => r[t]?.allOpenMs ?? null), ['direct', 'gatehouse']), 0),
    absRow(`${N} open streams: first byte p99`, 'ms', by((t) => per('hold', (r) => r[t]?.ttfb.p99 ?? null), ['direct', 'gatehouse']), 0),
    absRow(`${N} open streams: whole stream p50 (nominal ${S.slowChunks * S.slowIntervalMs})`, 'ms', by((t) => per('hold', (r) => r[t]?.total.p50 ?? null), ['direct', 'gatehouse']), 0),
    absRow(`${N} open streams: whole stream max`, 'ms', by((t) => per('hold', (r) => r[t]?.total.max ?? null), ['direct', 'gatehouse']), 0),
    absRow('RSS idle, after start', 'MB', { gatehouse: [idleFresh.gatehouse], peer: procs.peer || idleFresh.peer ? [idleFresh.peer] : null }, 1),
    absRow('RSS idle, after the load', 'MB', { gatehouse: [idleAfter.gatehouse], peer: idleFresh.peer !== undefined ? [idleAfter.peer] : null }, 1),
    absRow(`RSS max, ${S.satConns} connections`, 'MB', procFig('sat', (p) => p?.rssMax ?? null), 1),
    absRow(`RSS max, ${N} open streams`, 'MB', { gatehouse: per('hold', (r) => r.gatehouse?.proc?.gatehouse?.rssMax ?? null) }, 1),
    absRow(`RSS growth while ${N} streams were open (max − start of run)`, 'MB', { gatehouse: per('hold', (r) => diff(r.gatehouse?.proc?.gatehouse?.rssMax, r.gatehouse?.proc?.gatehouse?.rssStart)) }, 1),
    absRow('CPU per request, 1 connection', 'ms', cpuRow('seq')),
    absRow(`CPU per request, ${S.satConns} connections`, 'ms', cpuRow('sat')),
    absRow(`CPU per request, ${S.rate} req/s`, 'ms', cpuRow('rate')),
    absRow(`CPU per request, ${S.satConns} conn. 50 ms upstream`, 'ms', cpuRow('d50')),
    absRow(`Event-loop delay p50, ${S.satConns} connections`, 'ms', procFig('sat', (p) => p?.eld?.p50 ?? null)),
    absRow(`Event-loop delay p99, ${S.satConns} connections`, 'ms', procFig('sat', (p) => p?.eld?.p99 ?? null)),
    absRow(`Event-loop delay max, ${S.satConns} connections`, 'ms', procFig('sat', (p) => p?.eld?.max ?? null)),
    absRow(`Event-loop delay p99, ${S.rate} req/s`, 'ms', procFig('rate', (p) => p?.eld?.p99 ?? null)),
    absRow(`Event-loop delay max, ${S.rate} req/s`, 'ms', procFig('rate', (p) => p?.eld?.max ?? null)),
    absRow(`Event-loop delay p99, ${N} open streams`, 'ms', { gatehouse: per('hold', (r) => r.gatehouse?.proc?.gatehouse?.eld?.p99 ?? null) }),
    absRow(`Event-loop delay max, ${N} open streams`, 'ms', { gatehouse: per('hold', (r) => r.gatehouse?.proc?.gatehouse?.eld?.max ?? null) }),
  ];

  const notes = [
    'Upstream: `test/bench/upstream.mjs`, plain node:http in its own process. Non-streaming: a fixed ~700-byte chat.completion, at once (`/v1`) or after 50 ms (`/d50/v1`). Streaming: OpenAI chat.completion.chunk events (role, one content delta per event, finish, usage when asked, `data: [DONE]`); ' +
      `${S.fastChunks} content chunks one event-loop turn apart for the one-at-a-time test, ${S.slowChunks} chunks every ${S.slowIntervalMs} ms for the held-open test (\`/slow/v1\`).`,
    'Direct requests carry what Gatehouse itself sends upstream (`model`, and for streams `stream_options.include_usage`), so the upstream does the same work; Gatehouse gets the MLflow body `{"messages": [...]}` on `POST /endpoints/<name>/invocations`; the peer gets the OpenAI body with `x-portkey-provider: openai` and `x-portkey-custom-host`.',
    `Load: autocannon's programmatic API, one child process per run (\`test/bench/load.mjs\`). Latency percentiles are exact, from every 2xx response time autocannon reports (process.hrtime, sub-millisecond); autocannon's own histogram keeps whole milliseconds. Every run lasts ${S.seqS} s; before the first, each target gets a warm-up at ${S.satConns} connections (${S.warmupS} s; direct ${Math.min(1, S.warmupS)} s) so V8 has optimised the hot paths.`,
    `Fixed rate: autocannon \`overallRate: ${S.rate}\` over ${S.rateConns} connections. autocannon paces by a per-second budget per connection, so each second starts with a burst at up to ${S.rateConns} concurrent requests, then idles; the percentiles describe that, not a perfectly even arrival.`,
    'Streaming: `test/bench/stream-client.mjs` (node:http) times the first body byte and the last byte of each stream. Gatehouse sends its headers with the first event; TTFB is measured to the first body byte on both paths, which is what a client can use. Gatehouse streams on the MLflow surface carry no usage chunk and no `[DONE]`; a stream counts as complete when all content chunks arrived.',
    `Held-open streams: ${N} streams opened at once (batches of 50, 5 ms apart) against the slow upstream; the gateway's RSS is sampled every 100 ms and the max is shown; a stream is an error if it fails, answers non-200, misses chunks, or is still open ${S.slowChunks * S.slowIntervalMs * 8 + 15_000} ms after the start.`,
    'CPU per request: utime+stime of the gateway (or peer) process over the run (/proc/<pid>/stat, 10 ms ticks) divided by the responses of that run. Event-loop delay: `perf_hooks.monitorEventLoopDelay` (10 ms resolution, the resolution subtracted) from `test/bench/eld-preload.mjs`, loaded with `node --import`; it is reset before each run and read after it (SIGUSR2 → JSON file).',
    'One Gatehouse process and one peer process serve the whole run (started once, with the preload above); "RSS idle, after start" is read 0.5 s after one request per target, "after the load" 2 s after the last run.',
    'Every process (client, upstream, Gatehouse, peer) shares the same cores, so absolute numbers are the whole box\'s; the direct column is the ceiling of this box with this client, and ratios against it are the headline. When "machine load" above shows other processes using CPU, every figure is lower and noisier than on a quiet machine.',
  ];
  const held = per('hold', (r) => r.gatehouse?.upstreamMaxInflight ?? null).filter((v) => v !== null);
  if (held.length && Math.max(...held) < N) {
    notes.push(`Through Gatehouse the upstream never saw more than ${Math.max(...held)} of the ${N} streams at once: the others waited in the gateway until an upstream connection was free (see "upstream streams in flight at once" and "time until all had a first byte"). The RSS figures for open streams therefore describe ${N} open client connections with at most ${Math.max(...held)} upstream streams, not ${N} live streams.`);
  }
  return { targetRows, absRows, notes };

  function available(t) { return t === 'peer' ? !!procs.peer || Object.values(results.seq?.[0] ?? {}).length === 3 : true; }
}

main().then(() => process.exit(0), async (e) => {
  log(`bench failed: ${e?.stack ?? e}`);
  await P.stopAll(1000);
  process.exit(1);
});
