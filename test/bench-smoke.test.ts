/**
 * Keeps the benchmark suite from rotting: runs `test/bench/run.mjs --quick` (short, as a child
 * process) and checks that the Markdown it writes has every expected row, with numbers: the issue-16
 * targets against the Node floor, the feature variants (baseline, in-memory and Redis limiter,
 * metrics + tracing + request log) with their ratios to the baseline, start-up and `--version`,
 * and the absolute table with the floor columns and Gatehouse's ratios. The runner itself refuses
 * to measure a target whose JSON or streamed answer is wrong, so a passing run also means every
 * proxy answered correctly. It asserts nothing about speed: benchmarks are not tests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run { code: number | null; stdout: string; stderr: string }

function runQuick(out: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'test/bench/run.mjs'), '--quick', '--out', out], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // The runner stops its own children on SIGTERM.
    const timer = setTimeout(() => child.kill('SIGTERM'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The rows of the Markdown table under `## <heading>`, keyed by their first cell. */
function tableRows(md: string, heading: string): Map<string, string[]> {
  const section = md.split(`## ${heading}\n`)[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || /^\|[\s:|-]+\|$/.test(line)) continue;
    const cells = line.slice(1, -1).split('|').map((c) => c.trim());
    if (cells[0] === 'figure') continue;
    rows.set(cells[0]!, cells.slice(1));
  }
  return rows;
}

const NUM = /^-?\d+(\.\d+)?$/;
const TRIPLE = /^-?\d+(\.\d+)? \/ -?\d+(\.\d+)? \/ -?\d+(\.\d+)?$/;

describe('npm run bench -- --quick', () => {
  let run: Run;
  let md: string;

  it('finishes by itself and writes the report', async () => {
    run = await runQuick(join(dir, 'bench.md'));
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    md = readFileSync(join(dir, 'bench.md'), 'utf8');
    expect(run.stdout).toContain('Targets (min / median / max');
    expect(run.stdout).toContain('Feature variants');
    for (const field of ['CPU', 'cores', 'Node', 'machine load', 'nginx', 'Redis']) expect(md).toMatch(new RegExp(`^\\| ${field} \\| .+ \\|$`, 'm'));
  }, 180_000);

  it('has every target of issue 16, judged against the Node floor, with min / median / max and a status', () => {
    const rows = tableRows(md, 'Targets (issue 16): against the floor');
    const expected = [
      /^CPU per request, 50 connections, Gatehouse ÷ Node floor$/,
      /^CPU per request, 1 connection, Gatehouse ÷ Node floor$/,
      /^Added latency, 1 connection, p50, Gatehouse ÷ Node floor$/,
      /^Added latency, 1 connection, p99, Gatehouse ÷ Node floor$/,
      /^\d+ streams at once: last first byte, Gatehouse ÷ direct$/,
      /^\d+ streams at once: first-byte p99, Gatehouse ÷ direct$/,
      /^RSS idle, \d+ s after start$/,
      /^RSS idle, \d+ s after the load$/,
      /^Start-up: `gatehouse start` to the first answered request$/,
    ];
    expect(rows.size).toBe(expected.length);
    for (const label of expected) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      const [, [, min, median, max, target, status]] = found as [string, string[]];
      for (const v of [min, median, max]) expect(v, `${found![0]}: ${v}`).toMatch(NUM);
      expect(target).toMatch(/^[≤≥] \d/);
      expect(status).toMatch(/^(PASS|MISS)$/);
    }
  });

  it('has the feature variants (baseline, limiters, observability) with CPU per request and their ratio to the baseline', () => {
    const rows = tableRows(md, 'Feature costs (issues 9 and 11)');
    const judged = [
      /^In-memory limiter: CPU per request ÷ baseline, 50 connections$/,
      /^Redis limiter: commands sent to Redis per request$/,
      /^Redis limiter: added latency p50 over the in-memory limiter, in Redis round trips$/,
      /^Metrics \+ tracing \+ request log: CPU per request ÷ baseline, 50 connections$/,
    ];
    const redisRan = !/\| Redis \| not run \|/.test(md);
    for (const label of judged) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      if (/Redis/.test(label.source) && !redisRan) continue;
      const [, [, , median, , , status]] = found as [string, string[]];
      expect(median, `${found![0]}`).toMatch(NUM);
      expect(status).toMatch(/^(PASS|MISS)$/);
    }
    // The variant table: one line per variant, CPU per request a number, the baseline's ratio exactly 1.
    const section = md.split('## Feature costs (issues 9 and 11)\n')[1]!.split('\n## ')[0]!;
    const variantLines = section.split('\n').filter((l) => /^\| (gatehouse|gh-[a-z]+): /.test(l)).map((l) => l.slice(1, -1).split('|').map((c) => c.trim()));
    const ids = variantLines.map((c) => c[0]!.split(':')[0]);
    expect(ids).toEqual(expect.arrayContaining(['gatehouse', 'gh-base', 'gh-limit', 'gh-obs', ...(redisRan ? ['gh-redis'] : [])]));
    for (const c of variantLines) expect(c[1], c[0]).toMatch(NUM);
    expect(variantLines.find((c) => c[0]!.startsWith('gh-base:'))![2]).toBe('1.000');
    if (redisRan) expect(variantLines.find((c) => c[0]!.startsWith('gh-redis:'))![14]).toMatch(NUM);
  });

  it('measures start-up to the first answer and --version', () => {
    const section = md.split('## Start-up and `--version`\n')[1]!.split('\n## ')[0]!;
    for (const label of ['Stock distribution, features on: `gatehouse start` to the first answered request', '`gatehouse --version`']) {
      const line = section.split('\n').find((l) => l.startsWith(`| ${label} `));
      expect(line, label).toBeDefined();
      const cells = line!.slice(1, -1).split('|').map((c) => c.trim());
      expect(Number(cells[3]), `${label}: ${cells[3]}`).toBeGreaterThan(0);
    }
  });

  it('has the absolute figures for direct, the Node floor and Gatehouse, and Gatehouse\'s ratios to them', () => {
    const rows = tableRows(md, 'Absolute figures');
    const nginxRan = !/\| nginx \| not run \|/.test(md);
    const all = [/^1 connection: latency p50$/, /^50 connections: requests\/s$/, /^1000 req\/s: latency p99$/, /^Stream: time to first byte p50$/, /^\d+ open streams: errors$/];
    for (const label of all) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      const [, [, direct, floor, nginx, gatehouse, , vsFloor, vsDirect]] = found as [string, string[]];
      expect(direct).toMatch(TRIPLE);
      expect(floor).toMatch(TRIPLE);
      if (nginxRan) expect(nginx).toMatch(TRIPLE);
      expect(gatehouse).toMatch(TRIPLE);
      if (!/errors/.test(label.source)) { expect(vsFloor).toMatch(NUM); expect(vsDirect).toMatch(NUM); }
    }
    const processRows = [/^RSS idle, after start$/, /^CPU per request, 50 connections$/, /^JS heap allocated per request, 50 connections$/, /^Event-loop delay p99, 50 connections$/];
    for (const label of processRows) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      const [, [, direct, floor, , gatehouse, , vsFloor]] = found as [string, string[]];
      expect(direct).toBe('—');
      expect(floor).toMatch(TRIPLE);
      expect(gatehouse).toMatch(TRIPLE);
      expect(vsFloor).toMatch(NUM);
    }
  });
});
