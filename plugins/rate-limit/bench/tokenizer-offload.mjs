// Where does counting tokens in a worker pay? For prompt sizes from 256 chars to 256 KiB, measure
//  - inline: how long js-tiktoken blocks the event loop to count the prompt;
//  - offload: how long the event loop is busy handing the prompt to a piscina worker and taking the
//    answer back (eventLoopUtilization's active time, tasks run one at a time), and the wall time.
// Offloading pays above the size where inline blocking exceeds the offload's own event-loop cost.
// Run: node plugins/rate-limit/bench/tokenizer-offload.mjs [cl100k_base|o200k_base]
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { Tiktoken } from 'js-tiktoken/lite';

const encoding = process.argv[2] ?? 'cl100k_base';
const ranks = (await import(`js-tiktoken/ranks/${encoding}`)).default;
const enc = new Tiktoken(ranks);
const pool = new Piscina({ filename: fileURLToPath(new URL('../worker/count-tokens.mjs', import.meta.url)), minThreads: 1, maxThreads: 1 });

// Deterministic prose-like text: words, punctuation, numbers, some code.
const words = 'the gateway sends each request to a provider and counts tokens before the call while limits hold exactly across workers and replicas'.split(' ');
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
function text(n) {
  let s = '';
  while (s.length < n) {
    const r = rnd();
    s += r < 0.05 ? `${Math.floor(rnd() * 10000)} ` : r < 0.08 ? 'const x = f(a, b); ' : r < 0.12 ? `${words[Math.floor(rnd() * words.length)]}. ` : `${words[Math.floor(rnd() * words.length)]} `;
  }
  return s.slice(0, n);
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
// Warm up both paths (ranks loaded in the worker, JIT on both sides).
for (let i = 0; i < 20; i++) { enc.encode(text(4096), [], []); await pool.run({ text: text(4096), encoding }); }

const rows = [];
for (const size of [256, 1024, 4096, 8192, 16384, 32768, 65536, 262144]) {
  const reps = size >= 65536 ? 15 : 60;
  const samples = Array.from({ length: reps }, () => text(size));
  const inline = [];
  for (const t of samples) { const t0 = performance.now(); enc.encode(t, [], []); inline.push(performance.now() - t0); }
  const wall = [];
  const e0 = performance.eventLoopUtilization();
  for (const t of samples) { const t0 = performance.now(); await pool.run({ text: t, encoding }); wall.push(performance.now() - t0); }
  const elu = performance.eventLoopUtilization(e0);
  rows.push({ chars: size, tokens: enc.encode(samples[0], [], []).length, inline_ms: median(inline), offload_loop_ms: elu.active / reps, offload_wall_ms: median(wall) });
}
await pool.destroy();
console.log(`encoding ${encoding}, node ${process.version}`);
console.log('| prompt chars | tokens | inline: event loop blocked (median ms) | offloaded: event loop busy (mean ms) | offloaded: wall (median ms) |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.chars} | ${r.tokens} | ${r.inline_ms.toFixed(3)} | ${r.offload_loop_ms.toFixed(3)} | ${r.offload_wall_ms.toFixed(3)} |`);
const pays = rows.find((r) => r.inline_ms > r.offload_loop_ms * 2);
console.log(`offloading frees the event loop at least 2x from ${pays ? pays.chars : '>' + rows.at(-1).chars} chars`);
