/**
 * Provider conformance: static checks (`checkProvider`) and a behavioural kit
 * (`conformanceSuite`) that any provider runs against a fake upstream with its own fixtures.
 *
 * The behavioural kit checks, for every capability the provider declares:
 * - `shape`: answers and stream chunks are builder-shaped (MLflow's field order, nullable fields present);
 * - `absent`: capabilities it does not declare answer 501;
 * - `abort`: the caller's abort closes the upstream connection;
 * - `error-before-first`: an upstream error before the first chunk keeps its status;
 * - `error-after-first`: a stream failing after its first chunk ends with a GatewayError (the final error event), not a silent end;
 * - `timeout`, `timeout-mid-stream`: an upstream that does not answer (or stalls mid-stream) maps to 504;
 * - `no-key-in-errors`: no configured key appears in any error the provider raised.
 *
 * It is framework-neutral: each check is a `{ id, title, run }`; with vitest:
 * @example
 * const suite = conformanceSuite(acme, {
 *   config: (url) => ({ acme_api_key: 'sk-conformance-secret', acme_api_base: url }),
 *   model: 'acme-1',
 *   capabilities: {
 *     chat: { route: 'POST /chat', answer: { json: { id: 'x', text: 'hi' } } },
 *     chatStream: { route: 'POST /chat', answer: { sse: [{ delta: 'hi' }, { delta: '!', done: true }] } },
 *   },
 * });
 * describe('conformance', () => {
 *   beforeAll(suite.setup); afterAll(suite.teardown);
 *   for (const c of suite.checks) (c.skip ? it.skip : c.known ? it.fails : it)(c.title, c.run);
 * });
 */
import { createServer } from 'node:net';
import { isGatewayError } from '../errors.js';
import { isProviderDefinition, API_VERSION, type ProviderDefinition, type ProviderInstance } from '../plugin.js';
import type { Capability, ChatRequest, CompletionsRequest, EmbeddingsRequest, EndpointType } from '../types.js';
import { encodeSse, startFakeUpstream, type FakeResponse, type FakeUpstream } from './fake-upstream.js';
import { createProviderInstance } from './provider-kit.js';

