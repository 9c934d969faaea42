// The whole configuration as one valibot schema. Defaults live here and nowhere else:
// `defaults` below is derived by parsing an empty object, and env coercion reads
// each leaf's kind from it.
import * as v from "valibot";
import { parseStorageUrl } from "../store/open.ts";
import { parseIpRange } from "../server/ip.ts";
// A function used only when a config is checked: the import cycle with describe.ts is harmless.
import { maskUrlCredentials } from "./describe.ts";

const MiB = 1024 * 1024;

const positiveInt = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), fallback);
const seconds = (fallback: number) => v.optional(v.pipe(v.number(), v.gtValue(0), v.maxValue(86_400)), fallback);
const stringList = (fallback: string[]) => v.optional(v.array(v.string()), () => [...fallback]);
const bool = (fallback: boolean) => v.optional(v.boolean(), fallback);
const str = (fallback: string) => v.optional(v.string(), fallback);

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

// Every key inside a section has a default, so an empty section is a complete one.
const section = <T extends v.ObjectEntries>(entries: T) =>
  v.optional(v.object(entries), () => ({}) as v.InferInput<v.ObjectSchema<T, undefined>>);

const port = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65_535)), fallback);
const count = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), fallback);
const milliseconds = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3_600_000)), fallback);

export const configSchema = v.object({
  server: section({
    name: str("TelemetryFlow-MCP"),
    version: str(""),
    // sse and websocket were documented upstream (and served as stdio there).
    transport: v.optional(v.picklist(["stdio", "http", "sse", "websocket"]), "stdio"),
    debug: bool(false),
    host: str("127.0.0.1"),
    port: port(8080),
    read_timeout: seconds(300),
    write_timeout: seconds(60),
    // Names this process on activity events and in health; "" means the host name.
    replica: str(""),
  }),
  claude: section({
    api_key: str(""),
    // null was upstream's "not set"
    base_url: v.optional(v.pipe(v.nullable(v.string()), v.transform((x) => x ?? "")), ""),
    default_model: str("claude-sonnet-5-5"),
    max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128_000)), 4096),
    temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 1),
    timeout: seconds(120),
    max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10)), 3),
    max_history_messages: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(10_000)), 50),
    max_tool_rounds: positiveInt(10),
  }),
  mcp: section({
    protocol_version: v.optional(v.picklist(["", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]), ""),
    enable_tools: bool(true),
    enable_resources: bool(true),
    enable_prompts: bool(true),
    enable_logging: bool(true),
    enable_sampling: bool(false),
    tool_timeout: seconds(30),
    max_message_size: positiveInt(10 * MiB),
  }),
  logging: section({
    level: v.optional(v.picklist(LOG_LEVELS), "info"),
    format: v.optional(v.picklist(["json", "text"]), "json"),
    output: str("stderr"),
  }),
  telemetry: section({
    enabled: bool(false),
    // Upstream's service name, so dashboards built on the Python server keep their data.
    service_name: str("telemetryflow-python-mcp"),
    service_version: str(""),
    service_namespace: str("telemetryflow"),
    environment: str("production"),
    api_key: str(""),
    api_key_id: str(""),
    api_key_secret: str(""),
    endpoint: str("api.telemetryflow.id:4317"),
    protocol: v.optional(v.picklist(["grpc", "http"]), "grpc"),
    insecure: bool(false),
    timeout: seconds(30),
    compression: bool(true),
    enable_traces: bool(true),
    enable_metrics: bool(true),
    enable_logs: bool(true),
    enable_exemplars: bool(true),
    batch_timeout_ms: milliseconds(5000),
    batch_max_size: positiveInt(512),
    retry_enabled: bool(true),
    max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)), 3),
    retry_backoff_ms: milliseconds(500),
    rate_limit: count(1000),
    // GET /metrics on the http transport; needs no collector.
    prometheus: bool(false),
  }),
  // Upstream's MCP-telemetry section: read by nothing there either; kept so its configs load.
  telemetry_mcp: section({
    enabled: bool(true),
    backend: str("telemetryflow"),
    otlp_endpoint: str("localhost:4317"),
    service_name: str("telemetryflow-python-mcp"),
  }),
  workspace: section({
    roots: stringList([]),
    read_only: bool(false),
    max_read_bytes: positiveInt(10 * MiB),
    max_write_bytes: positiveInt(10 * MiB),
    max_results: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000)), 1000),
    follow_symlinks: bool(true),
    allow_hardlinks: bool(false),
  }),
  commands: section({
    enabled: bool(true),
    allow: stringList([]),
    deny: stringList([]),
    max_output_bytes: positiveInt(1 * MiB),
    env_passthrough: stringList([]),
    env_drop: stringList([]),
    // Off by default: moving each shell into its cgroup cost ~8 ms per command on a busy
    // machine, for one case the /proc tracking misses (see README, Security).
    cgroups: bool(false),
  }),
  storage: section({
    backend: v.optional(v.picklist(["sqlite", "memory", "postgres"]), "sqlite"),
    // The same reading of the URL as the store uses, so start-up refuses what it would refuse.
    url: v.optional(
      v.pipe(v.string(), v.check((url) => parseStorageUrl(url, "/", "/").ok, 'sqlite:PATH or memory: (or "" for the default sqlite file)')),
      "",
    ),
    // One row per tool call and resource read in the store (names, shapes, durations; never contents).
    audit: bool(false),
  }),
  // Upstream's sections under upstream's names. A URL alone connects to nothing (upstream's
  // defaults point at localhost and it never connected); each backend key switches one on.
  database: section({
    postgres_url: str("postgres://telemetryflow:telemetryflow@localhost:5432/tfo_mcp?sslmode=disable"),
    postgres_max_conns: positiveInt(25),
    postgres_min_conns: count(5),
  }),
  cache: section({
    backend: v.optional(v.picklist(["memory", "redis"]), "memory"),
    redis_url: str("redis://localhost:6379"),
    cache_enabled: bool(true),
    cache_ttl: count(300),
  }),
  queue: section({
    backend: v.optional(v.picklist(["none", "nats"]), "none"),
    nats_url: str("nats://localhost:4222"),
    queue_enabled: bool(true),
    queue_concurrency: positiveInt(5),
  }),
  analytics: section({
    backend: v.optional(v.picklist(["none", "clickhouse"]), "none"),
    clickhouse_url: str("clickhouse://localhost:9000/tfo_mcp_analytics"),
    // Rows are sent in batches: at this many, or this many seconds after the first waiting one.
    batch_size: positiveInt(500),
    flush_interval: seconds(5),
  }),
  http: section({
    api_keys: stringList([]),
    allowed_origins: stringList([]),
    rate_limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
    trusted_proxies: v.optional(v.array(v.pipe(v.string(), v.check((x) => parseIpRange(x) !== undefined, "an IP address or CIDR range (10.0.0.0/8, fd00::/8)"))), () => []),
    max_auth_failures: count(10),
    max_sessions: positiveInt(1000),
    max_sessions_per_key: positiveInt(250),
    max_concurrent_calls_per_key: positiveInt(16),
    session_idle_timeout: seconds(1800),
    drain_timeout: seconds(25),
    max_body_bytes: positiveInt(16 * MiB),
    body_timeout: seconds(30),
  }),
});

