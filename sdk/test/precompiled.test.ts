/**
 * The request validators precompiled at build time (`sdk/precompile.mjs`, src/precompiled.ts) must
 * judge every body exactly as the validators Ajv compiles at run time: the same verdict, the same
 * errors, the same defaults filled in. A module made from other schemas is not used.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AJV_OPTIONS, fingerprint, loadPrecompiled } from '../src/precompiled.js';
import { requestSchemas } from '../src/schemas.js';
import type { EndpointType } from '../src/types.js';

const SDK = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'gh-precompiled-'));
const file = join(dir, 'request-validators.cjs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await promisify(execFile)(process.execPath, [join(SDK, 'precompile.mjs'), file]);
}, 60_000);

/** A small deterministic generator (mulberry32), so a failure names a reproducible body. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES: unknown[] = [null, true, false, 0, 1, -1, 0.5, 2.5, 129, 1e6, '', 'x', 'yes', [], ['a'], [1, 2], {}, { a: 1 }];
const MESSAGES: unknown[] = [
  [{ role: 'user', content: 'hi' }],
  [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  [{ role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] }],
  [{ role: 'tool', content: 'r', tool_call_id: 't' }],
  [{ role: 'user' }], [{ content: 'no role' }], [{ role: 5, content: 'x' }], [], 'hi', null,
];

function bodies(type: EndpointType, count: number, seed: number): unknown[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const props = Object.keys((requestSchemas[type] as { properties: object }).properties);
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const b: Record<string, unknown> = {};
    if (type === 'llm/v1/chat') { if (r() < 0.9) b.messages = pick(MESSAGES); }
    else if (type === 'llm/v1/completions') { if (r() < 0.9) b.prompt = pick(['hi', ['a', 'b'], 5, null, '']); }
    else if (r() < 0.9) b.input = pick(['hi', ['a', 'b'], [], 5, null]);
    const n = Math.floor(r() * 4);
    for (let k = 0; k < n; k++) b[pick(props)] = pick(VALUES);
    if (r() < 0.2) b.unknown_field = pick(VALUES);
    out.push(b);
  }
  return out;
}

const TYPES = Object.keys(requestSchemas) as EndpointType[];

describe('precompiled request validators', () => {
  it('judge every body as the validators compiled at run time do: verdict, errors and filled-in defaults', () => {
    const pre = loadPrecompiled(file);
    expect(pre).not.toBeNull();
    const ajv = new Ajv(AJV_OPTIONS);
    let invalid = 0;
    for (const [i, type] of TYPES.entries()) {
      const compiled = ajv.compile(requestSchemas[type]);
      for (const body of bodies(type, 400, 1 + i)) {
        const a = structuredClone(body);
        const b = structuredClone(body);
        const okA = pre![type]!(a);
        const okB = compiled(b);
        expect({ ok: okA, errors: pre![type]!.errors ?? null, data: a }, JSON.stringify(body)).toEqual({ ok: okB, errors: compiled.errors ?? null, data: b });
        if (!okB) invalid++;
      }
    }
    // The corpus exercises both verdicts, not only one.
    expect(invalid).toBeGreaterThan(100);
    expect(invalid).toBeLessThan(1100);
  });

  it('a module made from other schemas, options or Ajv version is not used; nor is a missing one', () => {
    const stale = join(dir, 'stale.cjs');
    writeFileSync(stale, readFileSync(file, 'utf8').replace(fingerprint(), '0'.repeat(64)));
    expect(loadPrecompiled(stale)).toBeNull();
    expect(loadPrecompiled(join(dir, 'missing.cjs'))).toBeNull();
  });

  it('the build put a matching module beside the built sdk (npm test builds first)', async () => {
    const built = (await import(join(SDK, 'dist', 'precompiled.js'))) as typeof import('../src/precompiled.js');
    const validators = built.loadPrecompiled();
    expect(validators).not.toBeNull();
    expect(Object.keys(validators!).sort()).toEqual([...TYPES].sort());
  });
});
