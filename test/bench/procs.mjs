/**
 * Process plumbing for the benchmark: start children with a raised open-files limit, stop them all
 * on any exit, pick free loopback ports, and read a process's CPU time, RSS and limits from /proc.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const NOFILE = 65536;
const children = new Set();

/** The environment for children: no vitest markers (the gateway's loader reads VITEST and would look for .ts sources). */
export function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'VITEST' || k.startsWith('VITEST_') || k === 'TEST') delete env[k];
  if (env.NODE_ENV === 'test') delete env.NODE_ENV;
  return { ...env, ...extra };
}

/**
 * Start `node [nodeArgs] script [args]` through `sh` so the open-files limit can be raised first
 * (`exec` keeps the pid, so /proc/<pid> is node's). With ipc, the child gets an IPC channel.
 */
export function spawnNode({ name, script, nodeArgs = [], args = [], env, ipc = false, cwd }) {
  return spawnCmd({ name, cmd: process.execPath, args: [...nodeArgs, script, ...args], env, ipc, cwd });
}

/** Start any program the same way (raised open-files limit, output kept, stopped with the runner). */
export function spawnCmd({ name, cmd, args = [], env, ipc = false, cwd }) {
  const sh = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const child = spawn('sh', ['-c', sh, cmd, ...args], {
    cwd, env: env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  child.benchName = name;
  let log = '';
  const keep = (d) => { log = (log + d.toString()).slice(-8000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.log = () => log;
  child.exitedPromise = new Promise((r) => child.once('exit', (code, signal) => { child.exitInfo = { code, signal }; children.delete(child); r(child.exitInfo); }));
  children.add(child);
  return child;
}

const alive = (c) => c.exitCode === null && c.signalCode === null;

/** Stop one child: SIGTERM, then SIGKILL after graceMs. */
export async function stop(child, graceMs = 3000) {
  if (!child || !alive(child)) return child?.exitInfo;
  child.kill('SIGTERM');
  const t = setTimeout(() => { if (alive(child)) child.kill('SIGKILL'); }, graceMs);
  const info = await child.exitedPromise;
  clearTimeout(t);
  return info;
}

export async function stopAll(graceMs = 3000) {
  await Promise.all([...children].map((c) => stop(c, graceMs)));
}

/** Kill every child however the runner ends (normal exit, error, Ctrl-C); remove the temp dir. */
export function installCleanup(tmpDir) {
  const killNow = () => {
    for (const c of children) if (alive(c)) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    if (tmpDir && existsSync(tmpDir)) { try { rmSync(tmpDir, { recursive: true, force: true }); } catch { /* best effort */ } }
  };
  process.on('exit', killNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => { process.stderr.write(`\nbench: ${sig}, stopping children\n`); stopAll(1000).finally(() => process.exit(130)); });
  }
  process.on('uncaughtException', (e) => { process.stderr.write(`bench: ${e?.stack ?? e}\n`); killNow(); process.exit(1); });
  process.on('unhandledRejection', (e) => { process.stderr.write(`bench: ${e?.stack ?? e}\n`); killNow(); process.exit(1); });
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Wait until `url` answers at all (any status), or fail with the child's log if it exits or time runs out. */
export async function waitHttp(url, child, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(child)) throw new Error(`${child.benchName} exited (${JSON.stringify(child.exitInfo)}) before answering:\n${child.log()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`${child.benchName} did not answer ${url} within ${timeoutMs} ms:\n${child.log()}`);
    await sleep(100);
  }
}

/** Wait for an IPC message matching `pred`, with a timeout; fails if the child exits first. */
export function waitMessage(child, pred, timeoutMs, onOther) {
  return new Promise((resolve, reject) => {
    if (!alive(child)) { reject(new Error(`${child.benchName} is not running:\n${child.log()}`)); return; }
    const onMsg = (m) => { if (pred(m)) { done(); resolve(m); } else onOther?.(m); };
    const onExit = () => { done(); reject(new Error(`${child.benchName} exited (${JSON.stringify(child.exitInfo)}) without answering:\n${child.log()}`)); };
    const t = setTimeout(() => { done(); reject(new Error(`${child.benchName} gave no answer within ${timeoutMs} ms`)); }, timeoutMs);
    const done = () => { clearTimeout(t); child.off('message', onMsg); child.off('exit', onExit); };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

let clkTck;
function ticksPerSecond() {
  if (clkTck) return clkTck;
  try { clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clkTck = 100; }
  return clkTck;
}

/** User + system CPU time of a process, in ms (from /proc/<pid>/stat; resolution one clock tick). */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14, stime 15 (1-based over the whole line).
    return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond();
  } catch { return null; }
}

/** Resident set size in MB (VmRSS from /proc/<pid>/status). */
export function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch { return null; }
}

/** The soft open-files limit of a process. */
export function openFilesLimit(pid) {
  try {
    const m = /Max open files\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? m[1] : null;
  } catch { return null; }
}

/** Sample the RSS of some processes every `everyMs` until stop(); returns the max per pid. */
export function rssSampler(pids, everyMs = 100) {
  const max = Object.fromEntries(pids.map((p) => [p, null]));
  const sample = () => {
    for (const p of pids) {
      const v = rssMB(p);
      if (v !== null && (max[p] === null || v > max[p])) max[p] = v;
    }
  };
  sample();
  const t = setInterval(sample, everyMs);
  return { sample, stop() { clearInterval(t); sample(); return max; } };
}

/** Ask the preload in `child` for its event-loop delay since the last ask (SIGUSR2 → JSON file). */
export async function readEld(child, file, timeoutMs = 3000) {
  if (!child || !alive(child)) return null;
  rmSync(file, { force: true });
  child.kill('SIGUSR2');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try { return JSON.parse(readFileSync(file, 'utf8')); } catch { /* not yet */ }
    await sleep(20);
  }
  return null;
}

/**
 * Machine-wide busy CPU (from /proc/stat) and this runner's own CPU including its reaped children
 * (from /proc/self/stat), both in clock ticks; see foreignCpuShare().
 */
export function machineCpu() {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = cpu[3] + cpu[4];
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { total, busy: total - idle, own: f[11] + f[12] + f[13] + f[14] };
  } catch { return null; }
}

/** Share of the machine's CPU capacity used by processes other than the benchmark's, between two readings (all children reaped). */
export function foreignCpuShare(a, b) {
  if (!a || !b || b.total <= a.total) return null;
  return Math.max(0, (b.busy - a.busy) - (b.own - a.own)) / (b.total - a.total);
}

/**
 * The kernel's count of connections dropped because a listen queue was full (TcpExt
 * ListenOverflows, /proc/net/netstat), machine-wide. A dropped SYN is retried by the client after
 * about one second, so a burst of new connections can show up as a one-second tail.
 */
export function listenOverflows() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i].startsWith('TcpExt:')) continue;
      const keys = lines[i].split(/\s+/);
      const vals = lines[i + 1].split(/\s+/);
      const k = keys.indexOf('ListenOverflows');
      return k > 0 ? Number(vals[k]) : null;
    }
  } catch { /* not Linux */ }
  return null;
}
