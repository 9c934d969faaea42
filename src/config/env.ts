// Environment variables → a partial config. Pure: takes the env as a plain record.
import { defaults } from "./schema.ts";

export const ENV_PREFIX = "TELEMETRYFLOW_MCP_";

type Leaf = string | number | boolean | string[];
export type Partial = Record<string, Record<string, unknown>>;

export type EnvResult = {
  values: Partial;
  /** key path ("claude.max_tokens") → the variable it came from, for error messages */
  sources: Record<string, string>;
  warnings: string[];
  /** names the Python server's docs used but its code never read: accepted quietly */
  inert: string[];
};

// Names kept from the Python server and the Anthropic/TelemetryFlow SDKs.
const DIRECT: Record<string, string> = {
  ANTHROPIC_API_KEY: "claude.api_key",
  ANTHROPIC_BASE_URL: "claude.base_url",
  // Upstream's cache, queue, database and analytics sections took the bare prefix.
  TELEMETRYFLOW_MCP_REDIS_URL: "cache.redis_url",
  TELEMETRYFLOW_MCP_CACHE_ENABLED: "cache.cache_enabled",
  TELEMETRYFLOW_MCP_CACHE_TTL: "cache.cache_ttl",
  TELEMETRYFLOW_MCP_QUEUE_ENABLED: "queue.queue_enabled",
  TELEMETRYFLOW_MCP_QUEUE_CONCURRENCY: "queue.queue_concurrency",
  TELEMETRYFLOW_MCP_NATS_URL: "queue.nats_url",
  TELEMETRYFLOW_MCP_POSTGRES_URL: "database.postgres_url",
  TELEMETRYFLOW_MCP_POSTGRES_MAX_CONNS: "database.postgres_max_conns",
  TELEMETRYFLOW_MCP_POSTGRES_MIN_CONNS: "database.postgres_min_conns",
  TELEMETRYFLOW_MCP_CLICKHOUSE_URL: "analytics.clickhouse_url",
};

// The TelemetryFlow SDK's own names: TELEMETRYFLOW_<KEY> for every telemetry key.
const TELEMETRY_PREFIX = "TELEMETRYFLOW_";

// The upstream flat form abbreviates the logging section as LOG, and its TELEMETRY_ prefix
// named the inert MCP-telemetry section, not the SDK's (TELEMETRYFLOW_ENABLED is that one).
const SECTION_ALIASES: Record<string, string> = { log: "logging" };
const FLAT_ALIASES: Record<string, string> = { telemetry: "telemetry_mcp" };

// Not config keys: read elsewhere (config file location).
const IGNORED = new Set(["TELEMETRYFLOW_MCP_CONFIG"]);

// In the Python server's docs and .env.example, never read by its code: quiet, not a warning.
const UPSTREAM_DOCS_ONLY = new Set(
  ["DEBUG", "OTLP_ENDPOINT", "ENABLE_TOOLS", "ENABLE_RESOURCES", "ENABLE_PROMPTS", "SERVICE_NAME", "VERSION"].map((n) => `TELEMETRYFLOW_MCP_${n}`),
);

const sections = defaults as unknown as Record<string, Record<string, Leaf>>;

/** "claude__max_tokens" or "claude_default_model" or "log_level" → "claude.max_tokens" etc. */
export function keyPathFor(rest: string): string | undefined {
  const lower = rest.toLowerCase();
  const nested = lower.split("__");
  if (nested.length === 2) {
    const [s = "", k = ""] = nested;
    const sectionName = SECTION_ALIASES[s] ?? s;
    return sections[sectionName] && k in sections[sectionName] ? `${sectionName}.${k}` : undefined;
  }
  if (nested.length !== 1) return undefined;
  // Flat form: the section is the longest known prefix before an underscore.
  const names = [...Object.keys(sections), ...Object.keys(SECTION_ALIASES)].sort((a, b) => b.length - a.length);
  for (const s of names) {
    if (!lower.startsWith(`${s}_`)) continue;
    const sectionName = FLAT_ALIASES[s] ?? SECTION_ALIASES[s] ?? s;
    const k = lower.slice(s.length + 1);
    if (sections[sectionName] && k in sections[sectionName]) return `${sectionName}.${k}`;
  }
  return undefined;
}

// pydantic's spellings, any case.
const TRUE = new Set(["1", "true", "yes", "on", "t", "y"]);
const FALSE = new Set(["0", "false", "no", "off", "f", "n", ""]);

/** Turns the raw string into the kind the default has; leaves it a string when it does not fit, so the schema reports it. */
export function coerce(raw: string, like: Leaf, delimiter: string): unknown {
  if (typeof like === "boolean") {
    const s = raw.trim().toLowerCase();
    return TRUE.has(s) ? true : FALSE.has(s) ? false : raw;
  }
  if (typeof like === "number") {
    const s = raw.trim();
    const n = Number(s);
    return s !== "" && Number.isFinite(n) ? n : raw;
  }
  if (Array.isArray(like)) {
    const s = raw.trim();
    if (s.startsWith("[")) {
      try {
        return JSON.parse(s);
      } catch {
        return raw;
      }
    }
    return s === "" ? [] : s.split(delimiter).filter((x) => x !== "");
  }
  return raw;
}

/** TELEMETRYFLOW_<KEY> → telemetry.<key>, for every key of the telemetry section. */
function telemetryKey(name: string): string | undefined {
  if (!name.startsWith(TELEMETRY_PREFIX) || name.startsWith(ENV_PREFIX)) return undefined;
  const k = name.slice(TELEMETRY_PREFIX.length).toLowerCase();
  return sections.telemetry && k in sections.telemetry ? `telemetry.${k}` : undefined;
}

export function configFromEnv(env: Record<string, string | undefined>, delimiter = ":"): EnvResult {
  const values: Partial = {};
  const sources: Record<string, string> = {};
  const warnings: string[] = [];
  const inert: string[] = [];
  // Names are matched in any case, as pydantic-settings did. The direct names go first so
  // that a TELEMETRYFLOW_MCP_ name for the same key wins.
  const direct = (name: string) => DIRECT[name] ?? telemetryKey(name);
  const entries = Object.entries(env)
    .map(([name, raw]) => [name.toUpperCase(), raw, name] as const)
    .sort(([a], [b]) => Number(direct(a) ? 0 : 1) - Number(direct(b) ? 0 : 1));
  for (const [name, raw, original] of entries) {
    if (raw === undefined) continue;
    let path = direct(name);
    if (!path && name.startsWith(ENV_PREFIX) && !IGNORED.has(name)) {
      path = keyPathFor(name.slice(ENV_PREFIX.length));
      if (!path) {
        if (UPSTREAM_DOCS_ONLY.has(name)) inert.push(original);
        else warnings.push(`${original} is not a tfo-mcp setting; ignored (see \`tfo-mcp init-config\` for every key)`);
        continue;
      }
    }
    if (!path) continue;
    const [s = "", k = ""] = path.split(".");
    const like = sections[s]?.[k];
    if (like === undefined) continue;
    (values[s] ??= {})[k] = coerce(raw, like, delimiter);
    sources[path] = original;
  }
  return { values, sources, warnings, inert };
}
