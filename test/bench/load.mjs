/**
 * One autocannon run, in its own process. run.mjs forks this with an IPC channel, sends
 * {url, method, headers, body, connections, duration, overallRate?} and gets back one result.
 *
 * autocannon's own latency histogram keeps whole milliseconds, too coarse for sub-millisecond
 * overheads, so every 2xx response time (a float in ms, from process.hrtime) is also kept here and
 * the percentiles are computed exactly from those.
 */
import autocannon from 'autocannon';
import { percentiles } from './stats.mjs';

process.on('disconnect', () => process.exit(0));

process.once('message', (opts) => {
  let times = new Float64Array(1 << 16);
  let n = 0;
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: opts.url,
    method: opts.method ?? 'POST',
    headers: opts.headers,
    body: opts.body,
    connections: opts.connections,
    duration: opts.duration,
    overallRate: opts.overallRate,
    pipelining: 1,
    timeout: opts.timeout ?? 10,
    // autocannon only checks for the end of the run at each sample tick (default 1 s), so a short
    // run would last a whole second; the per-tick request counts are not used here.
    sampleInt: 100,
  }, (err, result) => {
    const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
    if (err) { process.send({ error: String(err?.stack ?? err) }, () => process.exit(0)); return; }
    const lat = percentiles(times.subarray(0, n));
    process.send({
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      durationS: result.duration,
      elapsedS,
      rps: result['2xx'] / result.duration,
      latency: lat,
      connections: result.connections,
    }, () => process.exit(0));
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 200 || statusCode >= 300) return;
    if (n === times.length) { const t = new Float64Array(times.length * 2); t.set(times); times = t; }
    times[n++] = responseTime;
  });
});
