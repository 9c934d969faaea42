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
};

// Names kept from the Python server and the Anthropic/TelemetryFlow SDKs.
const DIRECT: Record<string, string> = {
  ANTHROPIC_API_KEY: "claude.api_key",
  ANTHROPIC_BASE_URL: "claude.base_url",
  TELEMETRYFLOW_ENABLED: "telemetry.enabled",
  TELEMETRYFLOW_API_KEY_ID: "telemetry.api_key_id",
  TELEMETRYFLOW_API_KEY_SECRET: "telemetry.api_key_secret",
  TELEMETRYFLOW_ENDPOINT: "telemetry.endpoint",
  TELEMETRYFLOW_SERVICE_NAME: "telemetry.service_name",
  TELEMETRYFLOW_ENVIRONMENT: "telemetry.environment",
};

// The upstream flat form abbreviates the logging section as LOG.
const SECTION_ALIASES: Record<string, string> = { log: "logging" };

// Not config keys: read elsewhere (config file location).
const IGNORED = new Set(["TELEMETRYFLOW_MCP_CONFIG"]);

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
  for (const s of [...Object.keys(sections), ...Object.keys(SECTION_ALIASES)]) {
    if (!lower.startsWith(`${s}_`)) continue;
    const sectionName = SECTION_ALIASES[s] ?? s;
    const k = lower.slice(s.length + 1);
    if (sections[sectionName] && k in sections[sectionName]) return `${sectionName}.${k}`;
  }
  return undefined;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off", ""]);

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

export function configFromEnv(env: Record<string, string | undefined>, delimiter = ":"): EnvResult {
  const values: Partial = {};
  const sources: Record<string, string> = {};
  const warnings: string[] = [];
  // The direct names go first so that a TELEMETRYFLOW_MCP_ name for the same key wins.
  const entries = Object.entries(env).sort(([a], [b]) => Number(a in DIRECT ? 0 : 1) - Number(b in DIRECT ? 0 : 1));
  for (const [name, raw] of entries) {
    if (raw === undefined) continue;
    let path = DIRECT[name];
    if (!path && name.startsWith(ENV_PREFIX) && !IGNORED.has(name)) {
      path = keyPathFor(name.slice(ENV_PREFIX.length));
      if (!path) {
        warnings.push(`${name} is not a tfo-mcp setting; ignored (see \`tfo-mcp init-config\` for every key)`);
        continue;
      }
    }
    if (!path) continue;
    const [s = "", k = ""] = path.split(".");
    const like = sections[s]?.[k];
    if (like === undefined) continue;
    (values[s] ??= {})[k] = coerce(raw, like, delimiter);
    sources[path] = name;
  }
  return { values, sources, warnings };
}
