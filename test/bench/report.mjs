/**
 * Turns the benchmark's per-repeat figures into tables (targets; feature variants; start-up;
 * absolute figures with ratios) and the Markdown page. Every figure is shown as min / median / max
 * over the repeats; a target is judged on the median. Ratios are computed within each repeat
 * (Gatehouse against the run next to it), then summarised.
 */
import { spread } from './stats.mjs';

/** The columns of the absolute table, in order. */
export const COLUMNS = ['direct', 'floor', 'nginx', 'gatehouse', 'peer'];
const COLUMN_TITLE = { direct: 'direct', floor: 'Node floor', nginx: 'nginx', gatehouse: 'Gatehouse', peer: 'peer' };
/** Gatehouse ÷ these, per repeat. */
const RATIOS = ['floor', 'direct', 'peer'];

/** Format a number for a table cell. */
export function fmt(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

const cmp = { '<=': (a, b) => a <= b, '>=': (a, b) => a >= b };

/** A row of a targets table: one figure, its repeats, an optional target {op, value}. */
export function targetRow(label, unit, values, target, digits) {
  const s = spread(values ?? []);
  let status = '—';
  // Judged as shown: 1.0004 Redis commands per request (a connection's few set-up commands spread
  // over a run) is shown as 1.00 and meets "≤ 1".
  if (target) status = s.median === null ? 'n/a' : cmp[target.op](digits === undefined ? s.median : Number(s.median.toFixed(digits)), target.value) ? 'PASS' : 'MISS';
  return { label, unit, s, target, status, digits };
}

/**
 * A row of the absolute table: per column, the figure's values over the repeats (aligned by
 * repeat, nulls where a run is missing), and Gatehouse's ratio to the floor, direct and the peer.
 */
export function absRow(label, unit, byColumn, digits) {
  const g = byColumn.gatehouse ?? [];
  const ratios = RATIOS.map((c) => {
    const o = byColumn[c];
    if (!o) return null;
    const r = g.map((v, i) => (typeof v === 'number' && typeof o[i] === 'number' && o[i] !== 0 ? v / o[i] : null));
    return spread(r);
  });
  return { label, unit, cells: COLUMNS.map((c) => (byColumn[c] ? spread(byColumn[c]) : null)), ratios, digits };
}

/** A row of the feature-variant table (medians). */
export function variantRow(v) { return v; }

const triple = (s, digits) => (!s || s.median === null ? '—' : `${fmt(s.min, digits)} / ${fmt(s.median, digits)} / ${fmt(s.max, digits)}`);

/** A Markdown table with padded columns, so it reads the same on a terminal. */
export function table(head, rows, align) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}

