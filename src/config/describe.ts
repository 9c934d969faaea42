// What each key means, once: used by `init-config` (comments) and the README's reference.
import { type Config, defaultAt, defaults, SECRET_KEYS } from "./schema.ts";

export const KEY_DOCS: Record<string, string> = {
  "server.name": "server name reported to clients",
  "server.version": "version reported to clients (empty: the binary's version)",
  "server.transport": "stdio (the MCP client starts tfo-mcp) or http; sse and websocket (upstream's documented values) select the same http server, which serves Streamable HTTP at /mcp, HTTP+SSE (2024-11-05) at /sse and WebSocket (subprotocol mcp) at /ws",
  "server.debug": "debug logging (same as --debug)",
  "server.host": "address for the http transport",
  "server.port": "port for the http transport",
  "server.read_timeout": "upstream key, accepted and not used",
  "server.write_timeout": "upstream key, accepted and not used",
  "server.replica": "this process's name among replicas, on activity events and in Redis (empty: host name and port)",
  "claude.api_key": "Anthropic API key; prefer the ANTHROPIC_API_KEY variable",
  "claude.base_url": "Anthropic API base URL (gateways, proxies); ANTHROPIC_BASE_URL; null or empty: the default",
  "claude.default_model": "model used when claude_conversation gets none",
  "claude.max_tokens": "default max_tokens per reply (1-128000; above is clamped with a warning)",
  "claude.temperature": "default sampling temperature (0-1; above 1 is clamped with a warning)",
  "claude.timeout": "seconds per API request",
  "claude.max_retries": "retries on 429, 529, 5xx and connection errors (0-10)",
  "claude.max_history_messages": "most earlier messages sent with a conversation turn (whole turns, newest kept)",
  "claude.max_tool_rounds": "most rounds of tool use in one claude_conversation turn with `tools`; at the limit the answer says it stopped there",
  "mcp.protocol_version": "pin one protocol version: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25 (empty: negotiate)",
  "mcp.enable_tools": "offer tools",
  "mcp.enable_resources": "offer resources",
  "mcp.enable_prompts": "offer prompts",
  "mcp.enable_logging": "send log messages to the client after logging/setLevel",
  "mcp.enable_sampling": "upstream key, accepted and not used (sampling is used when the client offers it)",
  "mcp.max_message_size": "upstream key, accepted and not used (a line over 64 MiB is refused)",
  "mcp.tool_timeout": "seconds a tool call may take (execute_command and claude_conversation have their own: timeout, claude.timeout)",
  "logging.level": "debug | info | warn | error | silent; Python's names (warning, critical) in any case too",
  "logging.format": "json (structlog's fields, as upstream) | text",
  "logging.output": "stderr, or a file path to append to (stdout only with the http transport)",
  "telemetry.enabled": "export traces, metrics and logs over OTLP to telemetry.endpoint (TELEMETRYFLOW_ENABLED; see README, Telemetry)",
  "telemetry.service_name": "service name on telemetry (upstream's, so dashboards keep working)",
  "telemetry.service_version": "service version on telemetry (empty: this binary's version)",
  "telemetry.service_namespace": "service namespace on telemetry",
  "telemetry.environment": "deployment environment on telemetry",
  "telemetry.api_key": "TelemetryFlow single API key (Go SDK style), sent as Authorization: Bearer when no key id and secret are set",
  "telemetry.api_key_id": "TelemetryFlow API key id (tfk_…)",
  "telemetry.api_key_secret": "TelemetryFlow API key secret (tfs_…)",
  "telemetry.endpoint": "TelemetryFlow or OTLP collector: host:port (scheme by insecure) or a URL; at its default, OTEL_EXPORTER_OTLP_ENDPOINT applies",
  "telemetry.protocol": "grpc, or http (OTLP/HTTP protobuf to /v1/traces, /v1/metrics, /v1/logs; OTEL_EXPORTER_OTLP_PROTOCOL=http/json for JSON)",
  "telemetry.insecure": "plain text to a host:port endpoint (http://, no TLS)",
  "telemetry.timeout": "seconds per export",
  "telemetry.compression": "gzip exports",
  "telemetry.enable_traces": "export traces",
  "telemetry.enable_metrics": "export metrics",
  "telemetry.enable_logs": "export logs",
  "telemetry.enable_exemplars": "upstream key, accepted and not used (the OpenTelemetry JS SDK records no exemplars)",
  "telemetry.batch_timeout_ms": "most milliseconds a batch of spans or log records waits",
  "telemetry.batch_max_size": "most records per batch (the queue holds four batches, at least 2048; beyond, records are dropped and counted)",
  "telemetry.retry_enabled": "retry failed exports",
  "telemetry.max_retries": "retries per export (429, 502-504, connection errors, gRPC UNAVAILABLE and the like), within telemetry.timeout",
  "telemetry.retry_backoff_ms": "first retry delay in milliseconds, doubled each retry (a Retry-After answer wins)",
  "telemetry.rate_limit": "most spans and log records per second, together (0: no limit); beyond it they are counted, not sent; metrics count every call",
  "telemetry.prometheus": "serve the metrics as Prometheus text at GET /metrics on the http transport (no collector needed)",
  "telemetry_mcp.enabled": "upstream key (its MCP-telemetry section), accepted and not used",
  "telemetry_mcp.backend": "upstream key, accepted and not used",
  "telemetry_mcp.otlp_endpoint": "upstream key, accepted and not used",
  "telemetry_mcp.service_name": "upstream key, accepted and not used",
  "workspace.roots": "folders the tools may touch, ~ expanded, relative to the config file; --root replaces them (empty: the client's roots, else the current folder unless it is / or home)",
  "workspace.read_only": "refuse every writing tool",
  "workspace.max_read_bytes": "largest read in bytes (use offset/length or head/tail beyond it)",
  "workspace.max_write_bytes": "largest write in bytes",
  "workspace.max_results": "most entries list_directory and search_files return",
  "workspace.follow_symlinks": "follow symlinks that stay inside the roots (never outside)",
  "workspace.allow_hardlinks": "read and modify files with more than one hard link (one may lie outside the roots)",
  "commands.enabled": "offer execute_command",
  "commands.allow": "if not empty, every program a command line starts (also through env, sudo, xargs, sh -c, find -exec) must match one of these",
  "commands.deny": "command lines that start a program matching one of these (also through wrappers, xargs, sh -c, find -exec) are refused",
  "commands.max_output_bytes": "stdout and stderr are each cut at this many bytes",
  "commands.env_passthrough": "if not empty, only these variables (plus PATH, HOME, LANG, TERM, USER, SHELL, TMPDIR) reach commands",
  "commands.env_drop": "variables never passed to commands (secrets are always dropped)",
  "commands.cgroups": "a cgroup v2 per command where the server may make one: also catches a process that left the session and cleared its environment after a SIGKILLed server (costs ~0.3-10 ms per command)",
  "storage.backend": "sqlite | memory | postgres (postgres: database.postgres_url, shared by replicas; unreachable at start-up stops the server)",
  "storage.url": "conversations and sessions: sqlite:PATH, or memory: (empty: sqlite in $XDG_DATA_HOME/tfo-mcp/tfo-mcp.db)",
  "storage.audit": "one record per tool call and resource read in the store (tenant, tool, argument names, duration, outcome; never values)",
  "database.postgres_url": "PostgreSQL for storage.backend: postgres (a URL alone connects to nothing)",
  "database.postgres_max_conns": "most PostgreSQL connections of this process",
  "database.postgres_min_conns": "upstream key, accepted and not used (the pool opens connections as needed)",
  "cache.backend": "memory | redis (redis: cache.redis_url; rate limits, call and session counts and resumable streams shared by replicas)",
  "cache.redis_url": "Redis for cache.backend: redis (a URL alone connects to nothing)",
  "cache.cache_enabled": "upstream key, accepted and not used (nothing measured is worth caching in Redis; see Several replicas)",
  "cache.cache_ttl": "upstream key, accepted and not used",
  "queue.backend": "none | nats (nats: queue.nats_url; one event per tool call, resource read, session start and end)",
  "queue.nats_url": "NATS for queue.backend: nats (a URL alone connects to nothing)",
  "queue.queue_enabled": "publish events when queue.backend is nats",
  "queue.queue_concurrency": "upstream key, accepted and not used (events go out in order from one buffer)",
  "analytics.backend": "none | clickhouse (clickhouse: analytics.clickhouse_url; the activity events, batched into a table)",
  "analytics.clickhouse_url": "ClickHouse's HTTP interface, http://host:8123/database (clickhouse://host:9000/db is read as port 8123); a URL alone connects to nothing",
  "analytics.batch_size": "rows sent to ClickHouse at once",
  "analytics.flush_interval": "seconds a row may wait before its batch is sent",
  "http.api_keys": "bearer keys accepted by the http transport, each at least 16 characters; named key-1, key-2… in logs",
  "http.allowed_origins": "Origin values accepted by the http transport (bound to loopback, loopback origins are accepted too)",
  "http.rate_limit": "requests per minute per key (per peer address without keys) on http, as a token bucket (0: off)",
  "http.trusted_proxies": "addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client; from anyone else the header is ignored",
  "http.max_auth_failures": "failed authentications per peer address per minute before it gets 429 (0: off)",
  "http.max_sessions": "open http sessions in total; more get 503",
  "http.max_sessions_per_key": "open http sessions per key (per peer address without keys); more get 429",
  "http.max_concurrent_calls_per_key": "requests in flight at once per key (per peer address without keys), over all its sessions; one more gets 429 (a JSON-RPC error over WebSocket)",
  "http.session_idle_timeout": "seconds an http session with no request and no open stream lives",
  "http.drain_timeout": "seconds that calls in flight get to finish after SIGTERM/SIGINT before the server exits",
  "http.max_body_bytes": "largest http request body; bodies read at once may hold 4× this in total",
  "http.body_timeout": "seconds a request body may take to arrive in full (408 after)",
};

