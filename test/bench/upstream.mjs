/**
 * A fake OpenAI upstream for the benchmark, in its own process (plain node:http).
 *
 *   POST [/<variant>]/v1/chat/completions
 *     /v1/...       answers at once
 *     /d50/v1/...   answers after 50 ms
 *     /slow/v1/...  streams one chunk every BENCH_SLOW_INTERVAL_MS (default 100) for BENCH_SLOW_CHUNKS chunks
 *   Non-streaming: one fixed chat.completion body. Streaming (`"stream": true`): chat.completion.chunk
 *   events in OpenAI's format (role, content deltas, finish, usage when asked), then `data: [DONE]`.
 *
 * Started by run.mjs with an IPC channel: it sends {type:'ready', port}, answers {type:'stats'} with the
 * most requests it had in flight at once and the requests it got since the last ask, and exits when
 * the parent goes away.
 */
import { createServer } from 'node:http';

const FAST_CHUNKS = Number(process.env.BENCH_FAST_CHUNKS ?? 16);
const SLOW_CHUNKS = Number(process.env.BENCH_SLOW_CHUNKS ?? 30);
const SLOW_INTERVAL_MS = Number(process.env.BENCH_SLOW_INTERVAL_MS ?? 100);
const CREATED = 1767225600;
const ID = 'chatcmpl-bench0000000000000000000000000';
const MODEL = 'gpt-4o-mini-2024-07-18';

const completion = Buffer.from(JSON.stringify({
  id: ID,
  object: 'chat.completion',
  created: CREATED,
  model: MODEL,
  choices: [{
    index: 0,
    message: { role: 'assistant', content: 'Hello! This is a fixed answer from the benchmark upstream, about as long as a short real reply.', refusal: null, annotations: [] },
    logprobs: null,
    finish_reason: 'stop',
  }],
  usage: {
    prompt_tokens: 9, completion_tokens: 21, total_tokens: 30,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_bench',
}));

const chunk = (delta, finish = null, usage) => `data: ${JSON.stringify({
  id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench',
  choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  ...(usage !== undefined ? { usage } : {}),
})}\n\n`;
const FIRST = chunk({ role: 'assistant', content: '', refusal: null });
// The word `qzx` appears once per content chunk, so a client can count what arrived.
const CONTENT = chunk({ content: 'qzx ' });
const FINISH = chunk({}, 'stop');
const usageChunk = (n) => chunk(undefined, null, { prompt_tokens: 9, completion_tokens: n, total_tokens: 9 + n });
const DONE = 'data: [DONE]\n\n';

const notFound = (res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":{"message":"not found"}}'); };

function stream(req, res, body, chunks, intervalMs) {
  const usage = /"include_usage"\s*:\s*true/.test(body);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  let i = 0;
  let timer;
  let closed = false;
  res.on('close', () => { closed = true; clearTimeout(timer); });
  // Headers and the first event leave together, then one event per tick.
  res.write(FIRST);
  const next = () => {
    if (closed) return;
    if (i < chunks) { i++; res.write(CONTENT); schedule(); return; }
    res.write(FINISH);
    if (usage) res.write(usageChunk(chunks));
    res.end(DONE);
  };
  const schedule = () => { timer = intervalMs > 0 ? setTimeout(next, intervalMs) : setImmediate(next); };
  schedule();
}

// Requests in flight at once (max since the last ask): shows how many upstream streams a gateway really holds open.
let inflight = 0;
let maxInflight = 0;
let requests = 0;

const server = createServer((req, res) => {
  inflight++;
  requests++;
  if (inflight > maxInflight) maxInflight = inflight;
  res.once('close', () => { inflight--; });
  const url = req.url ?? '';
  const slash = url.indexOf('/v1/');
  const variant = slash <= 0 ? '' : url.slice(1, slash);
  const path = slash < 0 ? url : url.slice(slash);
  if (req.method === 'GET' && url === '/health') { res.end('ok'); return; }
  if (req.method !== 'POST' || path !== '/v1/chat/completions' || !['', 'd50', 'slow'].includes(variant)) {
    req.resume();
    notFound(res);
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (/"stream"\s*:\s*true/.test(body)) {
      if (variant === 'slow') stream(req, res, body, SLOW_CHUNKS, SLOW_INTERVAL_MS);
      else stream(req, res, body, FAST_CHUNKS, 0);
      return;
    }
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
      res.end(completion);
    };
    if (variant === 'd50') setTimeout(answer, 50);
    else answer();
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;

// A deep accept queue (capped by net.core.somaxconn): the upstream must never be what drops connections.
server.listen({ port: Number(process.env.BENCH_UPSTREAM_PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address();
  if (process.send) process.send({ type: 'ready', port });
  else process.stdout.write(`upstream listening on http://127.0.0.1:${port}\n`);
});

process.on('message', (m) => {
  if (m?.type === 'stats') { process.send({ type: 'stats', maxInflight, requests }); maxInflight = inflight; requests = 0; }
});

// Stop with the parent: the IPC channel closes when run.mjs exits or dies.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
