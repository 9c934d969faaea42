// The official OTLP exporters for the configured protocol: gRPC, HTTP with protobuf, or
// HTTP with JSON. Only the chosen protocol's packages are loaded.
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import { applyRetryPolicy } from "./retry.ts";
import type { Signal, TelemetrySettings } from "./settings.ts";

export type Exporters = { traces?: SpanExporter; metrics?: PushMetricExporter; logs?: LogRecordExporter };

type Options = Pick<TelemetrySettings, "protocol" | "urls" | "headers" | "compression" | "timeoutMs" | "retry">;

export async function createExporters(s: Options, signals: Record<Signal, boolean>): Promise<Exporters> {
  const out: Exporters = {};
  const compression = (s.compression ? "gzip" : "none") as never;
  if (s.protocol === "grpc") {
    const { createEmptyMetadata } = await import("@opentelemetry/otlp-grpc-exporter-base");
    const metadata = createEmptyMetadata();
    for (const [name, value] of Object.entries(s.headers)) metadata.set(name.toLowerCase(), value);
    // The scheme of the URL decides the credentials: http:// is plain text, https:// is TLS.
    const common = (url: string) => ({ url, metadata, compression, timeoutMillis: s.timeoutMs });
    if (signals.traces) out.traces = new (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter(common(s.urls.traces));
    if (signals.metrics) out.metrics = new (await import("@opentelemetry/exporter-metrics-otlp-grpc")).OTLPMetricExporter(common(s.urls.metrics));
    if (signals.logs) out.logs = new (await import("@opentelemetry/exporter-logs-otlp-grpc")).OTLPLogExporter(common(s.urls.logs));
  } else {
    const common = (url: string) => ({ url, headers: s.headers, compression, timeoutMillis: s.timeoutMs });
    if (s.protocol === "http/json") {
      if (signals.traces) out.traces = new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(common(s.urls.traces));
      if (signals.metrics) out.metrics = new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter(common(s.urls.metrics));
      if (signals.logs) out.logs = new (await import("@opentelemetry/exporter-logs-otlp-http")).OTLPLogExporter(common(s.urls.logs));
    } else {
      if (signals.traces) out.traces = new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(common(s.urls.traces));
      if (signals.metrics) out.metrics = new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter(common(s.urls.metrics));
      if (signals.logs) out.logs = new (await import("@opentelemetry/exporter-logs-otlp-proto")).OTLPLogExporter(common(s.urls.logs));
    }
  }
  for (const exporter of [out.traces, out.metrics, out.logs]) if (exporter) applyRetryPolicy(exporter, s.retry);
  return out;
}