export function envNameFor(path: string): string {
  const [s = "", k = ""] = path.split(".");
  return `TELEMETRYFLOW_MCP_${s.toUpperCase()}__${k.toUpperCase()}`;
}

const MASK = "********";

/**
 * Values of the OTLP header variables (k=v,k=v): collector credentials that never pass
 * through the config, so they are named here for redaction.
 */
export function envSecretValues(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!raw || !/^OTEL_EXPORTER_OTLP_(?:\w+_)?HEADERS$/.test(name)) continue;
    for (const pair of raw.split(",")) {
      // A stray % must not stop the server: the value is then redacted as written (as the exporter reads it).
      let value = pair.slice(pair.indexOf("=") + 1).trim();
      try {
        value = decodeURIComponent(value);
      } catch {}
      if (value.length >= 4) out.push(value, ...value.split(/\s+/).filter((part) => part.length >= 8));
    }
  }
  return out;
}

/** A secret key, or an item of one ("http.api_keys.0", as valibot names list items). */
export function isSecret(path: string) {
  return (SECRET_KEYS as readonly string[]).some((key) => path === key || path.startsWith(`${key}.`));
}

// scheme://user:password@host — the password (or a lone user, which is often a token) is a
// secret. It ends at the last @ of the authority, so a password holding / or @ is all masked;
// text before an @ that has a / and no : is a path (https://host/a@b), not a userinfo.
const URL_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^\s?#]*)@(?=[^@\s/?#]*(?:[/?#]|$))/i;
const userinfoOf = (value: string): { scheme: string; userinfo: string } | undefined => {
  const m = URL_CREDENTIALS.exec(value);
  if (!m) return undefined;
  const userinfo = m[2]!;
  if (userinfo.includes("/") && !userinfo.includes(":")) return undefined;
  return { scheme: m[1]!, userinfo };
};

