import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, discover, startGateway, type RunningGateway } from '../src/index.js';
import { REPO_ROOT } from '../../test/helpers/gateway.js';

const discovery = { ...discover(REPO_ROOT), plugins: new Map() };
const yaml = (names: string[]) => `endpoints:\n${names.map((n) => `  - {name: ${n}, endpoint_type: llm/v1/chat, model: {provider: mock}}\n`).join('')}`;
const names = (gw: RunningGateway) => gw.current().config.endpoints.map((e) => e.info.name);
const quiet = createLogger({ level: 'silent' });

let gw: RunningGateway | undefined;
let dir: string;
afterEach(async () => { await gw?.close(0); gw = undefined; rmSync(dir, { recursive: true, force: true }); });

describe('hot reload', () => {
  it('a no-op save between two real edits does not stop reloading (issue: a stale promise kept after an unchanged hash)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-reload-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml(['a']));
    gw = await startGateway({ configPath: file, discovery, listen: false, logger: quiet });
    writeFileSync(file, yaml(['a', 'b']));
    expect(await gw.reload()).toBe(true);
    // The same bytes again (a touch, a no-op save): nothing to do, and nothing stuck.
    writeFileSync(file, yaml(['a', 'b']));
    utimesSync(file, new Date(), new Date());
    expect(await gw.reload()).toBe(false);
    writeFileSync(file, yaml(['a', 'b', 'c']));
    expect(await gw.reload()).toBe(true);
    expect(names(gw)).toEqual(['a', 'b', 'c']);
  });

  it('the watcher picks up edits after a no-op save, and after a rejected edit is reverted', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-reload-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml(['a']));
    gw = await startGateway({ configPath: file, discovery, listen: false, logger: quiet });
    utimesSync(file, new Date(), new Date());
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, 'endpoints: [oops');
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, yaml(['a']));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, yaml(['a', 'z']));
    await vi.waitFor(() => expect(names(gw!)).toEqual(['a', 'z']), { timeout: 3000, interval: 50 });
  });

  it('a Kubernetes ConfigMap update (the ..data symlink swapped) is picked up', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-cm-'));
    const v1 = join(dir, '..2026_v1');
    mkdirSync(v1);
    writeFileSync(join(v1, 'config.yaml'), yaml(['a']));
    symlinkSync('..2026_v1', join(dir, '..data'));
    symlinkSync('..data/config.yaml', join(dir, 'config.yaml'));
    gw = await startGateway({ configPath: join(dir, 'config.yaml'), discovery, listen: false, logger: quiet });
    expect(names(gw)).toEqual(['a']);
    // What the kubelet does: write a new timestamped dir, then atomically swap the ..data link.
    const v2 = join(dir, '..2026_v2');
    mkdirSync(v2);
    writeFileSync(join(v2, 'config.yaml'), yaml(['a', 'cm']));
    symlinkSync('..2026_v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(v1, { recursive: true });
    await vi.waitFor(() => expect(names(gw!)).toEqual(['a', 'cm']), { timeout: 3000, interval: 50 });
  });
});