export function targetsTable(rows) {
  return table(
    ['figure', 'unit', 'min', 'median', 'max', 'target', 'status'],
    rows.map((r) => [r.label, r.unit, fmt(r.s.min, r.digits), fmt(r.s.median, r.digits), fmt(r.s.max, r.digits),
      r.target ? `${r.target.op === '<=' ? '≤' : '≥'} ${r.target.value}` : '—', r.status]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
  );
}

export function absoluteTable(rows) {
  return table(
    ['figure', 'unit', ...COLUMNS.map((c) => `${COLUMN_TITLE[c]} (min / median / max)`), ...RATIOS.map((c) => `Gatehouse ÷ ${COLUMN_TITLE[c]}`)],
    rows.map((r) => [r.label, r.unit, ...r.cells.map((c) => triple(c, r.digits)), ...r.ratios.map((s) => (s && s.median !== null ? fmt(s.median, 2) : '—'))]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function variantsTable(rows) {
  return table(
    ['variant', 'CPU/req, 50 conn. (ms)', '÷ baseline', 'CPU/req, 1 conn. (ms)', '÷ baseline', 'req/s, 50 conn.', 'added latency p50 (ms)', 'added latency p99 (ms)',
      'p50 over baseline (ms)', 'heap alloc./req (KB)', 'CPU/stream (ms)', 'N streams: last first byte (ms)', 'RSS idle (MB)', 'RSS after load (MB)', 'Redis cmds sent/req'],
    rows.map((r) => [`${r.id}: ${r.label}`, fmt(r.cpuSat), fmt(r.cpuSatX, 3), fmt(r.cpuSeq), fmt(r.cpuSeqX, 3), fmt(r.rps, 0), fmt(r.addedP50), fmt(r.addedP99),
      fmt(r.overBaseP50), fmt(r.allocKB, 1), fmt(r.cpuStream), fmt(r.holdAllOpen, 0), fmt(r.rssIdle, 1), fmt(r.rssAfter, 1), r.redisPerReq === null ? '—' : fmt(r.redisPerReq, 2)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function startupTable(rows) {
  return table(
    ['figure', 'unit', 'min', 'median', 'max', 'runs'],
    rows.map(([label, s, unit]) => [label, unit, fmt(s?.min, 0), fmt(s?.p50, 0), fmt(s?.max, 0), s ? String(s.count) : '0']),
    ['l', 'l', 'r', 'r', 'r', 'r'],
  );
}

/** The whole Markdown page. */
export function markdown({ machine, settings, targets, featureTargets, earlier, absolute, variantRows, startRows, notes, plugins, skipped, holdBack }) {
  const m = machine;
  return `# Gatehouse benchmarks

Generated by \`npm run bench\` (\`test/bench/run.mjs\`) on ${m.date}. Re-run it on your own machine:
the figures below are this machine's, not a promise.

| machine | |
|---|---|
| CPU | ${m.cpu} |
| cores | ${m.cores} |
| memory | ${m.memoryGB} GB |
| OS | ${m.os} |
| Node | ${m.node} |
| open files limit (gateway process) | ${m.nofile} |
| Gatehouse | ${m.gatehouse}${m.commit ? ` (commit ${m.commit})` : ''} |
| Node floor | test/bench/floor-proxy.mjs (node:http + undici) |
| nginx | ${m.nginx} |
| Redis | ${m.redis} |
| peer | ${m.peer} |
| load generator | autocannon ${m.autocannon} (load); a node:http client (streams) |
| mode | ${settings.quick ? 'quick (smoke run: tiny durations, 1 repeat)' : 'full'}; ${settings.repeats} repeat(s) of every run |
| run time | ${m.wallS} s |
| machine load | ${m.load ?? '?'}; processes other than the benchmark's used ${m.foreignCpu === null || m.foreignCpu === undefined ? '?' : `${(m.foreignCpu * 100).toFixed(0)}%`} of all CPU during the run |

Everything runs on 127.0.0.1: the fake OpenAI upstream, the Node floor, nginx, the Gatehouse
variants, the peer and the load generator are separate processes sharing ${m.cores} core(s). Each
scenario is run ${settings.repeats}×, and within each repeat every target runs back to back in a rotating
order, so machine drift hits all alike. A cell "a / b / c" is min / median / max over the repeats;
ratios are computed within a repeat, then summarised. Targets are judged on the median.

"Gatehouse" is \`gatehouse start\` (one process, \`GATEHOUSE_LOG_LEVEL=warn\`), OpenAI provider pointed at the
upstream, stock plugins (${plugins}) with the features on: the in-memory limiter with a generous limit,
metrics, tracing at sampling ${settings.samplingRate}, and the request log to a file. The peer is Portkey's gateway
(\`start-server.js --headless\`), non-streaming only (its streaming fails on Node 20).
${skipped?.length ? `\nLeft out on this run: ${skipped.map((s) => `\n- ${s}`).join('')}\n` : ''}
## Targets (issue 16): against the floor

${targetsTable(targets)}

## Feature costs (issues 9 and 11)

${targetsTable(featureTargets)}

Each variant is its own Gatehouse process, measured in the same rounds (medians over the repeats;
"÷ baseline" is computed within each repeat):

${variantsTable(variantRows)}

## Start-up and \`--version\`

${startRows?.length ? startupTable(startRows) : 'Not measured on this run.'}
${holdBack ? `\n## What holds the misses back\n\n${holdBack}\n` : ''}
## Earlier targets of this suite

${targetsTable(earlier)}

## Absolute figures

For the process rows (RSS, CPU, heap allocation, event-loop delay) the direct column is empty:
they are read from the process between client and upstream (\`/proc/<pid>/status\` VmRSS,
\`/proc/<pid>/stat\` utime+stime, \`v8.GCProfiler\` and \`perf_hooks.monitorEventLoopDelay\` from a
preload; nginx has no preload). The last three columns are Gatehouse's figure divided by the other's,
within each repeat (median).

${absoluteTable(absolute)}

## How to run

\`\`\`sh
npm run bench                          # full run (about 12 minutes on 2 cores); writes this file
npm run bench -- --quick --out /tmp/b.md   # short smoke run (also BENCH_QUICK=1); the file only if --out is given
npm run bench -- --only seq,sat --repeats 5    # some scenarios: seq, sat, d50, rate, stream, hold, startup
npm run bench -- --cpu-prof /tmp/prof  # the main Gatehouse under node --cpu-prof; then:
node test/bench/profile-top.mjs /tmp/prof/*.cpuprofile   # self time by function and by package
npm run bench -- --only sat --alloc-prof /tmp/alloc   # every allocation sampled, one file per measured run; then:
node test/bench/alloc-top.mjs /tmp/alloc/alloc-*-03.heapprofile --requests N   # bytes per request by site and package
git worktree add /tmp/prev HEAD~1 && (cd /tmp/prev && npm ci)
npm run bench -- --compare-tree /tmp/prev --variants gh-base --only seq,sat,stream   # before/after in the same rounds
\`\`\`

Other options: \`--json FILE\` (every raw figure), \`--duration S\`, \`--streams N\`, \`--no-peer\`, \`--no-nginx\`,
\`--no-variants\`, \`--variants IDS\`, \`--profile-variant ID\` (which Gatehouse the profilers watch), \`--heap-prof DIR\`,
\`--no-build\`. Everything listens on 127.0.0.1 only, and every process the run starts
is stopped when it ends, fails or is interrupted.

## How it was measured

${notes.map((n) => `- ${n}`).join('\n')}
`;
}
