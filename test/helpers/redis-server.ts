/** Start Debian's redis-server on a free loopback port, without persistence; stop it by PID. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './processes.js';

/** Whether redis-server is installed (`.ci/run` installs Debian's package). */
export const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

const canConnect = (port: number) => new Promise<boolean>((resolve) => {
  const sock = connect(port, '127.0.0.1');
  sock.once('connect', () => { sock.destroy(); resolve(true); });
  sock.once('error', () => resolve(false));
});

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  /** Kill it (SIGKILL: as abrupt as a crash) and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  let proc: ChildProcess;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
    if (opts.password) args.push('--requirepass', opts.password);
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      if (await canConnect(port)) return;
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('redis-server did not start');
  };
  const kill = async () => {
    const p = proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() { return proc.pid!; },
    kill,
    restart: launch,
    stop: kill,
  };
}