/** `https://user:pw@host/x` → `https://user:********@host/x`; anything else unchanged. */
export function maskUrlCredentials(value: string): string {
  const found = userinfoOf(value);
  if (!found) return value;
  const colon = found.userinfo.indexOf(":");
  const rest = value.slice(found.scheme.length + found.userinfo.length + 1);
  return `${found.scheme}${colon === -1 ? MASK : `${found.userinfo.slice(0, colon)}:${MASK}`}@${rest}`;
}

/** The secret part of a URL's userinfo, if it has one. */
function urlCredential(value: string): string | undefined {
  const userinfo = userinfoOf(value)?.userinfo;
  if (!userinfo) return undefined;
  const colon = userinfo.indexOf(":");
  // Alone, the userinfo of a database URL is a user name (postgres://postgres@db): masking it
  // would garble every text holding that word. Elsewhere (https://TOKEN@collector, nats://TOKEN@host) it is a token.
  if (colon === -1) return /^(postgres(ql)?|rediss?|clickhouse):/i.test(value.trim()) ? undefined : userinfo;
  const secret = userinfo.slice(colon + 1);
  return secret === "" ? undefined : secret;
}

const eachLeaf = (config: Config, fn: (path: string, value: unknown) => void) => {
  for (const [s, section] of Object.entries(config)) for (const [k, value] of Object.entries(section as Record<string, unknown>)) fn(`${s}.${k}`, value);
};

