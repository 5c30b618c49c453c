/**
 * Tracing: a trace per request in seed 003's model (a root span, a span per pipeline stage that
 * did work, a span per upstream attempt, the invocation's events), kept by sampling (plus every
 * slow or failed request), written to an embedded file store in the seed's layout and/or
 * exported over OTLP/HTTP, and shown by a read API and a waterfall page at `/docs/traces`.
 */
import { readFileSync } from 'node:fs';
import {
  definePlugin, GatewayError, STAGES,
  type Invocation, type PluginContext, type RequestOutcome, type RouteRequest,
} from '@gatehouse/sdk';
import { sectionSchema, settingsOf, type TracingSection, type TracingSettings } from './config.js';
import { accumulateChunk, newAccumulator } from './content.js';
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent } from './ids.js';
import { buildTrace, isFailed, keepReason, type RequestRecord, type StageMark, type Trace } from './model.js';
import { OtlpExport } from './otlp.js';
import { TraceStore, type StoreOptions } from './store.js';
import { tracesPage } from './view.js';

export { buildTrace, keepReason, mergeTraces, type Trace, type Span, type RequestRecord } from './model.js';
export { TraceStore, listTraces, readTrace, sweep, BUCKETS, bucketOf, type IndexEntry } from './store.js';
export { settingsOf, sectionSchema, type TracingSection, type TracingSettings } from './config.js';
export { parseTraceparent, formatTraceparent } from './ids.js';
export { toReadableSpans, OtlpExport } from './otlp.js';

/** Process-lifetime writers and exporters, shared by the configuration generations that use them. */
class Holders {
  private readonly items = new Map<string, { value: { close(): Promise<void> }; refs: number }>();

  acquire<T extends { close(): Promise<void> }>(key: string, make: () => T, update?: (v: T) => void): T {
    const had = this.items.get(key);
    if (had) { had.refs++; update?.(had.value as T); return had.value as T; }
    const value = make();
    this.items.set(key, { value, refs: 1 });
    return value;
  }

  async release(key: string): Promise<void> {
    const had = this.items.get(key);
    if (!had || --had.refs > 0) return;
    this.items.delete(key);
    await had.value.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.items.values()];
    this.items.clear();
    await Promise.allSettled(all.map((i) => i.value.close()));
  }
}

/** Where other plugins find the trace context: `inv.state.get('tracing')` (e.g. the request log's `trace_id`). */
const STATE_KEY = 'tracing';

/**
 * The value at `inv.state.get('tracing')`: the trace id, the root span id and the sampling
 * decision, and (private, invisible to other plugins) what this plugin records for the request.
 * Kept on the invocation itself rather than in a map keyed by it: no WeakMap entry per request.
 */
class TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  #rec: RequestRecord | undefined;

  constructor(rec: RequestRecord) {
    this.traceId = rec.traceId;
    this.spanId = rec.rootSpanId;
    this.sampled = rec.headSampled;
    this.#rec = rec;
  }

  static recordOf(inv: Invocation): RequestRecord | undefined {
    const c = inv.state.get(STATE_KEY);
    return c instanceof TraceContext ? c.#rec : undefined;
  }

  /** The record, once: the request is finished, the context stays for the observers after this one. */
  static take(inv: Invocation): RequestRecord | undefined {
    const c = inv.state.get(STATE_KEY);
    if (!(c instanceof TraceContext)) return undefined;
    const rec = c.#rec;
    c.#rec = undefined;
    return rec;
  }
}

const recordOf = TraceContext.recordOf;

const ASSETS: Record<string, string> = {
  'traces.js': 'text/javascript; charset=utf-8',
  'traces.css': 'text/css; charset=utf-8',
};

/** The page's files, read once per process (they sit beside `src/` and `dist/`). */
const assetCache = new Map<string, Buffer>();
function asset(file: string): Buffer {
  let b = assetCache.get(file);
  if (!b) { b = readFileSync(new URL(`../assets/${file}`, import.meta.url)); assetCache.set(file, b); }
  return b;
}

const API = '/api/gatehouse/traces';
const VIEW = '/docs/traces';
const NO_CACHE = { 'cache-control': 'no-cache' };

function storeOptions(s: TracingSettings, sweeps: boolean): StoreOptions {
  return {
    root: `${s.dir.replace(/\/+$/, '')}/traces`,
    queueSize: s.queueSize,
    batchSize: s.batchSize,
    flushIntervalMs: s.flushIntervalMs,
    retentionDays: s.retentionDays,
    maxTotalBytes: s.maxTotalBytes,
    sweeps,
  };
}

/**
 * `performance.now()` at the request's arrival. Stage times are monotonic, attempt and event
 * times wall-clock: map the outcome's wall-clock start onto the monotonic clock with the two
 * clocks' difference right now (drift since process start does not matter), then hold it to
 * what must be true: no later than the invocation's start or than `finishedAt - durationMs`
 * (other observers may run before this one), no earlier than the invocation's start minus the
 * whole duration. A fake clock thus still gives a sane waterfall.
 */
