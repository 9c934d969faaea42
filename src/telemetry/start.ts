// Telemetry when it is on: OpenTelemetry's providers, the OTLP exporters, and the handle the
// server uses (port.ts). Loaded with `await import()` only when telemetry.enabled (or
// telemetry.prometheus) is set; with telemetry off nothing of OpenTelemetry is loaded.
//
// Light on the request path: metrics are plain tallies (tallies.ts); spans and log records
// are built only within telemetry.rate_limit a second; batches are serialized and sent off
// the request, into a bounded queue; a collector that is down, slow or refusing costs a
// retry timer, never a tool call's time. Drops are counted (mcp.telemetry.dropped) and
// logged once.
import { type Attributes as OtelAttributes, DiagLogLevel, diag, ROOT_CONTEXT, SeverityNumber, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, parseTraceParent, setGlobalErrorHandler, TraceState } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { type Logger, redactor } from "../log.ts";
import { createExporters } from "./exporters.ts";
import type { Attributes, Carrier, LogRecord, Operation, OperationKind, Outcome, SessionInfo, SpanHandle, Telemetry } from "./port.ts";
import { talliesProducer } from "./producer.ts";
import { tokenBucket } from "./rate.ts";
import { describeTelemetry, type Signal, type TelemetrySettings } from "./settings.ts";
import { createTallies, type Labels, METRICS, type MetricSpec } from "./tallies.ts";

export type StartDeps = { log: Logger; secrets: string[]; version: string };

const SEVERITY: Record<LogRecord["level"], SeverityNumber> = { debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };

export const NOOP_SPAN: SpanHandle = { child: () => NOOP_SPAN, set() {}, end() {}, traceparent: () => "" };

/** Attribute values OpenTelemetry accepts: primitives and string arrays; anything else as JSON; secrets redacted. */
export function cleanAttributes(attributes: Record<string, unknown> | undefined, redact: (text: string) => string): OtelAttributes {
  const out: OtelAttributes = {};
  if (!attributes) return out;
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "string") out[key] = redact(value);
    else if (typeof value === "number" || typeof value === "boolean") out[key] = value;
    else if (Array.isArray(value) && value.every((x) => typeof x === "string")) out[key] = value.map(redact);
    else out[key] = redact(JSON.stringify(value));
  }
  return out;
}

function spanHandle(span: Span, tracer: Tracer, redact: (text: string) => string): SpanHandle {
  let ended = false;
  const handle: SpanHandle = {
    child(name, attributes, kind) {
      const parent = trace.setSpan(ROOT_CONTEXT, span);
      return spanHandle(tracer.startSpan(name, { kind: kind === "client" ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes: cleanAttributes(attributes, redact) }, parent), tracer, redact);
    },
    set(attributes) {
      if (!ended) span.setAttributes(cleanAttributes(attributes, redact));
    },
    end(outcome) {
      if (ended) return;
      ended = true;
      if (outcome?.attributes) span.setAttributes(cleanAttributes(outcome.attributes, redact));
      if (outcome?.errorType) {
        span.setAttribute("error.type", outcome.errorType);
        span.setStatus({ code: SpanStatusCode.ERROR, message: redact(outcome.message ?? outcome.errorType) });
      }
      span.end();
    },
    traceparent() {
      const c = span.spanContext();
      return span.isRecording() ? `00-${c.traceId}-${c.spanId}-${c.traceFlags.toString(16).padStart(2, "0")}` : "";
    },
  };
  return handle;
}

/** The client's trace context from a request's _meta, when it is a valid W3C traceparent. */
function parentContext(carrier: Carrier | undefined) {
  if (typeof carrier?.traceparent !== "string") return ROOT_CONTEXT;
  const parsed = parseTraceParent(carrier.traceparent);
  if (!parsed) return ROOT_CONTEXT;
  if (typeof carrier.tracestate === "string" && carrier.tracestate) parsed.traceState = new TraceState(carrier.tracestate);
  return trace.setSpanContext(ROOT_CONTEXT, parsed);
}

type OperationShape = { span: (name: string) => string; method: string; nameAttributes: (name: string) => Attributes; count: MetricSpec; duration: MetricSpec; errors?: MetricSpec; label: string };

const OPERATIONS: Record<OperationKind, OperationShape> = {
  tool: {
    span: (name) => `mcp.tools.execute.${name}`,
    method: "tools/call",
    nameAttributes: (name) => ({ "tool.name": name, "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool" }),
    count: METRICS.toolCalls,
    duration: METRICS.toolDuration,
    errors: METRICS.toolErrors,
    label: "tool.name",
  },
  resource: {
    // The URI is an attribute, not part of the name: a name per file would make every read its own kind of span.
    span: () => "mcp.resources.read",
    method: "resources/read",
    nameAttributes: (uri) => ({ "resource.uri": uri, "mcp.resource.uri": uri }),
    count: METRICS.resourceReads,
    duration: METRICS.resourceDuration,
    label: "resource.uri",
  },
  prompt: {
    span: (name) => `mcp.prompts.get.${name}`,
    method: "prompts/get",
    nameAttributes: (name) => ({ "prompt.name": name, "gen_ai.prompt.name": name }),
    count: METRICS.promptGets,
    duration: METRICS.promptDuration,
    label: "prompt.name",
  },
};

