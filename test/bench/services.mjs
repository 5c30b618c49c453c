/**
 * The non-Node processes of the benchmark: nginx as a plain reverse proxy (the second floor) and
 * redis-server for the rate limiter's Redis store, plus a tiny RESP client to time a Redis round
 * trip and count the commands a run sent. Both are optional: a missing binary is a note, not a failure.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as P from './procs.mjs';

export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p)) ?? null;
export const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? null;

/**
 * nginx in one process (`master_process off`, one worker's work), proxying everything to the
 * upstream over keep-alive connections with buffering off (SSE passes through as it comes).
 */
export async function startNginx(tmp, upPort) {
  if (!NGINX) return null;
  const dir = join(tmp, 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await P.freePort();
  const conf = `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bench_upstream { server 127.0.0.1:${upPort}; keepalive 1024; keepalive_requests 1000000; keepalive_timeout 120s; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = P.spawnCmd({ name: 'nginx', cmd: NGINX, args: ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')] });
  await P.waitHttp(`http://127.0.0.1:${port}/health`, child);
  return { child, port };
}

/** redis-server on a free loopback port, no persistence. */
export async function startRedis(tmp) {
  if (!REDIS) return null;
  const port = await P.freePort();
  const dir = join(tmp, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = P.spawnCmd({
    name: 'redis-server', cmd: REDIS,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
  });
  const end = Date.now() + 10_000;
  for (;;) {
    try { await redisCommand(port, ['PING']); break; } catch (e) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start: ${e.message}\n${child.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { child, port };
}

const encode = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;

/** Send commands one after another on one connection; resolves the raw replies and each round trip in ms. */
export function redisCommands(port, commands) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const replies = [];
    const times = [];
    let buf = '';
    let i = 0;
    let t0 = 0;
    const send = () => { t0 = performance.now(); sock.write(encode(commands[i])); };
    sock.setEncoding('utf8');
    sock.setNoDelay(true);
    sock.on('connect', send);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d;
      const len = replyLength(buf);
      if (len === null) return;
      times.push(performance.now() - t0);
      replies.push(buf.slice(0, len));
      buf = buf.slice(len);
      if (++i < commands.length) send(); else { sock.end(); resolve({ replies, times }); }
    });
  });
}

export async function redisCommand(port, args) { return (await redisCommands(port, [args])).replies[0]; }

/** Length of the first complete RESP2 reply in `s` (simple, error, integer, bulk), or null. */
function replyLength(s) {
  const eol = s.indexOf('\r\n');
  if (eol < 0) return null;
  if (s[0] !== '$') return eol + 2;
  const n = Number(s.slice(1, eol));
  if (n < 0) return eol + 2;
  const total = eol + 2 + n + 2;
  // Bulk strings here are ASCII (INFO), so characters and bytes agree.
  return s.length >= total ? total : null;
}

/** `total_commands_processed` from INFO stats. */
export async function redisCommandsProcessed(port) {
  const info = await redisCommand(port, ['INFO', 'stats']);
  const m = /total_commands_processed:(\d+)/.exec(info);
  return m ? Number(m[1]) : null;
}

/** Calls per command from INFO commandstats (commands run inside scripts count too). */
export async function redisCommandStats(port) {
  const info = await redisCommand(port, ['INFO', 'commandstats']);
  const out = {};
  for (const m of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

/** Round trips of PING on one connection (after a few to warm up), in ms. */
export async function redisRoundTrips(port, n = 200) {
  const { times } = await redisCommands(port, Array.from({ length: n + 20 }, () => ['PING']));
  return times.slice(20);
}
