// Where telemetry goes and how, derived once from the config and the standard OTEL_*
// variables. Pure, and free of OpenTelemetry: `info` and `validate` use it without loading
// the SDK.
//
// Precedence: a telemetry.* key set away from its default wins; OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_PROTOCOL and OTEL_SERVICE_NAME fill the keys left at their defaults, so
// a plain OpenTelemetry set-up works without touching the config. When the endpoint comes
// from OTEL_EXPORTER_OTLP_ENDPOINT, the protocol follows the OpenTelemetry default
// (http/protobuf) unless OTEL_EXPORTER_OTLP_PROTOCOL or telemetry.protocol says otherwise.
// OTEL_EXPORTER_OTLP_HEADERS are sent too; TelemetryFlow's own headers win a clash.
import { maskUrlCredentials } from "../config/describe.ts";
import { type Config, defaults } from "../config/schema.ts";

export type Protocol = "grpc" | "http/protobuf" | "http/json";
export type Signal = "traces" | "metrics" | "logs";

export type TelemetrySettings = {
  /** export over OTLP (telemetry.enabled) */
  otlp: boolean;
  /** keep metrics for GET /metrics (telemetry.prometheus) */
  prometheus: boolean;
  protocol: Protocol;
  /** grpc: the same http(s)://host:port for every signal; http: the /v1/<signal> URLs */
  urls: Record<Signal, string>;
  headers: Record<string, string>;
  /** how the request is authenticated, for people: never the key itself */
  auth: "telemetryflow key id + secret" | "telemetryflow api key" | "OTEL_EXPORTER_OTLP_HEADERS" | "none";
  compression: boolean;
  timeoutMs: number;
  signals: Record<Signal, boolean>;
  batch: { delayMs: number; maxSize: number; maxQueue: number };
  retry: { enabled: boolean; maxRetries: number; backoffMs: number };
  /** most spans and log records per second, together (0: no limit) */
  rateLimit: number;
  metricIntervalMs: number;
  resource: Record<string, string>;
  /** the OTEL_* variables that were applied, for `info` */
  fromEnv: string[];
};

export type SettingsResult = { ok: true; settings: TelemetrySettings } | { ok: false; problems: { path: string; message: string }[] };

const DEFAULTS = defaults.telemetry;
const PROTOCOLS: Record<string, Protocol> = { grpc: "grpc", "http/protobuf": "http/protobuf", "http/json": "http/json" };
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// The protocol version upstream put on its resource; sessions carry the negotiated one.
const UPSTREAM_MCP_PROTOCOL = "2024-11-05";

/** `k1=v1,k2=v2` with percent-encoded values (W3C baggage style), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written. */
export function parseKeyValueList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (!key) continue;
    try {
      out[key] = decodeURIComponent(raw);
    } catch {
      out[key] = raw;
    }
  }
  return out;
}

/** `host:port` → http(s)://host:port by `insecure`; a URL is taken as written. */
export function endpointBase(endpoint: string, insecure: boolean): { ok: true; base: string } | { ok: false; error: string } {
  const text = endpoint.trim().replace(/\/+$/, "");
  const url = SCHEME.test(text) ? text : `${insecure ? "http" : "https"}://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: "is neither host:port nor an http(s) URL" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { ok: false, error: `has the scheme ${parsed.protocol.replace(":", "")}; use host:port, http://host:port or https://host:port` };
  if (!parsed.hostname) return { ok: false, error: "has no host" };
  return { ok: true, base: url };
}