export function arrivalPerf(o: RequestOutcome, finishedAt: number, wallNow: number): number {
  const estimate = o.startedAt - (wallNow - finishedAt);
  const inv = o.invocation;
  const hi = Math.min(inv?.startedAt ?? Infinity, finishedAt - o.durationMs);
  const lo = (inv?.startedAt ?? finishedAt) - o.durationMs;
  return Math.min(hi, Math.max(lo, estimate));
}

/** A section with any key of its own (`tracing: {sampling_rate: 0.2}`) turns tracing on; so do the OTLP variables. */
export function isActive(section: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.keys(section ?? {}).some((k) => k !== 'enabled')
    || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

function queryNumber(req: RouteRequest, name: string, min: number): number | undefined {
  const raw = req.query[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new GatewayError('GW_ERR_REQUEST_BAD', `'${name}' must be a number ≥ ${min}.`, { param: name });
  return n;
}

export default definePlugin<TracingSection>({
  name: 'tracing',
  config: { section: sectionSchema, secrets: ['otlp.headers.*'] },
  errors: {
    GW_ERR_TRACE_NOT_FOUND: { status: 404, expose: true, type: 'not_found_error' },
  },

  async register(ctx: PluginContext<TracingSection>) {
    const section = (ctx.config ?? {}) as TracingSection;
    const active = isActive(section as Record<string, unknown>, ctx.env as NodeJS.ProcessEnv);
    const settings = settingsOf(section, ctx.env as NodeJS.ProcessEnv);
    const holders = ctx.keep('holders', () => new Holders(), (h) => h.closeAll());
    const sweeps = ctx.cluster.workerId === null || ctx.cluster.workerId === 1;

    let store: TraceStore | null = null;
    let otlp: OtlpExport | null = null;
    const storeKey = `store:${settings.dir}`;
    const otlpKey = `otlp:${JSON.stringify(settings.otlp)}`;
    if (active && settings.files) {
      const opts = storeOptions(settings, sweeps);
      store = holders.acquire(storeKey, () => new TraceStore(opts, ctx.clock, ctx.logger), (s) => s.configure(opts, ctx.logger));
      ctx.onClose(() => holders.release(storeKey));
    }
    if (active && settings.otlp) {
      const o = settings.otlp;
      const exp = holders.acquire(otlpKey, () => {
        const e = new OtlpExport(o);
        return Object.assign(e, { close: () => e.shutdown() });
      });
      // The SDK loads now, not at import: a gateway without OTLP export never loads it. A failure fails the plugin, as an import would.
      try { await exp.ready(); } catch (e) { await holders.release(otlpKey); throw e; }
      otlp = exp;
      ctx.onClose(() => holders.release(otlpKey));
    }
    const counts = { seen: 0, kept: 0, skipped: 0, failed: 0 };

    if (active) {
      const sampled = (): boolean => settings.samplingRate >= 1 || (settings.samplingRate > 0 && ctx.random.next() < settings.samplingRate);

      const start = (inv: Invocation): RequestRecord => {
        const parent = parseTraceparent(inv.headers.traceparent, inv.headers.tracestate);
        const rec: RequestRecord = {
          traceId: parent?.traceId ?? newTraceId(),
          rootSpanId: newSpanId(),
          parent,
          headSampled: sampled(),
          stages: [],
          attemptSpans: new Map(),
          output: null,
          firstChunkAt: null,
        };
        inv.setHeader('traceparent', formatTraceparent(rec.traceId, rec.rootSpanId, rec.headSampled));
        inv.state.set(STATE_KEY, new TraceContext(rec));
        return rec;
      };

      // A span per stage: join each stage first (`pre`) and time it until the next stage starts
      // or its `next()` settles (`buildTrace` takes the earlier). A stage whose `next()` already
      // entered the next stage before returning ends there, so only the others (the first stage,
      // for the error the request ended with, and any stage the pipeline left asynchronously, such
      // as `invoke` and the last one) wait for their `next()`: no async frame, and a promise only
      // where the settling time can matter.
      for (const stage of STAGES) {
        ctx.use(stage, (inv, next) => {
          const rec = recordOf(inv) ?? start(inv);
          const marks = rec.stages;
          const mark: StageMark = { stage, enter: performance.now(), settle: null, error: null };
          const n = marks.push(mark);
          let p: Promise<void>;
          try {
            p = next();
          } catch (e) {
            mark.error = e;
            mark.settle = performance.now();
            return Promise.reject(e);
          }
          if (marks.length > n && n > 1) return p;
          return p.then(() => { mark.settle = performance.now(); }, (e: unknown) => {
            mark.error = e;
            mark.settle = performance.now();
            throw e;
          });
        }, { order: 'pre' });
      }

      // Each attempt gets its own span id, sent upstream as its `traceparent`.
      ctx.attempts({
        before(inv, attempt) {
          const rec = recordOf(inv) ?? start(inv);
          const spanId = newSpanId();
          rec.attemptSpans.set(attempt.n, spanId);
          attempt.upstreamHeaders.traceparent = formatTraceparent(rec.traceId, spanId, rec.headSampled || Boolean(rec.parent && rec.parent.flags & 1));
          if (rec.parent?.tracestate) attempt.upstreamHeaders.tracestate = rec.parent.tracestate;
        },
      });

      const keep = (trace: Trace) => {
        store?.enqueue(trace);
        otlp?.export(trace);
      };

      ctx.observe({
        chunk(inv, chunk) {
          const rec = recordOf(inv);
          if (!rec) return;
          if (rec.firstChunkAt === null) rec.firstChunkAt = performance.now();
          rec.output ??= newAccumulator();
          accumulateChunk(rec.output, chunk, settings.contentMaxChars, settings.captureContent);
        },
        finish(o: RequestOutcome) {
          const finishedAt = performance.now();
          const inv = o.invocation;
          if (!inv && (settings.scope !== 'all' || o.path.startsWith(API) || o.path.startsWith(VIEW))) return;
          counts.seen++;
          let rec = inv ? TraceContext.take(inv) : undefined;
          const reason = keepReason(rec?.headSampled ?? sampled(), o.durationMs, isFailed(o), settings.slowThresholdMs);
          if (!reason) { counts.skipped++; return; }
          rec ??= { traceId: newTraceId(), rootSpanId: newSpanId(), parent: null, headSampled: false, stages: [], attemptSpans: new Map(), output: null, firstChunkAt: null };
          try {
            keep(buildTrace(rec, o, reason, settings, arrivalPerf(o, finishedAt, Date.now())));
            counts.kept++;
          } catch (e) {
            counts.failed++;
            ctx.logger.warn('trace not built', { error: (e as Error).message, request_id: o.id });
          }
        },
      });
    }

    // ------------------------------------------------------------------------------------------
    // Read API and the trace view

    const statsOf = () => ({
      enabled: active,
      files: store ? { dir: store.root, ...store.stats() } : null,
      otlp: otlp ? otlp.stats() : null,
      requests: counts,
      sampling_rate: settings.samplingRate,
      slow_threshold_ms: settings.slowThresholdMs,
    });

    ctx.route({
      method: 'GET', path: API, access: 'admin',
      openapi: {
        summary: 'List kept traces, newest first',
        tags: ['Tracing'],
        operationId: 'list_traces',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['OK', 'ERROR'] } },
          { name: 'min_duration_ms', in: 'query', schema: { type: 'number', minimum: 0 } },
          { name: 'endpoint', in: 'query', schema: { type: 'string' }, description: 'Served endpoint or called endpoint/route name' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'before', in: 'query', schema: { type: 'number' }, description: 'Only traces that started before this epoch millisecond (paging: pass the last `start_ms`)' },
        ],
        responses: { 200: { description: 'Index entries of matching traces, and store statistics' } },
      },
      handler: async (req) => {
        const rawStatus = req.query.status;
        const status = rawStatus ? rawStatus.toUpperCase() : undefined;
        if (status !== undefined && status !== 'OK' && status !== 'ERROR') {
          throw new GatewayError('GW_ERR_REQUEST_BAD', "'status' must be OK or ERROR.", { param: 'status' });
        }
        const limit = Math.min(500, Math.floor(queryNumber(req, 'limit', 1) ?? 50));
        const query = {
          status: status as 'OK' | 'ERROR' | undefined,
          minDurationMs: queryNumber(req, 'min_duration_ms', 0),
          endpoint: req.query.endpoint || undefined,
          before: queryNumber(req, 'before', 0),
          limit,
        };
        if (!store) return { headers: NO_CACHE, json: { traces: [], next_before: null, stats: statsOf() } };
        await store.settle();
        const traces = await store.list(query);
        const last = traces[traces.length - 1];
        return { headers: NO_CACHE, json: { traces, next_before: traces.length === limit && last ? last.start_ms : null, stats: statsOf() } };
      },
    });

    ctx.route({
      method: 'GET', path: `${API}/:id`, access: 'admin',
      openapi: {
        summary: 'One trace with its spans and events',
        tags: ['Tracing'],
        operationId: 'get_trace',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } }],
        responses: { 200: { description: 'The trace' }, 404: { description: 'No such trace' } },
      },
      handler: async (req) => {
        const id = (req.params.id ?? '').toLowerCase();
        if (store) await store.settle();
        const trace = store ? await store.get(id) : null;
        if (!trace) throw new GatewayError('GW_ERR_TRACE_NOT_FOUND', `No trace '${req.params.id}' in the trace store.`);
        return { headers: NO_CACHE, json: trace };
      },
    });

    try { for (const f of Object.keys(ASSETS)) asset(f); } catch (e) {
      throw new Error(`cannot read the trace view's files: ${(e as Error).message}`);
    }
    const page = tracesPage();
    ctx.route({
      method: 'GET', path: VIEW, access: settings.viewAccess,
      handler: async () => ({ headers: NO_CACHE, text: page, contentType: 'text/html; charset=utf-8' }),
    });
    ctx.route({
      method: 'GET', path: `${VIEW}/assets/:file`, access: settings.viewAccess,
      handler: async (req) => {
        const file = req.params.file ?? '';
        const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
        if (!type) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
        return { headers: NO_CACHE, text: asset(file), contentType: type };
      },
    });
  },
});
