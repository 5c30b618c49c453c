/**
 * Keeps the benchmark suite from rotting: runs `test/bench/run.mjs --quick` (seconds-long, as a
 * child process) and checks that the Markdown it writes has every expected row, with numbers.
 * It asserts nothing about speed: benchmarks are not tests.
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
    const timer = setTimeout(() => child.kill('SIGTERM'), 55_000);
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
    for (const field of ['CPU', 'cores', 'Node', 'machine load']) expect(md).toMatch(new RegExp(`^\\| ${field} \\| .+ \\|$`, 'm'));
  }, 60_000);

  it('has every target row, with min / median / max and a status', () => {
    const rows = tableRows(md, 'Targets');
    const peerRan = !/\| peer \| not run \|/.test(md);
    const expected: Array<[RegExp, boolean]> = [
      [/^Added latency, 1 connection, p50$/, true],
      [/^Added latency, 1 connection, p99$/, true],
      [/^Throughput, 50 connections, Gatehouse \/ direct$/, true],
      [/^Throughput, 50 connections, Gatehouse \/ peer$/, peerRan],
      [/^Overhead at 1000 req\/s, p50$/, true],
      [/^Overhead at 1000 req\/s, p99$/, true],
      [/^Streaming TTFB overhead, p50$/, true],
      [/^Whole-stream overhead \(\d+ chunks\), p50$/, true],
      [/^\d+ open streams: Gatehouse errors$/, true],
      [/^Gatehouse RSS idle, after start$/, true],
      [/^Gatehouse RSS with \d+ open streams$/, true],
    ];
    for (const [label, mustHaveNumbers] of expected) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      const [, [, min, median, max, target, status]] = found as [string, string[]];
      if (!mustHaveNumbers) continue;
      for (const v of [min, median, max]) expect(v, `${found![0]}: ${v}`).toMatch(NUM);
      if (target !== '—') expect(status).toMatch(/^(PASS|MISS)$/);
    }
  });

  it('has the absolute figures for direct and Gatehouse', () => {
    const rows = tableRows(md, 'Absolute figures');
    const both = [/^1 connection: latency p50$/, /^50 connections: requests\/s$/, /^1000 req\/s: latency p99$/, /^Stream: time to first byte p50$/, /^\d+ open streams: errors$/];
    for (const label of both) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      const [, [, direct, gatehouse]] = found as [string, string[]];
      expect(direct).toMatch(TRIPLE);
      expect(gatehouse).toMatch(TRIPLE);
    }
    const gatehouseOnly = [/^RSS idle, after start$/, /^CPU per request, 50 connections$/, /^Event-loop delay p99, 50 connections$/];
    for (const label of gatehouseOnly) {
      const found = [...rows].find(([k]) => label.test(k));
      expect(found, `row ${label}`).toBeDefined();
      expect(found![1][2]).toMatch(TRIPLE);
    }
  });
});
