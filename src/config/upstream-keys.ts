// Keys the Python server's config defined but never used. Configs written for it carry
// them; they are accepted quietly (one debug line) rather than reported as typos.
// Source: ../shared/notes/upstream-parity.md, section C.

export const UPSTREAM_ONLY_KEYS = [
  "server.read_timeout",
  "server.write_timeout",
  "mcp.enable_sampling",
  "mcp.max_message_size",
  "cache.redis_url",
  "cache.cache_enabled",
  "cache.cache_ttl",
  "queue.queue_enabled",
  "queue.queue_concurrency",
  "queue.nats_url",
  "database.postgres_url",
  "database.postgres_max_conns",
  "database.postgres_min_conns",
  "analytics.clickhouse_url",
  "telemetry_mcp.enabled",
  "telemetry_mcp.backend",
  "telemetry_mcp.otlp_endpoint",
  "telemetry_mcp.service_name",
  "telemetry.api_key",
  "telemetry.service_version",
  "telemetry.service_namespace",
  "telemetry.protocol",
  "telemetry.insecure",
  "telemetry.timeout",
  "telemetry.compression",
  "telemetry.enable_traces",
  "telemetry.enable_metrics",
  "telemetry.enable_logs",
  "telemetry.enable_exemplars",
  "telemetry.batch_timeout_ms",
  "telemetry.batch_max_size",
  "telemetry.retry_enabled",
  "telemetry.max_retries",
  "telemetry.retry_backoff_ms",
  "telemetry.rate_limit",
];

const KEYS = new Set(UPSTREAM_ONLY_KEYS);

/** Sections only the Python server has; a whole section of them is inert too. */
export const UPSTREAM_ONLY_SECTIONS = new Set(["cache", "queue", "database", "analytics", "telemetry_mcp"]);

export function isUpstreamKey(path: string): boolean {
  return KEYS.has(path);
}