export type Config = v.InferOutput<typeof configSchema>;
export type ConfigInput = v.InferInput<typeof configSchema>;

export const defaults: Config = v.parse(configSchema, {});

/** The default at a key path ("claude.max_tokens"); undefined for a key the schema lacks. */
export function defaultAt(path: string): unknown {
  const [s = "", k = ""] = path.split(".");
  return (defaults as unknown as Record<string, Record<string, unknown>>)[s]?.[k];
}

/** Keys whose values are secrets: masked in `info`, `config://server` and logs. */
export const SECRET_KEYS = ["claude.api_key", "telemetry.api_key", "telemetry.api_key_secret", "telemetry.api_key_id", "http.api_keys"] as const;

/**
 * Keys accepted so that configs written for the Python server load, but not acted on by
 * this build: upstream never used them either, or a later release switches them on.
 * `validate` lists the ones a config sets; `serve` says so at debug level.
 */
export const INERT_KEYS = [
  "server.read_timeout",
  "server.write_timeout",
  "mcp.enable_sampling",
  "mcp.max_message_size",
  "telemetry_mcp.*",
  // The OpenTelemetry JS SDK records no exemplars.
  "telemetry.enable_exemplars",
  // Bun's SQL pool opens connections as they are needed; it has no minimum.
  "database.postgres_min_conns",
  // Events are published in order from one buffer; there is no worker pool to size.
  "queue.queue_concurrency",
  // Nothing measured is worth caching in Redis: an API-key lookup costs the same round trip
  // from Redis as from PostgreSQL, and each replica already keeps keys for 2 s (README).
  "cache.cache_enabled",
  "cache.cache_ttl",
] as const;

export function isInert(path: string): boolean {
  const [s = ""] = path.split(".");
  return (INERT_KEYS as readonly string[]).some((k) => k === path || k === `${s}.*`);
}

/**
 * The store to open: storage.backend memory wins over storage.url, and storage.backend
 * postgres opens database.postgres_url (it holds a password: mask it before showing it).
 */
export function storageUrl(config: Config): string {
  if (config.storage.backend === "memory") return "memory:";
  if (config.storage.backend === "postgres") return config.database.postgres_url;
  return config.storage.url;
}

const BACKEND_URLS = [
  { on: (c: Config) => c.storage.backend === "postgres", path: "database.postgres_url", url: (c: Config) => c.database.postgres_url, schemes: ["postgres:", "postgresql:"] },
  { on: (c: Config) => c.cache.backend === "redis", path: "cache.redis_url", url: (c: Config) => c.cache.redis_url, schemes: ["redis:", "rediss:"] },
  { on: (c: Config) => c.queue.backend === "nats", path: "queue.nats_url", url: (c: Config) => c.queue.nats_url, schemes: ["nats:"] },
  { on: (c: Config) => c.analytics.backend === "clickhouse", path: "analytics.clickhouse_url", url: (c: Config) => c.analytics.clickhouse_url, schemes: ["http:", "https:", "clickhouse:"] },
] as const;

/**
 * Pure: the URL of each backend a config switches on must be one that backend speaks.
 * Whether it answers is checked when the server starts (a clear error, never a fallback).
 */
export function backendProblems(config: Config): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const b of BACKEND_URLS) {
    if (!b.on(config)) continue;
    let scheme = "";
    try {
      scheme = new URL(b.url(config)).protocol;
    } catch {}
    if (!(b.schemes as readonly string[]).includes(scheme)) {
      out.push({ path: b.path, message: `${b.path} ${JSON.stringify(maskUrlCredentials(b.url(config)))} is not a URL this backend speaks; use ${b.schemes.map((x) => `${x}//…`).join(" or ")}` });
    }
  }
  return out;
}
