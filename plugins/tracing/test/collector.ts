/**
 * A loopback OTLP/HTTP collector for tests: accepts `POST /v1/traces` (JSON, as the OTLP/HTTP
 * JSON encoding; gzip when the exporter compresses), and decodes the spans it received.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface OtlpValue { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: OtlpValue[] } }
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  events: Array<{ name: string; time: bigint; attributes: Record<string, unknown> }>;
  resource: Record<string, unknown>;
  scope: string;
}

export function value(v: OtlpValue | undefined): unknown {
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

const attrs = (list: Array<{ key: string; value: OtlpValue }> | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

export function decode(body: any): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind,
          start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano), status: s.status ?? {},
          attributes: attrs(s.attributes),
          events: (s.events ?? []).map((e: any) => ({ name: e.name, time: BigInt(e.timeUnixNano), attributes: attrs(e.attributes) })),
          resource, scope: ss.scope?.name,
        });
      }
    }
  }
  return out;
}

export interface Collector {
  url: string;
  /** Every request: headers and raw body text. */
  requests: Array<{ path: string; headers: IncomingHttpHeaders; raw: string }>;
  spans: DecodedSpan[];
  close(): Promise<void>;
}

export async function startCollector(): Promise<Collector> {
  const requests: Collector['requests'] = [];
  const spans: DecodedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let buf = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') buf = gunzipSync(buf);
      const raw = buf.toString('utf8');
      requests.push({ path: req.url ?? '', headers: req.headers, raw });
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      try { spans.push(...decode(JSON.parse(raw))); } catch { res.writeHead(400).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans,
    close: () => new Promise<void>((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
