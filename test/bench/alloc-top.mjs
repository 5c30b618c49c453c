#!/usr/bin/env node
/**
 * Summarise a sampling heap profile (from `npm run bench -- --alloc-prof DIR`): the allocation
 * sites with the most bytes, by function and by package, optionally per request.
 *
 *   node test/bench/alloc-top.mjs FILE.heapprofile [--top 30] [--requests N]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
const { values: o, positionals: [file] } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, requests: { type: 'string' } } });
if (!file) { process.stderr.write('usage: alloc-top.mjs FILE.heapprofile [--top N] [--requests N]\n'); process.exit(2); }
const prof = JSON.parse(readFileSync(file, 'utf8'));
const top = Number(o.top);
const perReq = o.requests ? Number(o.requests) : null;

const site = new Map();
const area = new Map();
let total = 0;
const where = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, 'node_modules/') : ''}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
const areaOf = (cf) => {
  const u = cf.url ?? '';
  if (!u) return `(native ${cf.functionName || '?'})`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1];
  const ws = /\/(core|sdk|plugins\/[^/]+)\/(dist|src)\//.exec(u);
  if (ws) return `gatehouse ${ws[1]}`;
  return u.startsWith('node:') ? 'node internals' : u;
};
(function walk(n) {
  const bytes = n.selfSize ?? 0;
  if (bytes) {
    total += bytes;
    const k = where(n.callFrame);
    site.set(k, (site.get(k) ?? 0) + bytes);
    const a = areaOf(n.callFrame);
    area.set(a, (area.get(a) ?? 0) + bytes);
  }
  for (const c of n.children ?? []) walk(c);
})(prof.head);

const kb = (b) => (perReq ? `${(b / perReq / 1024).toFixed(2).padStart(8)} KB/req` : `${(b / 1048576).toFixed(1).padStart(8)} MB`);
const pct = (b) => `${((100 * b) / total).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${kb(total)} sampled${perReq ? ` over ${perReq} requests` : ''}\n\nBy allocation site:\n`);
for (const [k, b] of [...site].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${kb(b)} ${pct(b)}  ${k}\n`);
process.stdout.write('\nBy package:\n');
for (const [k, b] of [...area].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${kb(b)} ${pct(b)}  ${k}\n`);
