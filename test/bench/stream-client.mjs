/**
 * A small streaming client (node:http), in its own process, for what autocannon cannot see:
 * time to first byte of the body and time to the last byte of an SSE stream.
 *
 * run.mjs forks it with an IPC channel and sends one job:
 *   {mode: 'seq', url, body, durationMs, expectChunks}
 *       one stream at a time over one keep-alive connection, for durationMs
 *   {mode: 'hold', url, body, streams, expectChunks, deadlineMs}
 *       `streams` streams at once (opened in small batches); posts {type:'open'} once every
 *       stream has its first byte, so the runner can read the gateway's memory while all are open
 * and gets back {type:'result', ...}. A stream counts as ok when it answers 200 and carries
 * `expectChunks` content chunks (the upstream's word `qzx` once per chunk).
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import { percentiles } from './stats.mjs';

process.on('disconnect', () => process.exit(0));

const now = () => Number(process.hrtime.bigint()) / 1e6;
const countTok = (s) => { let n = 0; let i = -1; while ((i = s.indexOf('qzx', i + 1)) !== -1) n++; return n; };

/** One streaming request; resolves {ttfb, total} or {error}. onFirst() runs at its first body byte. */
function one(url, body, agent, expectChunks, signal, onFirst) {
  return new Promise((resolve) => {
    const t0 = now();
    let ttfb = null;
    let text = '';
    let settled = false;
    const done = (r) => { if (!settled) { settled = true; resolve(r); } };
    const req = http.request(url, {
      method: 'POST', agent, signal,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'text/event-stream' },
    }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c) => {
        if (ttfb === null) { ttfb = now() - t0; onFirst?.(); }
        text += c;
      });
      res.on('end', () => {
        const total = now() - t0;
        if (res.statusCode !== 200) return done({ error: `status ${res.statusCode}` });
        const got = countTok(text);
        if (got !== expectChunks) return done({ error: `incomplete stream (${got}/${expectChunks} chunks)`, ttfb, total });
        done({ ttfb, total });
      });
      res.on('error', (e) => done({ error: signal?.aborted ? 'deadline' : (e.code ?? e.message) }));
      res.on('aborted', () => done({ error: signal?.aborted ? 'deadline' : 'aborted' }));
    });
    req.on('error', (e) => done({ error: signal?.aborted ? 'deadline' : (e.code ?? e.message) }));
    req.end(body);
  });
}

function summary(results, extra) {
  const ok = results.filter((r) => !r.error);
  const errorKinds = {};
  for (const r of results) if (r.error) errorKinds[r.error] = (errorKinds[r.error] ?? 0) + 1;
  return {
    type: 'result',
    ok: ok.length,
    errors: results.length - ok.length,
    errorKinds,
    ttfb: percentiles(ok.map((r) => r.ttfb)),
    total: percentiles(ok.map((r) => r.total)),
    ...extra,
  };
}

async function seq(job) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const results = [];
  const end = now() + job.durationMs;
  while (now() < end) results.push(await one(job.url, job.body, agent, job.expectChunks));
  agent.destroy();
  return summary(results, {});
}

async function hold(job) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const ac = new AbortController();
  setMaxListeners(Infinity, ac.signal); // every stream listens on the one deadline signal
  const deadline = setTimeout(() => ac.abort(), job.deadlineMs);
  const t0 = now();
  let firstBytes = 0;
  let allOpenMs = null;
  const batch = job.batch ?? 50;
  const pending = [];
  const onFirst = () => {
    if (++firstBytes === job.streams) { allOpenMs = now() - t0; process.send({ type: 'open', ms: allOpenMs }); }
  };
  for (let i = 0; i < job.streams; i++) {
    if (i > 0 && i % batch === 0) await new Promise((r) => setTimeout(r, 5));
    pending.push(one(job.url, job.body, agent, job.expectChunks, ac.signal, onFirst));
  }
  const results = await Promise.all(pending);
  clearTimeout(deadline);
  agent.destroy();
  return summary(results, { allOpenMs, wallMs: now() - t0 });
}

process.once('message', async (job) => {
  try {
    const r = job.mode === 'hold' ? await hold(job) : await seq(job);
    process.send(r, () => process.exit(0));
  } catch (e) {
    process.send({ type: 'result', fatal: String(e?.stack ?? e) }, () => process.exit(0));
  }
});
