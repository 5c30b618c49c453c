#!/usr/bin/env node
/**
 * Summarise a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`, or `node --cpu-prof`):
 * the functions with the most self time, and the most inclusive time for code under a path filter.
 *
 *   node test/bench/profile-top.mjs FILE.cpuprofile [--top 30] [--filter core/dist,sdk/dist]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

const { values: o, positionals: [file] } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, filter: { type: 'string', default: '/core/dist/,/sdk/dist/,/plugins/' } } });
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
prof.samples.forEach((id, i) => { const d = prof.timeDeltas[i] ?? 0; totalUs += d; selfUs.set(id, (selfUs.get(id) ?? 0) + d); });

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