function sessionAttributes(s: SessionInfo): Attributes {
  return { "mcp.session.id": s.sessionId, "mcp.client.name": s.clientName, "mcp.client.version": s.clientVersion, "mcp.protocol.version": s.protocolVersion, ...s.attributes };
}

/** Calls the wrapped exporter and tells `onResult` how each export went. */
function watched<T, E extends { export(items: T, done: (r: ExportResult) => void): void; shutdown(): Promise<void>; forceFlush?(): Promise<void> }>(exporter: E, onResult: (r: ExportResult, items: T) => void): E {
  const e = exporter as E & { selectAggregationTemporality?: (x: unknown) => unknown; selectAggregation?: (x: unknown) => unknown };
  return {
    export: (items: T, done: (r: ExportResult) => void) =>
      exporter.export(items, (result) => {
        onResult(result, items);
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
    ...(e.selectAggregationTemporality ? { selectAggregationTemporality: (x: unknown) => e.selectAggregationTemporality!(x) } : {}),
    ...(e.selectAggregation ? { selectAggregation: (x: unknown) => e.selectAggregation!(x) } : {}),
  } as unknown as E;
}

export async function startTelemetry(settings: TelemetrySettings, deps: StartDeps): Promise<Telemetry> {
  const { log } = deps;
  const redact = redactor(deps.secrets);
  const logged = new Set<string>();
  const warnOnce = (key: string, message: string, fields?: Record<string, unknown>) => {
    if (logged.has(key)) return;
    logged.add(key);
    log.warn(message, fields);
  };
  // The SDK's own complaints (a full queue, a bad attribute) reach our log, each kind once.
  diag.setLogger(
    {
      error: (m) => warnOnce(`diag:${m.slice(0, 40)}`, `telemetry: ${redact(m)}`),
      warn: (m) => warnOnce(`diag:${m.slice(0, 40)}`, `telemetry: ${redact(m)}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  // Failed exports are reported by `watched` below, once per signal.
  setGlobalErrorHandler((error) => log.debug("telemetry: SDK error", { error: redact(String((error as Error)?.message ?? error)) }));

  const tallies = createTallies();
  const startedAt = Date.now();
  const scope = { name: "tfo-mcp", version: deps.version };
  const resource = resourceFromAttributes(settings.resource);
  const signals: Record<Signal, boolean> = settings.otlp ? settings.signals : { traces: false, metrics: false, logs: false };
  const exporters = await createExporters(settings, signals);

  // Plain counts on the request path; folded into mcp.telemetry.dropped when metrics are read.
  const dropped = { traces: { rate_limit: 0, export_failed: 0 }, logs: { rate_limit: 0, export_failed: 0 } };
  const drop = (signal: "traces" | "logs", reason: "rate_limit" | "export_failed", n: number) => {
    dropped[signal][reason] += n;
  };
  const foldDrops = () => {
    for (const signal of ["traces", "logs"] as const)
      for (const reason of ["rate_limit", "export_failed"] as const)
        if (dropped[signal][reason]) tallies.set(METRICS.dropped, `${signal}\u0000${reason}`, () => ({ signal, reason }), dropped[signal][reason]);
  };
  const noteExport = (signal: Signal, n: number) => (result: ExportResult) => {
    if (result.code === ExportResultCode.SUCCESS) return;
    if (signal !== "metrics") drop(signal, "export_failed", n);
    const why = redact(String(result.error?.message ?? result.error ?? "unknown error"));
    warnOnce(`export:${signal}`, `telemetry: exporting ${signal} to ${settings.urls[signal]} failed (${why}); what could not be sent is dropped and counted in mcp.telemetry.dropped, and telemetry keeps trying. Logged once.`);
  };

  const producer = talliesProducer(tallies, scope, startedAt, foldDrops);
  const readers: MetricReader[] = [];
  if (exporters.metrics) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: watched(exporters.metrics, (r) => noteExport("metrics", 0)(r)),
        exportIntervalMillis: settings.metricIntervalMs,
        exportTimeoutMillis: Math.min(settings.timeoutMs, settings.metricIntervalMs),
        metricProducers: [producer],
      }),
    );
  }
  let prometheus: Telemetry["prometheus"];
  if (settings.prometheus) {
    const { PrometheusExporter, PrometheusSerializer } = await import("@opentelemetry/exporter-prometheus");
    const reader = new PrometheusExporter({ preventServerStart: true, metricProducers: [producer] });
    const serializer = new PrometheusSerializer();
    readers.push(reader);
    prometheus = async () => serializer.serialize((await reader.collect()).resourceMetrics);
  }
  const meterProvider = readers.length ? new MeterProvider({ resource, readers }) : undefined;

  const batch = { maxExportBatchSize: settings.batch.maxSize, maxQueueSize: settings.batch.maxQueue, scheduledDelayMillis: settings.batch.delayMs, exportTimeoutMillis: settings.timeoutMs };
  const tracerProvider = exporters.traces
    ? new TracerProvider({
        resource,
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: watched(exporters.traces, (r, batch: unknown[]) => noteExport("traces", batch.length)(r)),
            ...batch,
            // The SDK counts what a full queue drops (otel.sdk.processor.span.processed, error.type queue_full).
            ...(meterProvider && exporters.metrics ? { selfObsMeterProvider: meterProvider } : {}),
          }),
        ],
      })
    : undefined;
  const tracer = tracerProvider?.getTracer(scope.name, scope.version);
  const loggerProvider = exporters.logs
    ? new LoggerProvider({
        resource,
        processors: [
          new BatchLogRecordProcessor({
            exporter: watched(exporters.logs, (r, batch: unknown[]) => noteExport("logs", batch.length)(r)),
            ...batch,
            ...(meterProvider && exporters.metrics ? { selfObsMeterProvider: meterProvider } : {}),
          }),
        ],
      })
    : undefined;
  const otelLogger = loggerProvider?.getLogger("tfo_mcp", scope.version);
  // telemetry.rate_limit is upstream's "records per second": spans and log records share it.
  const records = tokenBucket(settings.rateLimit);
  const active = new Set<string>();

  function emit(record: LogRecord) {
    if (!otelLogger) return;
    if (!records.take()) return drop("logs", "rate_limit", 1);
    otelLogger.emit({ severityNumber: SEVERITY[record.level], severityText: record.level.toUpperCase(), body: redact(record.message), attributes: cleanAttributes(record.attributes, redact) });
  }

  function begin(kind: OperationKind, name: string, session: SessionInfo, carrier?: Carrier): Operation {
    const started = performance.now();
    const shape = OPERATIONS[kind];
    let span = NOOP_SPAN;
    if (tracer) {
      if (records.take()) {
        const attributes = cleanAttributes({ ...shape.nameAttributes(name), "mcp.method.name": shape.method, ...sessionAttributes(session) }, redact);
        span = spanHandle(tracer.startSpan(shape.span(name), { kind: SpanKind.SERVER, attributes }, parentContext(carrier)), tracer, redact);
      } else drop("traces", "rate_limit", 1);
    }
    return {
      span,
      end(outcome?: Outcome) {
        const seconds = (performance.now() - started) / 1000;
        const failed = outcome?.errorType !== undefined;
        const errorType = outcome?.errorType;
        // Labels are built once per series, and redacted like everything else that leaves.
        const labels = (): Labels => ({ [shape.label]: redact(name), success: failed ? "false" : "true", ...(kind === "tool" && errorType ? { "error.type": errorType } : {}) });
        const key = failed ? `${name}\u0000${kind === "tool" ? errorType : ""}` : name;
        tallies.add(shape.count, key, labels);
        tallies.record(shape.duration, name, () => ({ [shape.label]: redact(name) }), seconds);
        if (failed && shape.errors) tallies.add(shape.errors, key, labels);
        if (span !== NOOP_SPAN) span.end({ ...outcome, attributes: { ...outcome?.attributes, success: failed ? "false" : "true" } });
      },
    };
  }

  function sessionEvent(event: "initialized" | "closed" | "error", session: SessionInfo) {
    tallies.add(METRICS.sessionEvents, `${event}\u0000${session.sessionId}`, () => ({ event, "session.id": session.sessionId }));
    if (event === "initialized" && !active.has(session.sessionId)) {
      active.add(session.sessionId);
      tallies.add(METRICS.sessionsActive, "", () => ({}), 1);
    } else if (event !== "initialized" && active.delete(session.sessionId)) tallies.add(METRICS.sessionsActive, "", () => ({}), -1);
    // Upstream sent these as log records too.
    emit({ level: event === "error" ? "warn" : "info", message: `Session ${event}`, attributes: { event, "session.id": session.sessionId, ...sessionAttributes(session) } });
  }

  async function shutdown(timeoutMs: number): Promise<{ flushed: boolean }> {
    tallies.add(METRICS.shutdowns, "", () => ({}));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const flushed = await Promise.race([
      Promise.allSettled([tracerProvider?.shutdown(), loggerProvider?.shutdown(), meterProvider?.shutdown()]).then(() => true),
      late,
    ]);
    clearTimeout(timer);
    if (records.dropped()) log.info(`telemetry: over telemetry.rate_limit (${settings.rateLimit} records/s), ${dropped.traces.rate_limit} spans and ${dropped.logs.rate_limit} log records were not recorded`);
    if (!flushed) log.warn(`telemetry: the final flush to ${describeTelemetry(settings)} did not finish within ${timeoutMs} ms; exiting without it`);
    return { flushed };
  }

  log.debug("telemetry started", { destination: describeTelemetry(settings) });
  return { begin, sessionEvent, log: emit, prometheus, destination: describeTelemetry(settings), shutdown };
}
