/**
 * The kernel's log goes to stderr. When its reader goes away (a log shipper restarts, `| head`
 * exits), writes fail with EPIPE: the gateway drops its log lines and keeps serving. A command
 * whose output reader stops early (`gatehouse plugins list | head -1`) exits 0, quietly.
 */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { call, CLI, freePort, REPO_ROOT, sleep, startCli, type GatewayProcess } from '../../test/helpers/processes.js';

let gw: GatewayProcess | undefined;
afterAll(async () => { await gw?.stop(); });

describe('a closed log pipe', () => {
  it('does not stop the gateway: requests that log (debug lines, a 404) keep being answered', async () => {
    gw = await startCli({
      endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' } }],
    }, { port: await freePort(), env: { GATEHOUSE_LOG_LEVEL: 'debug' } });
    expect(gw.out.text).toContain('listening on');
    // The reading ends of the child's stdout and stderr pipes close: its next write gets EPIPE.
    gw.child.stderr!.destroy();
    gw.child.stdout!.destroy();
    for (let i = 0; i < 5; i++) {
      expect((await call('POST', `${gw.url}/endpoints/nope/invocations`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404);
      expect((await call('POST', `${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    }
    await sleep(200);
    expect(gw.child.exitCode).toBe(null);
    expect((await call('GET', `${gw.url}/health`)).status).toBe(200);
  });
});

describe('a closed stdout', () => {
  it('ends `plugins list` with exit code 0 and no stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'plugins', 'list'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // before the first line: every write gets EPIPE
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(err).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
