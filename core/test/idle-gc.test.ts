/**
 * Memory back after a burst (core/src/server/idle-gc.ts): a `gatehouse start` process that held
 * many large requests at once collects its heap once it has been idle for `server.idle_gc_seconds`,
 * not while requests keep coming, and not again without new growth; and a fresh gateway, left
 * idle, collects start-up's garbage.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { call, freePort, sleep, startCli, until, type GatewayProcess } from '../../test/helpers/processes.js';

const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const collections = (gw: GatewayProcess) => gw.logs().filter((l) => l.msg === 'idle: heap collected');

let gw: GatewayProcess | undefined;
afterAll(async () => { await gw?.stop(); });

/** 200 requests at once, each a 100 KB prompt echoed back after 300 ms: tens of MB that live across collections. */
async function burst(url: string) {
  const content = 'x'.repeat(100_000);
  const answers = await Promise.all(Array.from({ length: 200 }, () => call('POST', `${url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content }] })));
  expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
}

describe('idle collection', () => {
  it('after a burst and 0.3 s idle: heap collected (twice, 6 s apart), RSS down; never under a steady trickle; not again without growth', async () => {
    gw = await startCli({
      endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', config: { latency_ms: 300 } } }],
      server: { idle_gc_seconds: 0.3 },
      'request-log': { enabled: false },
    }, { port: await freePort(), env: { GATEHOUSE_LOG_LEVEL: 'debug' } });
    // Start-up's own garbage may be collected too, when the new gateway idles; the burst comes first here.
    const n0 = collections(gw).length;
    await burst(gw.url);
    // A request every 100 ms: never 0.3 s without one in flight, so no collection yet.
    const trickleStart = Date.now();
    while (Date.now() - trickleStart < 1500) {
      await call('POST', `${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }] });
      await sleep(20);
    }
    const trickleEnd = Date.now();
    const c = await until('a collection', async () => collections(gw!)[n0], 150).catch((e) => { throw new Error(`${e.message}\n${gw!.out.text.slice(-3000)}`); });
    expect(Date.parse(String(c!.time)) - trickleEnd).toBeGreaterThanOrEqual(6000);
    const before = Number(c!.heap_before_mb);
    const after = Number(c!.heap_after_mb);
    expect(before - after, JSON.stringify(c)).toBeGreaterThanOrEqual(16);
    await sleep(500);
    expect(rssMB(gw.child.pid!)).toBeLessThan(Number(c!.rss_before_mb));
    // Idle again, nothing new allocated: no second collection.
    await sleep(2000);
    expect(collections(gw)).toHaveLength(n0 + 1);
  }, 40_000);

  it('a fresh gateway left idle collects start-up\'s garbage, once, whatever its size', async () => {
    await gw?.stop();
    gw = await startCli({
      endpoints: [{ name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock' } }],
      server: { idle_gc_seconds: 0.3 },
      tracing: { sampling_rate: 0.2 },
    }, { port: await freePort(), env: { GATEHOUSE_LOG_LEVEL: 'debug' } });
    const c = await until('a collection', async () => collections(gw!)[0], 150);
    expect(Number(c.heap_after_mb)).toBeLessThan(Number(c.heap_before_mb));
    await sleep(1500);
    expect(collections(gw)).toHaveLength(1);
  }, 40_000);
});
