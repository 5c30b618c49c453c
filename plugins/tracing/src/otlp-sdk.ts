/**
 * The OpenTelemetry SDK half of the OTLP export: loaded by `OtlpExport` (a dynamic import) only
 * when an exporter is configured.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetector, detectResources, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from './config.js';

export interface SdkExport { processor: BatchSpanProcessor; resource: Resource }

export function createSdkExport(settings: NonNullable<TracingSettings['otlp']>): SdkExport {
  const exporter = new OTLPTraceExporter({
    ...(settings.url ? { url: settings.url } : {}),
    ...(Object.keys(settings.headers).length ? { headers: settings.headers } : {}),
    ...(settings.timeoutMs ? { timeoutMillis: settings.timeoutMs } : {}),
    ...(settings.compression ? { compression: settings.compression as never } : {}),
  });
  const processor = new BatchSpanProcessor(exporter, settings.batch);
  // OTEL_RESOURCE_ATTRIBUTES adds to the resource; the service name is the config's, else OTEL_SERVICE_NAME, else `gatehouse`.
  const resource = detectResources({ detectors: [envDetector] })
    .merge(resourceFromAttributes({ 'service.name': settings.serviceName }));
  return { processor, resource };
}
