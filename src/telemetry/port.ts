// What the server sees of telemetry: plain functions and no OpenTelemetry types, so that
// the server, the tools and the Claude client can hold a handle without loading the SDK.
// With telemetry off there is no handle at all (undefined), and each call site costs one
// check.

export type AttributeValue = string | number | boolean | string[];
export type Attributes = Record<string, AttributeValue | undefined>;

/** How an operation ended: no errorType means it succeeded. */
export type Outcome = {
  /** error.type: a short low-cardinality name ("tool_error", "timeout", "not_found", an exception's class) */
  errorType?: string;
  /** the span's status message; redacted before it leaves */
  message?: string;
  attributes?: Attributes;
};

/** A span in progress. */
export type SpanHandle = {
  /** A span under this one (a command run, a Claude request); it ends with its own end(). */
  child(name: string, attributes?: Attributes, kind?: "internal" | "client"): SpanHandle;
  set(attributes: Attributes): void;
  /** Ends the span; with outcome.errorType its status is ERROR and error.type is set. Later calls do nothing. */
  end(outcome?: Outcome): void;
  /** W3C traceparent of this span, to hand on (an HTTP header, a child's TRACEPARENT); "" when not recorded */
  traceparent(): string;
};

/** Who is on the other end of a session: on every span of the session. */
export type SessionInfo = {
  sessionId: string;
  clientName?: string;
  clientVersion?: string;
  protocolVersion?: string;
  /** extra attributes for every span of this session (the http transport: the API key's name) */
  attributes?: Attributes;
};

/** Trace context a client sent in a request's `_meta` (W3C trace context). */
export type Carrier = { traceparent?: unknown; tracestate?: unknown };

/** One MCP operation: a tool call, a resource read or a prompt get. */
export type Operation = {
  span: SpanHandle;
  /** Records the metrics (count, duration, errors) and ends the span. */
  end(outcome?: Outcome): void;
};

export type OperationKind = "tool" | "resource" | "prompt";

export type LogRecord = { level: "debug" | "info" | "warn" | "error"; message: string; attributes?: Record<string, unknown> };

export type Telemetry = {
  /** Starts a span and a clock for one operation; `name` is the tool or prompt name, or the resource URI. */
  begin(kind: OperationKind, name: string, session: SessionInfo, carrier?: Carrier): Operation;
  /** mcp.sessions.events and mcp.server.sessions.active, plus the "Session <event>" log record upstream sent. */
  sessionEvent(event: "initialized" | "closed" | "error", session: SessionInfo): void;
  /** A log record for OTLP logs, redacted here with the logger's secrets; dropped when logs are off or over the rate limit. */
  log(record: LogRecord): void;
  /** Prometheus text of the current metrics, when telemetry.prometheus is on. */
  prometheus?: () => Promise<string>;
  /** Where telemetry goes, for people: "grpc https://api.telemetryflow.id:4317 (traces, metrics, logs)". */
  destination: string;
  /** Counts mcp.server.shutdowns, flushes every signal and stops; resolves within `timeoutMs` whatever the collector does. */
  shutdown(timeoutMs: number): Promise<{ flushed: boolean }>;
};
