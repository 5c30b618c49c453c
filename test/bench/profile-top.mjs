#!/usr/bin/env node
/**
 * Summarise a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`, or `node --cpu-prof`):
 * the functions with the most self time, and the most inclusive time for code under a path filter.
 *
 *   node test/bench/profile-top.mjs FILE.cpuprofile [--top 30] [--filter core/dist,sdk/dist] [--busy]
 *
 * --busy leaves out idle samples and everything before the first second that was mostly busy
 * after start-up (so a profile of a whole bench run shows the load, not the start).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

const { values: o, positionals: [file] } = parseArgs({ allowPositionals: true, options: { busy: { type: 'boolean', default: false }, top: { type: 'string', default: '30' }, filter: { type: 'string', default: '/core/dist/,/sdk/dist/,/plugins/' } } });
if (!file) { process.stderr.write('usage: profile-top.mjs FILE.cpuprofile [--top N] [--filter a,b]\n'); process.exit(2); }
const prof = JSON.parse(readFileSync(file, 'utf8'));
const top = Number(o.top);
const filters = o.filter.split(',').filter(Boolean);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample weights: timeDeltas[i] belongs to samples[i].
const selfUs = new Map();
let totalUs = 0;
let keep = () => true;
if (o.busy) {
  // Per second of the profile: the share of samples that were not idle. Start at the first busy
  // second after the first idle one (the end of start-up), and count only non-idle samples.
  const idleIds = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const at = []; let t = 0;
  for (let i = 0; i < prof.samples.length; i++) { t += prof.timeDeltas[i] ?? 0; at.push(t); }
  const sec = new Map();
  prof.samples.forEach((id, i) => { const s = Math.floor(at[i] / 1e6); const v = sec.get(s) ?? [0, 0]; v[1]++; if (!idleIds.has(id)) v[0]++; sec.set(s, v); });
  const secs = [...sec.keys()].sort((a, b) => a - b);
  const firstIdle = secs.find((s) => sec.get(s)[0] / sec.get(s)[1] < 0.2) ?? 0;
  const from = secs.find((s) => s > firstIdle && sec.get(s)[0] / sec.get(s)[1] > 0.5) ?? 0;
  keep = (id, i) => !idleIds.has(id) && at[i] >= from * 1e6;
}
prof.samples.forEach((id, i) => { if (!keep(id, i)) return; const d = prof.timeDeltas[i] ?? 0; totalUs += d; selfUs.set(id, (selfUs.get(id) ?? 0) + d); });

const where = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, 'node_modules/') : ''}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
const self = new Map();
const incl = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const k = where(n.callFrame);
  self.set(k, (self.get(k) ?? 0) + us);
  // Inclusive: count each distinct frame once per sample stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const key = where(byId.get(cur).callFrame);
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}
const pct = (us) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
process.stdout.write(`${file}: ${(totalUs / 1000).toFixed(0)} ms sampled\n\nTop self time:\n`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
// Self time by where the code lives: a package under node_modules, a workspace package, Node itself, or V8/native.
const area = (cf) => {
  const u = cf.url ?? '';
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : `native: ${cf.functionName || '(anonymous)'}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1];
  const ws = /\/(core|sdk|plugins\/[^/]+)\/(dist|src)\//.exec(u);
  if (ws) return `gatehouse ${ws[1]}`;
  if (u.startsWith('node:')) return 'node internals';
  return u.replace(/^file:\/\//, '');
};
const areas = new Map();
for (const [id, us] of selfUs) { const k = area(byId.get(id).callFrame); areas.set(k, (areas.get(k) ?? 0) + us); }
process.stdout.write('\nSelf time by area:\n');
for (const [k, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);

process.stdout.write(`\nTop inclusive time, frames under ${filters.join(' or ')}:\n`);
for (const [k, us] of [...incl].filter(([k]) => filters.some((f) => k.includes(f))).sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