export function checkProvider(def: unknown, manifestName?: string): string[] {
  const problems: string[] = [];
  if (!isProviderDefinition(def)) return ['not a provider definition (use defineProvider or openAICompatible)'];
  const p = def as ProviderDefinition;
  if (p.apiVersion !== API_VERSION) problems.push(`apiVersion ${p.apiVersion} is not ${API_VERSION}`);
  if (!p.displayName) problems.push('displayName is empty');
  if (manifestName && p.name !== manifestName && !p.aliases.includes(manifestName)) problems.push(`name '${p.name}' does not match the manifest entry '${manifestName}'`);
  if (p.requiresConfig && !p.configSchema) problems.push('requiresConfig is true but there is no configSchema');
  if (p.configSchema && (p.configSchema as { type?: string }).type !== 'object') problems.push("configSchema must have type 'object'");
  if (typeof p.create !== 'function') problems.push('create is not a function');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Builder shapes

type Shape = { keys: readonly string[]; optional?: readonly string[]; types: Record<string, string>; nested?: Record<string, Shape>; items?: Record<string, Shape> };

const USAGE: Shape = { keys: ['prompt_tokens', 'completion_tokens', 'total_tokens'], types: { prompt_tokens: 'number|null', completion_tokens: 'number|null', total_tokens: 'number|null' } };
const TOOL_CALL: Shape = { keys: ['id', 'type', 'function'], types: { id: 'string', type: 'string', function: 'object' } };
const CHUNK_TOOL_CALL: Shape = {
  keys: ['index', 'id', 'type', 'function'], types: { index: 'number', id: 'string|null', type: 'string|null', function: 'object' },
  nested: { function: { keys: ['name', 'arguments'], types: { name: 'string|null', arguments: 'string|null' } } },
};
const HEAD = { id: 'string|null', object: 'string', created: 'number', model: 'string', choices: 'array' };

const SHAPES: Record<'chat' | 'completions' | 'embeddings' | 'chatChunk' | 'completionsChunk', Shape> = {
  chat: {
    keys: ['id', 'object', 'created', 'model', 'choices', 'usage'], types: { ...HEAD, usage: 'object' }, nested: { usage: USAGE },
    items: {
      choices: {
        keys: ['index', 'message', 'finish_reason'], types: { index: 'number', message: 'object', finish_reason: 'string|null' },
        nested: {
          message: {
            keys: ['role', 'content', 'tool_calls', 'refusal'],
            types: { role: 'string', content: 'string|array|null', tool_calls: 'array|null', refusal: 'string|null' },
            items: { tool_calls: TOOL_CALL },
          },
        },
      },
    },
  },
  completions: {
    keys: ['id', 'object', 'created', 'model', 'choices', 'usage'], types: { ...HEAD, usage: 'object' }, nested: { usage: USAGE },
    items: { choices: { keys: ['index', 'text', 'finish_reason'], types: { index: 'number', text: 'string', finish_reason: 'string|null' } } },
  },
  embeddings: {
    keys: ['object', 'data', 'model', 'usage'], types: { object: 'string', data: 'array', model: 'string', usage: 'object' },
    nested: { usage: { keys: ['prompt_tokens', 'total_tokens'], types: { prompt_tokens: 'number|null', total_tokens: 'number|null' } } },
    items: { data: { keys: ['object', 'embedding', 'index'], types: { object: 'string', embedding: 'array|string', index: 'number' } } },
  },
  chatChunk: {
    keys: ['id', 'object', 'created', 'model', 'choices', 'usage'], optional: ['usage'], types: { ...HEAD, usage: 'object' }, nested: { usage: USAGE },
    items: {
      choices: {
        keys: ['index', 'finish_reason', 'delta'], types: { index: 'number', finish_reason: 'string|null', delta: 'object' },
        nested: { delta: { keys: ['role', 'content', 'tool_calls'], types: { role: 'string|null', content: 'string|null', tool_calls: 'array|null' }, items: { tool_calls: CHUNK_TOOL_CALL } } },
      },
    },
  },
  completionsChunk: {
    keys: ['id', 'object', 'created', 'model', 'choices', 'usage'], optional: ['usage'], types: { ...HEAD, usage: 'object' }, nested: { usage: USAGE },
    items: { choices: { keys: ['index', 'finish_reason', 'text'], types: { index: 'number', finish_reason: 'string|null', text: 'string|null' } } },
  },
};

const OBJECT_VALUE: Record<keyof typeof SHAPES, readonly string[]> = {
  chat: ['chat.completion'], completions: ['text_completion'], embeddings: ['list'],
  chatChunk: ['chat.completion.chunk'], completionsChunk: ['text_completion_chunk', 'text_completion.chunk'],
};

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function shapeProblems(value: unknown, shape: Shape, path: string, out: string[]): void {
  if (typeOf(value) !== 'object') { out.push(`${path}: expected an object, got ${typeOf(value)}`); return; }
  const obj = value as Record<string, unknown>;
  const want = shape.keys.filter((k) => !(shape.optional ?? []).includes(k) || k in obj);
  const got = Object.keys(obj);
  if (got.join(',') !== want.join(',')) out.push(`${path}: fields [${got.join(', ')}], expected [${want.join(', ')}] in this order`);
  for (const k of want) {
    if (!(k in obj)) continue;
    const t = typeOf(obj[k]);
    if (!shape.types[k]!.split('|').includes(t)) out.push(`${path}.${k}: ${t}, expected ${shape.types[k]}`);
    const nested = shape.nested?.[k];
    if (nested && t === 'object') shapeProblems(obj[k], nested, `${path}.${k}`, out);
    const items = shape.items?.[k];
    if (items && t === 'array') (obj[k] as unknown[]).forEach((it, i) => shapeProblems(it, items, `${path}.${k}[${i}]`, out));
  }
}

/**
 * What is wrong with an answer's shape, compared with the sdk's builders (as it goes on the
 * wire: JSON-encoded). Empty when it is builder-shaped.
 * @example expect(answerShapeProblems('chat', await p.chat!(req, call))).toEqual([]);
 */
export function answerShapeProblems(kind: keyof typeof SHAPES, value: unknown): string[] {
  const out: string[] = [];
  let wire: unknown;
  try { wire = JSON.parse(JSON.stringify(value)); } catch (e) { return [`not JSON-serialisable: ${(e as Error).message}`]; }
  shapeProblems(wire, SHAPES[kind], kind, out);
  const object = (wire as { object?: unknown } | null)?.object;
  if (typeof object === 'string' && !OBJECT_VALUE[kind].includes(object)) out.push(`${kind}.object: '${object}', expected ${OBJECT_VALUE[kind].map((o) => `'${o}'`).join(' or ')}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The behavioural kit

/** The fixtures of one capability. */
export interface ConformanceCase<R> {
  /** The fake-upstream route the capability calls, e.g. `'POST /v1/chat/completions'`. */
  route: string;
  /** The upstream's successful answer in its real wire format (a JSON body, or an SSE / NDJSON / raw stream). */
  answer: FakeResponse;
  /** The unified request (default: a one-message chat, a short prompt, or one input to embed). */
  request?: R;
  /** `model.name` for this capability (default: the suite's `model`). */
  model?: string | null;
  /** Streams: how many upstream events it takes before the provider yields its first chunk (default 1). */
  firstChunkEvents?: number;
  /** Streams: an answer that fails after the first chunk (default: `answer` cut after `firstChunkEvents` events; required for `raw` bodies). */
  truncated?: FakeResponse;
  /** Streams: an answer that sends the first chunk, then stalls (default: the first events, then held open; required for `raw` bodies). */
  stalled?: FakeResponse;
}

export interface ConformanceFixtures<C = Record<string, unknown>> {
  /** The endpoint's `model.config`, pointing at the fake upstream. Put a distinctive value in every key field. */
  config(upstreamUrl: string): C;
  /** `model.name` (default `'conformance-model'`). */
  model?: string | null;
  /** One case per declared capability. */
  capabilities: {
    chat?: ConformanceCase<ChatRequest>;
    chatStream?: ConformanceCase<ChatRequest>;
    completions?: ConformanceCase<CompletionsRequest>;
    completionsStream?: ConformanceCase<CompletionsRequest>;
    embeddings?: ConformanceCase<EmbeddingsRequest>;
  };
  /**
   * The upstream's error answer in its real error format, for the error checks; the provider
   * must keep its `status` (default: 429 with an OpenAI-style `{"error": {"message"}}` body).
   */
  error?: FakeResponse & { status: number };
  /** More secret values to look for in errors (the config's key fields are found automatically). */
  secrets?: string[];
  /** `false` for a provider that calls no upstream (e.g. `mock`): the upstream checks are skipped with that reason. */
  upstream?: boolean;
  /** Upstream timeout for the timeout checks (default 200 ms). */
  timeoutMs?: number;
  /**
   * Checks this provider is known to fail, by id (`abort.chat`) or id prefix (`abort`), with the
   * reason. They are marked `known`: run them with `it.fails` so a fix is noticed.
   */
  known?: Record<string, string>;
}

export interface ConformanceCheck {
  /** e.g. `shape.chat`, `abort.chatStream`, `no-key-in-errors`. */
  id: string;
  title: string;
  /** Why the check does not apply (run it with `it.skip`). */
  skip?: string;
  /** Why the provider is known to fail it (run it with `it.fails`). */
  known?: string;
  /** Throws an Error describing the problem when the provider fails the check. */
  run(): Promise<void>;
}

export interface ConformanceSuite {
  /** Starts the fake upstream. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  checks: ConformanceCheck[];
  /** The fake upstream, once set up. */
  readonly upstream: FakeUpstream;
}

const CAPS: readonly Capability[] = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'];
const STREAMS = new Set<Capability>(['chatStream', 'completionsStream']);
const TYPE_OF: Record<Capability, EndpointType> = {
  chat: 'llm/v1/chat', chatStream: 'llm/v1/chat', completions: 'llm/v1/completions', completionsStream: 'llm/v1/completions', embeddings: 'llm/v1/embeddings',
};
const SHAPE_OF: Record<Capability, keyof typeof SHAPES> = {
  chat: 'chat', chatStream: 'chatChunk', completions: 'completions', completionsStream: 'completionsChunk', embeddings: 'embeddings',
};
const DEFAULT_REQUEST: Record<Capability, Record<string, unknown>> = {
  chat: { messages: [{ role: 'user', content: 'Hello' }], temperature: 0, n: 1 },
  chatStream: { messages: [{ role: 'user', content: 'Hello' }], temperature: 0, n: 1, stream: true },
  completions: { prompt: 'Hello', temperature: 0, n: 1 },
  completionsStream: { prompt: 'Hello', temperature: 0, n: 1, stream: true },
  embeddings: { input: ['Hello'] },
};
const DEFAULT_ERROR: FakeResponse & { status: number } = {
  status: 429, json: { error: { message: 'conformance: the upstream is rate limiting', type: 'rate_limit_error', code: 'rate_limited' } },
};

const SECRET_NAME = /key|secret|token|password|credential/i;

/** Every secret-looking string in a config: key fields (dot paths) and fields whose name says key, secret, token, password or credential. */
function secretsOf(config: unknown, keyFields: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, path: string[], named: boolean) => {
    if (typeof v === 'string') {
      const dotted = path.join('.');
      const isKeyField = keyFields ? keyFields.includes(dotted) : /_api_key$/.test(path[path.length - 1] ?? '');
      if ((named || isKeyField) && v.length >= 4 && !v.startsWith('$')) out.add(v);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, [...path, k], named || SECRET_NAME.test(k));
    }
  };
  walk(config, [], false);
  return [...out];
}

/**
 * The first `n` events of a stream answer as the bytes the fake upstream writes, with the
 * answer's content type: `sse` / `ndjson` lists, or a `raw` text body split at blank lines
 * (event streams) or newlines (NDJSON). Undefined for binary bodies.
 */
function streamPrefix(answer: FakeResponse, n: number): { prefix: string; total: number; contentType: string } | undefined {
  if (answer.sse) return { prefix: encodeSse(answer.sse.slice(0, n)), total: answer.sse.length, contentType: answer.contentType ?? 'text/event-stream' };
  if (answer.ndjson) return { prefix: answer.ndjson.slice(0, n).map((l) => JSON.stringify(l) + '\n').join(''), total: answer.ndjson.length, contentType: answer.contentType ?? 'application/x-ndjson' };
  if (typeof answer.raw === 'string') {
    const ct = answer.contentType ?? 'application/octet-stream';
    const sep = /event-stream/.test(ct) ? /(?<=\r?\n\r?\n)/ : /(?<=\n)/;
    const parts = answer.raw.split(sep).filter((x) => x.trim());
    return { prefix: parts.slice(0, n).join(''), total: parts.length, contentType: ct };
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function deadPortUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

const describeErr = (e: unknown): string => isGatewayError(e)
  ? `GatewayError ${e.code} ${e.status}: ${e.message}`
  : e instanceof Error ? `${e.name}: ${e.message}` : String(e);

/**
 * Build the behavioural conformance checks of a provider. Each check creates a fresh provider
 * instance (as the kernel does for an endpoint) pointed at one shared fake upstream.
 */
export function conformanceSuite<C>(def: ProviderDefinition<C>, fx: ConformanceFixtures<C>): ConformanceSuite {
  let up: FakeUpstream | undefined;
  const upstream = (): FakeUpstream => { if (!up) throw new Error('conformance: call suite.setup() first (beforeAll)'); return up; };
  const hasUpstream = fx.upstream !== false;
  const timeoutMs = fx.timeoutMs ?? 200;
  const errorAnswer = fx.error ?? DEFAULT_ERROR;
  const seenErrors: unknown[] = [];

  const probe = createProviderInstance(def, { config: fx.config('http://127.0.0.1:9'), model: fx.model === undefined ? 'conformance-model' : fx.model, endpointType: 'llm/v1/chat' });
  const methods = CAPS.filter((c) => typeof probe[c] === 'function');
  const declared: Capability[] = def.capabilities ? [...def.capabilities] : methods;

  const instance = (cap: Capability, opts: { url?: string; timeoutMs?: number } = {}): ProviderInstance => {
    const kase = fx.capabilities[cap];
    const model = kase?.model !== undefined ? kase.model : fx.model === undefined ? 'conformance-model' : fx.model;
    return createProviderInstance(def, {
      config: fx.config(opts.url ?? (hasUpstream ? upstream().url : 'http://127.0.0.1:9')),
      model, endpointType: TYPE_OF[cap], timeoutMs: opts.timeoutMs ?? 5000,
    });
  };
  const requestOf = (cap: Capability) => (fx.capabilities[cap]?.request ?? DEFAULT_REQUEST[cap]) as any;
  const kaseOf = (cap: Capability): ConformanceCase<any> => {
    const k = fx.capabilities[cap];
    if (!k) throw new Error(`conformance: no fixture for the declared capability '${cap}'`);
    return k;
  };
  const route = (cap: Capability, answer: FakeResponse) => { const u = upstream(); u.reset(); u.on(kaseOf(cap).route, answer); };

  /** Call a capability; for streams, returns the iterator after pulling `pull` chunks. */
  async function call(inst: ProviderInstance, cap: Capability, signal: AbortSignal): Promise<unknown> {
    const fn = (inst as Record<string, any>)[cap];
    return fn.call(inst, requestOf(cap), { signal });
  }
  const iterate = (inst: ProviderInstance, cap: Capability, signal: AbortSignal): AsyncIterator<unknown> =>
    ((inst as Record<string, any>)[cap].call(inst, requestOf(cap), { signal }) as AsyncIterable<unknown>)[Symbol.asyncIterator]();

  /** Expect a rejection; remember the error for the key check. */
  async function failure(p: Promise<unknown>, what: string): Promise<unknown> {
    try { await p; } catch (e) { seenErrors.push(e); return e; }
    throw new Error(`${what}: expected an error, but it succeeded`);
  }

  const firstEvents = (cap: Capability) => kaseOf(cap).firstChunkEvents ?? 1;
  const stalledOf = (cap: Capability): FakeResponse => {
    const k = kaseOf(cap);
    if (k.stalled) return k.stalled;
    const sp = streamPrefix(k.answer, firstEvents(cap));
    if (!sp) throw new Error(`conformance: '${cap}' has a binary stream body; give its 'stalled' answer`);
    return { status: k.answer.status, headers: k.answer.headers, raw: sp.prefix, contentType: sp.contentType, holdOpen: true };
  };
  const truncatedOf = (cap: Capability): FakeResponse => {
    const k = kaseOf(cap);
    if (k.truncated) return k.truncated;
    const sp = streamPrefix(k.answer, firstEvents(cap));
    if (!sp) throw new Error(`conformance: '${cap}' has a binary stream body; give its 'truncated' answer`);
    if (sp.total <= firstEvents(cap)) throw new Error(`conformance: '${cap}' answer needs more than ${firstEvents(cap)} events to be cut after the first chunk`);
    return { ...k.answer, splitAt: undefined, splitEvery: undefined, reset: { afterBytes: Buffer.byteLength(sp.prefix) } };
  };

  const checks: ConformanceCheck[] = [];
  const add = (id: string, title: string, run: () => Promise<void>, skip?: string) => {
    const known = fx.known && Object.entries(fx.known).find(([k]) => id === k || id.startsWith(`${k}.`))?.[1];
    checks.push({
      id, title: known ? `${title} [known failure: ${known}]` : skip ? `${title} [n/a: ${skip}]` : title,
      skip, known, run,
    });
  };
  const noUpstream = hasUpstream ? undefined : 'this provider calls no upstream';

  add('declared', `${def.name}: passes the static checks, and its declared capabilities match its methods and fixtures`, async () => {
    const problems = checkProvider(def);
    const extra = methods.filter((c) => !declared.includes(c));
    const missing = declared.filter((c) => !methods.includes(c));
    if (extra.length) problems.push(`methods not in its declared capabilities: ${extra.join(', ')}`);
    if (missing.length) problems.push(`declared capabilities without a method: ${missing.join(', ')}`);
    const noFixture = declared.filter((c) => !fx.capabilities[c]);
    if (noFixture.length) problems.push(`declared capabilities without a conformance fixture: ${noFixture.join(', ')}`);
    if (problems.length) throw new Error(problems.join('; '));
  });

  for (const cap of CAPS) {
    if (!declared.includes(cap)) {
      add(`absent.${cap}`, `${cap}: not declared, so it answers 501`, async () => {
        const inst = instance(cap);
        const fn = (inst as Record<string, unknown>)[cap];
        if (typeof fn !== 'function') return; // the kernel answers 501 with MLflow's message
        let err: unknown;
        try {
          const r = fn.call(inst, requestOf(cap), { signal: new AbortController().signal });
          if (r && typeof r === 'object' && Symbol.asyncIterator in r) await (r as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
          else await r;
        } catch (e) { err = e; }
        if (!isGatewayError(err) || err.status !== 501) throw new Error(`${cap} is not declared, but its method ${err ? `failed with ${describeErr(err)}` : 'succeeded'} instead of answering 501`);
      });
      continue;
    }
    const stream = STREAMS.has(cap);

    add(`shape.${cap}`, `${cap}: ${stream ? 'every chunk is' : 'the answer is'} builder-shaped (field order, nulls present)`, async () => {
      if (hasUpstream) route(cap, kaseOf(cap).answer);
      const inst = instance(cap);
      const problems: string[] = [];
      if (stream) {
        const chunks: unknown[] = [];
        const it = iterate(inst, cap, new AbortController().signal);
        for (;;) { const r = await it.next(); if (r.done) break; chunks.push(r.value); }
        if (!chunks.length) problems.push('the stream yielded no chunk');
        chunks.forEach((c, i) => problems.push(...answerShapeProblems(SHAPE_OF[cap], c).map((p) => `chunk ${i}: ${p}`)));
      } else {
        problems.push(...answerShapeProblems(SHAPE_OF[cap], await call(inst, cap, new AbortController().signal)));
      }
      if (hasUpstream && upstream().requests.length === 0) problems.push(`the upstream received no request at ${kaseOf(cap).route}`);
      if (problems.length) throw new Error(problems.slice(0, 12).join('\n'));
    });

    add(`abort.${cap}`, `${cap}: the caller's abort ${hasUpstream ? 'reaches the upstream (its connection closes)' : 'stops the call'}`, async () => {
      const ctl = new AbortController();
      if (!hasUpstream) {
        const inst = instance(cap);
        if (stream) {
          const it = iterate(inst, cap, ctl.signal);
          await it.next();
          ctl.abort();
          await failure((async () => { for (;;) { const r = await it.next(); if (r.done) throw new Error('the stream ended normally after the abort'); } })(), `${cap} after abort`);
        } else {
          const p = call(inst, cap, ctl.signal);
          ctl.abort();
          await failure(p, `${cap} after abort`);
        }
        return;
      }
      const u = upstream();
      route(cap, stream ? stalledOf(cap) : { hang: true });
      const inst = instance(cap);
      if (stream) {
        const it = iterate(inst, cap, ctl.signal);
        const first = await it.next();
        if (first.done) throw new Error('the stream ended before its first chunk');
        ctl.abort();
        // Bounded: a provider that ignores the signal would otherwise wait on the held-open upstream.
        await Promise.race([it.next().catch(() => {}), sleep(2000)]);
        await Promise.race([Promise.resolve(it.return?.()).catch(() => {}), sleep(500)]);
      } else {
        const p = call(inst, cap, ctl.signal);
        p.catch(() => {});
        for (let i = 0; i < 400 && u.requests.length === 0; i++) await sleep(5);
        if (u.requests.length === 0) throw new Error('the upstream never received the request');
        ctl.abort();
        await failure(Promise.race([p, sleep(2000).then(() => { throw new Error('the call did not end within 2 s of the abort'); })]), `${cap} after abort`);
      }
      if (!(await u.waitForCloses(1, 2000))) throw new Error('the upstream connection was still open 2 s after the caller aborted');
    }, undefined);

    add(`error-before-first.${cap}`, `${cap}: an upstream ${errorAnswer.status} ${stream ? 'before the first chunk ' : ''}keeps its status`, async () => {
      route(cap, errorAnswer);
      const inst = instance(cap);
      let chunks = 0;
      const err = await failure(stream
        ? (async () => { const it = iterate(inst, cap, new AbortController().signal); for (;;) { const r = await it.next(); if (r.done) break; chunks++; } })()
        : call(inst, cap, new AbortController().signal), cap);
      if (chunks) throw new Error(`the stream yielded ${chunks} chunk(s) before failing`);
      if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${describeErr(err)}`);
      if (err.status !== errorAnswer.status) throw new Error(`expected status ${errorAnswer.status}, got ${describeErr(err)}`);
    }, noUpstream);

    if (stream) {
      add(`error-after-first.${cap}`, `${cap}: an upstream failure after the first chunk ends the stream with a GatewayError (the final error event)`, async () => {
        route(cap, truncatedOf(cap));
        const inst = instance(cap);
        let chunks = 0;
        const err = await failure((async () => {
          const it = iterate(inst, cap, new AbortController().signal);
          for (;;) { const r = await it.next(); if (r.done) break; chunks++; }
        })(), `${cap} cut after its first chunk`);
        if (!chunks) throw new Error(`no chunk came before the error (${describeErr(err)}); raise firstChunkEvents or check the fixture`);
        if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${describeErr(err)}`);
        if (err.status < 500) throw new Error(`expected a 5xx, got ${describeErr(err)}`);
      }, noUpstream);
    }

    if (stream) {
      add(`timeout-mid-stream.${cap}`, `${cap}: an upstream that stalls after the first chunk maps to 504`, async () => {
        route(cap, stalledOf(cap));
        const inst = instance(cap, { timeoutMs });
        let chunks = 0;
        const err = await failure((async () => {
          const it = iterate(inst, cap, new AbortController().signal);
          for (;;) { const r = await it.next(); if (r.done) break; chunks++; }
        })(), `${cap} stalled`);
        if (!chunks) throw new Error(`no chunk came before the error (${describeErr(err)})`);
        if (!isGatewayError(err) || err.status !== 504) throw new Error(`expected a 504 GatewayError, got ${describeErr(err)}`);
      }, noUpstream);
    }
  }

  // One check for all capabilities, run side by side: the HTTP client's timers tick at ~0.5-1 s.
  add('timeout', `${declared.join(', ') || 'no capability'}: an upstream that does not answer within the timeout maps to 504`, async () => {
    const u = upstream();
    u.reset();
    for (const cap of declared) u.on(kaseOf(cap).route, { hang: true });
    const problems = await Promise.all(declared.map(async (cap) => {
      const inst = instance(cap, { timeoutMs });
      const err = await failure(STREAMS.has(cap)
        ? (async () => { const it = iterate(inst, cap, new AbortController().signal); for (;;) { const r = await it.next(); if (r.done) break; } })()
        : call(inst, cap, new AbortController().signal), cap).catch((e: Error) => e);
      return isGatewayError(err) && err.status === 504 ? null : `${cap}: expected a 504 GatewayError, got ${describeErr(err)}`;
    }));
    const bad = problems.filter(Boolean);
    if (bad.length) throw new Error(bad.join('\n'));
  }, noUpstream);

  const secrets = [...secretsOf(fx.config('http://127.0.0.1:9'), def.keyFields), ...(fx.secrets ?? [])];
  add('no-key-in-errors', 'no configured key appears in any error (upstream errors, timeouts, aborts, unreachable upstream)', async () => {
    // Errors of their own, so the check stands alone: an upstream error and an unreachable upstream per capability.
    const dead = await deadPortUrl();
    for (const cap of declared) {
      if (!fx.capabilities[cap]) continue;
      route(cap, errorAnswer);
      const consume = (inst: ProviderInstance) => STREAMS.has(cap)
        ? (async () => { const it = iterate(inst, cap, new AbortController().signal); for (;;) { const r = await it.next(); if (r.done) break; } })()
        : call(inst, cap, new AbortController().signal);
      await failure(consume(instance(cap)), `${cap} with an upstream error`);
      await failure(consume(instance(cap, { url: dead })), `${cap} with an unreachable upstream`);
    }
    const leaks: string[] = [];
    for (const e of seenErrors) {
      const g = e as { message?: unknown; detail?: unknown; headers?: unknown; code?: unknown };
      const text = [String(g?.message ?? e), JSON.stringify(g?.detail ?? null), JSON.stringify(g?.headers ?? null)].join('\n');
      // The report itself must not print the key: it is masked in the error it quotes.
      const masked = secrets.reduce((t, x) => t.split(x).join('***'), describeErr(e));
      for (const s of secrets) if (text.includes(s)) leaks.push(`${masked} contains the configured secret '${s.slice(0, 3)}…'`);
    }
    if (leaks.length) throw new Error(leaks.join('\n'));
  }, noUpstream ?? (secrets.length ? undefined : 'the fixtures configure no key'));

  return {
    async setup() { if (hasUpstream && !up) up = await startFakeUpstream(); },
    async teardown() { if (up) { await up.close(); up = undefined; } },
    checks,
    get upstream() { return upstream(); },
  };
}

/** Run every check of a suite once and report each (for scripts; in tests, use `suite.checks` with `it`). */
export async function runConformance<C>(def: ProviderDefinition<C>, fx: ConformanceFixtures<C>): Promise<Array<{ id: string; ok: boolean; skipped?: string; known?: string; error?: string }>> {
  const suite = conformanceSuite(def, fx);
  await suite.setup();
  const out: Array<{ id: string; ok: boolean; skipped?: string; known?: string; error?: string }> = [];
  try {
    for (const c of suite.checks) {
      if (c.skip) { out.push({ id: c.id, ok: true, skipped: c.skip }); continue; }
      try { await c.run(); out.push({ id: c.id, ok: true, known: c.known }); } catch (e) { out.push({ id: c.id, ok: false, known: c.known, error: (e as Error).message }); }
    }
  } finally { await suite.teardown(); }
  return out;
}
