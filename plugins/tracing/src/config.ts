/**
 * The `tracing:` section. Seed 003 writes `tracing: {sampling_rate: 0.2, slow_threshold_ms: 1000}`;
 * every other key is optional and documented in the README.
 */
import { isAbsolute, resolve } from 'node:path';
import type { JSONSchema, RouteAccess } from '@gatehouse/sdk';

export interface OtlpSection {
  enabled?: boolean;
  endpoint?: string;
  headers?: Record<string, string>;
  timeout_ms?: number;
  compression?: 'none' | 'gzip';
  service_name?: string;
  batch?: { max_queue_size?: number; max_export_batch_size?: number; scheduled_delay_ms?: number; export_timeout_ms?: number };
}

export interface TracingSection {
  sampling_rate?: number;
  slow_threshold_ms?: number;
  dir?: string;
  files?: boolean;
  retention_days?: number;
  max_total_mb?: number;
  queue_size?: number;
  batch_size?: number;
  flush_interval_ms?: number;
  capture_content?: boolean;
  content_max_chars?: number;
  stage_min_ms?: number;
  scope?: 'invocations' | 'all';
  view_access?: RouteAccess;
  otlp?: OtlpSection | null;
}

const posInt = { type: 'integer', minimum: 1 } as const;

export const sectionSchema: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sampling_rate: { type: 'number', minimum: 0, maximum: 1, description: 'Share of requests kept (0..1); slow and failed requests are kept whatever the rate.' },
    slow_threshold_ms: { type: 'number', minimum: 0, description: 'Requests at least this slow are always kept.' },
    dir: { type: 'string', minLength: 1, description: 'Where `traces/` lives (default: $GATEHOUSE_DATA_DIR, else the working directory).' },
    files: { type: 'boolean', description: 'Write the file store (default true).' },
    retention_days: { type: 'number', exclusiveMinimum: 0 },
    max_total_mb: { type: 'number', exclusiveMinimum: 0 },
    queue_size: posInt,
    batch_size: posInt,
    flush_interval_ms: { type: 'integer', minimum: 0 },
    capture_content: { type: 'boolean' },
    content_max_chars: { type: 'integer', minimum: 0 },
    stage_min_ms: { type: 'number', minimum: 0 },
    scope: { enum: ['invocations', 'all'] },
    view_access: { enum: ['public', 'caller', 'admin'] },
    otlp: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        endpoint: { type: 'string', pattern: '^https?://' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        timeout_ms: posInt,
        compression: { enum: ['none', 'gzip'] },
        service_name: { type: 'string', minLength: 1 },
        batch: {
          type: 'object',
          additionalProperties: false,
          properties: {
            max_queue_size: posInt,
            max_export_batch_size: posInt,
            scheduled_delay_ms: { type: 'integer', minimum: 0 },
            export_timeout_ms: posInt,
          },
        },
      },
    },
  },
};

/** The section with every default filled in. */
export interface TracingSettings {
  samplingRate: number;
  slowThresholdMs: number;
  /** Absolute path of the directory that holds `traces/`. */
  dir: string;
  files: boolean;
  retentionDays: number;
  maxTotalBytes: number;
  queueSize: number;
  batchSize: number;
  flushIntervalMs: number;
  captureContent: boolean;
  contentMaxChars: number;
  stageMinMs: number;
  scope: 'invocations' | 'all';
  viewAccess: RouteAccess;
  otlp: null | {
    /** Undefined: the exporter's own default or `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`. */
    url?: string;
    headers: Record<string, string>;
    timeoutMs?: number;
    compression?: 'none' | 'gzip';
    serviceName: string;
    /** Only what the config sets: the BatchSpanProcessor fills the rest from `OTEL_BSP_*` or its defaults. */
    batch: { maxQueueSize?: number; maxExportBatchSize?: number; scheduledDelayMillis?: number; exportTimeoutMillis?: number };
  };
}

export const DEFAULTS = {
  samplingRate: 1,
  slowThresholdMs: 1000,
  retentionDays: 7,
  maxTotalMb: 1024,
  queueSize: 1000,
  batchSize: 100,
  flushIntervalMs: 200,
  contentMaxChars: 4096,
  stageMinMs: 0.05,
} as const;

/** `$NAME` values the kernel left as they were (a map is not a list, so `otlp.headers.*` may not expand) come from the environment. */
function envValue(v: string, env: NodeJS.ProcessEnv): string {
  const m = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(v.trim());
  return m ? env[m[1]!] ?? '' : v;
}

export function settingsOf(section: TracingSection | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): TracingSettings {
  const s = section ?? {};
  const base = env.GATEHOUSE_DATA_DIR || cwd;
  const dir = s.dir ? (isAbsolute(s.dir) ? s.dir : resolve(base, s.dir)) : resolve(base);
  const o = s.otlp;
  const envEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // OTLP is on when the section says so (an endpoint, or enabled: true) or when the standard variables name a collector.
  const otlpOn = o ? o.enabled !== false : Boolean(envEndpoint);
  const batch = o?.batch ?? {};
  return {
    samplingRate: s.sampling_rate ?? DEFAULTS.samplingRate,
    slowThresholdMs: s.slow_threshold_ms ?? DEFAULTS.slowThresholdMs,
    dir,
    files: s.files ?? true,
    retentionDays: s.retention_days ?? DEFAULTS.retentionDays,
    maxTotalBytes: Math.round((s.max_total_mb ?? DEFAULTS.maxTotalMb) * 1024 * 1024),
    queueSize: s.queue_size ?? DEFAULTS.queueSize,
    batchSize: s.batch_size ?? DEFAULTS.batchSize,
    flushIntervalMs: s.flush_interval_ms ?? DEFAULTS.flushIntervalMs,
    captureContent: s.capture_content ?? true,
    contentMaxChars: s.content_max_chars ?? DEFAULTS.contentMaxChars,
    stageMinMs: s.stage_min_ms ?? DEFAULTS.stageMinMs,
    scope: s.scope ?? 'invocations',
    viewAccess: s.view_access ?? 'public',
    otlp: otlpOn ? {
      url: o?.endpoint,
      headers: Object.fromEntries(Object.entries(o?.headers ?? {}).map(([k, v]) => [k, envValue(v, env)])),
      timeoutMs: o?.timeout_ms,
      compression: o?.compression,
      serviceName: o?.service_name ?? env.OTEL_SERVICE_NAME ?? 'gatehouse',
      batch: Object.fromEntries(Object.entries({
        maxQueueSize: batch.max_queue_size,
        maxExportBatchSize: batch.max_export_batch_size,
        scheduledDelayMillis: batch.scheduled_delay_ms,
        exportTimeoutMillis: batch.export_timeout_ms,
      }).filter(([, v]) => v !== undefined)),
    } : null,
  };
}