export function telemetrySettings(config: Config, env: Record<string, string | undefined>, binaryVersion: string): SettingsResult {
  const t = config.telemetry;
  const fromEnv: string[] = [];
  const problems: { path: string; message: string }[] = [];
  const envValue = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };

  let endpoint = t.endpoint;
  let endpointFromEnv = false;
  const otelEndpoint = envValue("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (t.endpoint === DEFAULTS.endpoint && otelEndpoint) {
    endpoint = otelEndpoint;
    endpointFromEnv = true;
    fromEnv.push("OTEL_EXPORTER_OTLP_ENDPOINT");
  }

  let protocol: Protocol = t.protocol === "http" ? "http/protobuf" : "grpc";
  const otelProtocol = envValue("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (otelProtocol !== undefined) {
    const p = PROTOCOLS[otelProtocol.toLowerCase()];
    if (!p) problems.push({ path: "OTEL_EXPORTER_OTLP_PROTOCOL", message: `OTEL_EXPORTER_OTLP_PROTOCOL is ${JSON.stringify(otelProtocol)}; accepted: grpc, http/protobuf, http/json` });
    // An explicit telemetry.protocol: http keeps http, and takes http/json as its refinement.
    else if (t.protocol === DEFAULTS.protocol || (t.protocol === "http" && p !== "grpc")) {
      protocol = p;
      fromEnv.push("OTEL_EXPORTER_OTLP_PROTOCOL");
    }
  } else if (endpointFromEnv && t.protocol === DEFAULTS.protocol) protocol = "http/protobuf";

  const base = endpointBase(endpoint, t.insecure);
  // Without OTLP export (Prometheus alone) the endpoint is not used, so not judged.
  if (!base.ok && t.enabled) {
    const source = endpointFromEnv ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "telemetry.endpoint";
    problems.push({ path: source, message: `${source} ${JSON.stringify(maskUrlCredentials(endpoint))} ${base.error}` });
  }

  const headers: Record<string, string> = {};
  const otelHeaders = envValue("OTEL_EXPORTER_OTLP_HEADERS");
  if (otelHeaders) {
    Object.assign(headers, parseKeyValueList(otelHeaders));
    fromEnv.push("OTEL_EXPORTER_OTLP_HEADERS");
  }
  let auth: TelemetrySettings["auth"] = otelHeaders ? "OTEL_EXPORTER_OTLP_HEADERS" : "none";
  // The TelemetryFlow SDK's headers (domain/credentials.py), exactly.
  if (t.api_key_id && t.api_key_secret) {
    for (const name of Object.keys(headers)) if (/^(authorization|x-telemetryflow-key-id|x-telemetryflow-key-secret)$/i.test(name)) delete headers[name];
    headers.Authorization = `Bearer ${t.api_key_id}:${t.api_key_secret}`;
    headers["X-TelemetryFlow-Key-ID"] = t.api_key_id;
    headers["X-TelemetryFlow-Key-Secret"] = t.api_key_secret;
    auth = "telemetryflow key id + secret";
  } else if (t.api_key) {
    for (const name of Object.keys(headers)) if (/^authorization$/i.test(name)) delete headers[name];
    headers.Authorization = `Bearer ${t.api_key}`;
    auth = "telemetryflow api key";
  }

  let serviceName = t.service_name;
  const otelService = envValue("OTEL_SERVICE_NAME");
  if (t.service_name === DEFAULTS.service_name && otelService) {
    serviceName = otelService;
    fromEnv.push("OTEL_SERVICE_NAME");
  }
  const extraResource = envValue("OTEL_RESOURCE_ATTRIBUTES");
  if (extraResource) fromEnv.push("OTEL_RESOURCE_ATTRIBUTES");
  const resource: Record<string, string> = {
    ...(extraResource ? parseKeyValueList(extraResource) : {}),
    "service.name": serviceName,
    "service.version": t.service_version || binaryVersion,
    "service.namespace": t.service_namespace,
    // upstream's name, and the one current semantic conventions use
    "deployment.environment": t.environment,
    "deployment.environment.name": t.environment,
    "mcp.server": "telemetryflow-mcp",
    "mcp.protocol": config.mcp.protocol_version || UPSTREAM_MCP_PROTOCOL,
  };

  const intervalEnv = Number(envValue("OTEL_METRIC_EXPORT_INTERVAL"));
  if (problems.length) return { ok: false, problems };
  const root = base.ok ? base.base : "";
  const urls: Record<Signal, string> =
    protocol === "grpc" ? { traces: root, metrics: root, logs: root } : { traces: `${root}/v1/traces`, metrics: `${root}/v1/metrics`, logs: `${root}/v1/logs` };
  return {
    ok: true,
    settings: {
      otlp: t.enabled,
      prometheus: t.prometheus,
      protocol,
      urls,
      headers,
      auth,
      compression: t.compression,
      timeoutMs: Math.round(t.timeout * 1000),
      signals: { traces: t.enable_traces, metrics: t.enable_metrics, logs: t.enable_logs },
      // A queue four batches deep: room for a slow export, and a bound when the collector is gone.
      batch: { delayMs: t.batch_timeout_ms, maxSize: t.batch_max_size, maxQueue: Math.max(2048, t.batch_max_size * 4) },
      retry: { enabled: t.retry_enabled, maxRetries: t.max_retries, backoffMs: t.retry_backoff_ms },
      rateLimit: t.rate_limit,
      metricIntervalMs: Number.isInteger(intervalEnv) && intervalEnv > 0 ? intervalEnv : 60_000,
      resource,
      fromEnv,
    },
  };
}

const SIGNALS: Signal[] = ["traces", "metrics", "logs"];

/** One line for people: where telemetry goes, never a secret. */
export function describeTelemetry(s: TelemetrySettings): string {
  const parts: string[] = [];
  if (s.otlp) {
    const on = SIGNALS.filter((x) => s.signals[x]);
    const where = s.protocol === "grpc" ? s.urls.traces : s.urls.traces.replace(/\/v1\/traces$/, "/v1/{traces,metrics,logs}");
    parts.push(`OTLP ${s.protocol} to ${maskUrlCredentials(where)} (${on.length ? on.join(", ") : "no signal enabled"}; auth: ${s.auth})`);
  }
  if (s.prometheus) parts.push("Prometheus text at GET /metrics on the http transport");
  if (s.fromEnv.length) parts.push(`from ${s.fromEnv.join(", ")}`);
  return parts.length ? parts.join("; ") : "off";
}
