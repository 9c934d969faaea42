// What each key means, once: used by `init-config` (comments) and the README's reference.
import { type Config, defaults, SECRET_KEYS } from "./schema.ts";

export const KEY_DOCS: Record<string, string> = {
  "server.name": "server name reported to clients",
  "server.version": "version reported to clients (empty: the binary's version)",
  "server.transport": "stdio (the MCP client starts tfo-mcp) or http",
  "server.debug": "debug logging (same as --debug)",
  "server.host": "address for the http transport",
  "server.port": "port for the http transport",
  "claude.api_key": "Anthropic API key; prefer the ANTHROPIC_API_KEY variable",
  "claude.base_url": "Anthropic API base URL (gateways, proxies); ANTHROPIC_BASE_URL",
  "claude.default_model": "model used when claude_conversation gets none",
  "claude.max_tokens": "default max_tokens per reply (1-128000)",
  "claude.temperature": "default sampling temperature (0-1)",
  "claude.timeout": "seconds per API request",
  "claude.max_retries": "retries on 429, 529, 5xx and connection errors (0-10)",
  "claude.max_history_messages": "most earlier messages sent with a conversation turn (whole turns, newest kept)",
  "mcp.protocol_version": "pin one protocol version: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25 (empty: negotiate)",
  "mcp.enable_tools": "offer tools",
  "mcp.enable_resources": "offer resources",
  "mcp.enable_prompts": "offer prompts",
  "mcp.enable_logging": "send log messages to the client after logging/setLevel",
  "mcp.tool_timeout": "seconds a tool call may take (execute_command and claude_conversation have their own: timeout, claude.timeout)",
  "logging.level": "debug | info | warn | error | silent",
  "logging.format": "text | json",
  "logging.output": "stderr, or a file path to append to",
  "telemetry.enabled": "TelemetryFlow export (accepted for compatibility; see README)",
  "telemetry.api_key_id": "TelemetryFlow API key id",
  "telemetry.api_key_secret": "TelemetryFlow API key secret",
  "telemetry.endpoint": "TelemetryFlow endpoint",
  "telemetry.service_name": "service name on telemetry",
  "telemetry.environment": "deployment environment on telemetry",
  "workspace.roots": "folders the tools may touch, ~ expanded, relative to the config file; --root replaces them (empty: the client's roots, else the current folder unless it is / or home)",
  "workspace.read_only": "refuse every writing tool",
  "workspace.max_read_bytes": "largest read in bytes (use offset/length or head/tail beyond it)",
  "workspace.max_write_bytes": "largest write in bytes",
  "workspace.max_results": "most entries list_directory and search_files return",
  "workspace.follow_symlinks": "follow symlinks that stay inside the roots (never outside)",
  "workspace.allow_hardlinks": "read and modify files with more than one hard link (one may lie outside the roots)",
  "commands.enabled": "offer execute_command",
  "commands.allow": "if not empty, only command lines starting with one of these",
  "commands.deny": "command lines containing a part that starts with one of these are refused",
  "commands.max_output_bytes": "stdout and stderr are each cut at this many bytes",
  "commands.env_passthrough": "if not empty, only these variables (plus PATH, HOME, LANG, TERM, USER, SHELL, TMPDIR) reach commands",
  "commands.env_drop": "variables never passed to commands (secrets are always dropped)",
  "storage.url": "conversations and sessions: sqlite:PATH, or memory: (empty: sqlite in $XDG_DATA_HOME/tfo-mcp/tfo-mcp.db)",
  "http.api_keys": "bearer keys accepted by the http transport",
  "http.allowed_origins": "Origin values accepted by the http transport",
  "http.rate_limit": "requests per minute per client on http (0: off)",
};

export function envNameFor(path: string): string {
  const [s = "", k = ""] = path.split(".");
  return `TELEMETRYFLOW_MCP_${s.toUpperCase()}__${k.toUpperCase()}`;
}

const MASK = "********";

/** A secret key, or an item of one ("http.api_keys.0", as valibot names list items). */
export function isSecret(path: string) {
  return (SECRET_KEYS as readonly string[]).some((key) => path === key || path.startsWith(`${key}.`));
}

// scheme://user:password@host — the password (or a lone user, which is often a token) is a secret.
const URL_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i;

/** `https://user:pw@host/x` → `https://user:********@host/x`; anything else unchanged. */
export function maskUrlCredentials(value: string): string {
  return value.replace(URL_CREDENTIALS, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return `${scheme}${colon === -1 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`}@`;
  });
}

/** The secret part of a URL's userinfo, if it has one. */
function urlCredential(value: string): string | undefined {
  const userinfo = URL_CREDENTIALS.exec(value)?.[2];
  if (!userinfo) return undefined;
  const colon = userinfo.indexOf(":");
  const secret = colon === -1 ? userinfo : userinfo.slice(colon + 1);
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

/** Every secret value in the config (keys, and passwords inside any URL), for redaction of what leaves the server. */
export function secretValues(config: Config): string[] {
  const out: string[] = [];
  eachLeaf(config, (path, value) => {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== "string") continue;
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