/** A copy of the config with every secret replaced, passwords inside URLs too: safe to print, log or serve. */
export function maskSecrets(config: Config): Config {
  const out: Record<string, Record<string, unknown>> = {};
  eachLeaf(config, (path, value) => {
    const [s = "", k = ""] = path.split(".");
    const set = Array.isArray(value) ? value.length > 0 : value !== "";
    const mask = (x: unknown) => (typeof x === "string" ? maskUrlCredentials(x) : x);
    (out[s] ??= {})[k] = isSecret(path) && set ? (Array.isArray(value) ? value.map(() => MASK) : MASK) : Array.isArray(value) ? value.map(mask) : mask(value);
  });
  return out as Config;
}

/**
 * Every secret value in the config (keys, and passwords inside any URL), for redaction of
 * what leaves the server. A default URL's password (upstream's localhost examples) is
 * public, and scrubbing the word "telemetryflow" from every result would be noise.
 */
export function secretValues(config: Config): string[] {
  const out: string[] = [];
  eachLeaf(config, (path, value) => {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== "string") continue;
      if (!isSecret(path) && item === defaultAt(path)) continue;
      const secret = isSecret(path) ? item : urlCredential(item);
      if (secret && secret.length >= 4 && !out.includes(secret)) out.push(secret);
    }
  });
  return out;
}

function yamlScalar(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? "[]" : `[${value.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (typeof value === "string") return value === "" ? '""' : JSON.stringify(value);
  return String(value);
}

/** The commented tfo-mcp.yaml that `init-config` writes: every key with its default. */
export function renderConfigTemplate(config: Config = defaults): string {
  const lines = [
    "# tfo-mcp configuration. Every key is shown with its default.",
    "# Precedence: command-line flags > environment > this file > defaults.",
    "# Any key can be set from the environment: TELEMETRYFLOW_MCP_<SECTION>__<KEY>, e.g. TELEMETRYFLOW_MCP_CLAUDE__MAX_TOKENS=2048",
    "",
  ];
  for (const [s, section] of Object.entries(config)) {
    lines.push(`${s}:`);
    for (const [k, value] of Object.entries(section as Record<string, unknown>)) {
      const path = `${s}.${k}`;
      const shown = isSecret(path) ? (Array.isArray(value) ? [] : "") : value;
      lines.push(`  # ${KEY_DOCS[path] ?? ""} (${envNameFor(path)})`);
      lines.push(`  ${k}: ${yamlScalar(shown)}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
