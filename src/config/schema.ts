// The whole configuration as one valibot schema. Defaults live here and nowhere else:
// `defaults` below is derived by parsing an empty object, and env coercion reads
// each leaf's kind from it.
import * as v from "valibot";
import { parseStorageUrl } from "../store/open.ts";

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

export const configSchema = v.object({
  server: section({
    name: str("TelemetryFlow-MCP"),
    version: str(""),
    transport: v.optional(v.picklist(["stdio", "http"]), "stdio"),
    debug: bool(false),
    host: str("127.0.0.1"),
    port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65_535)), 8080),
  }),
  claude: section({
    api_key: str(""),
    base_url: str(""),
    default_model: str("claude-sonnet-5-5"),
    max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128_000)), 4096),
    temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 1),
    timeout: seconds(120),
    max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10)), 3),
    max_history_messages: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(10_000)), 50),
  }),
  mcp: section({
    protocol_version: v.optional(v.picklist(["", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]), ""),
    enable_tools: bool(true),
    enable_resources: bool(true),
    enable_prompts: bool(true),
    enable_logging: bool(true),
    tool_timeout: seconds(30),
  }),
  logging: section({
    level: v.optional(v.picklist(LOG_LEVELS), "info"),
    format: v.optional(v.picklist(["json", "text"]), "text"),
    output: str("stderr"),
  }),
  telemetry: section({
    enabled: bool(false),
    api_key_id: str(""),
    api_key_secret: str(""),
    endpoint: str(""),
    service_name: str("tfo-mcp"),
    environment: str("production"),
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
  }),
  storage: section({
    // The same reading of the URL as the store uses, so start-up refuses what it would refuse.
    url: v.optional(
      v.pipe(v.string(), v.check((url) => parseStorageUrl(url, "/", "/").ok, 'sqlite:PATH or memory: (or "" for the default sqlite file)')),
      "",
    ),
  }),
  http: section({
    api_keys: stringList([]),
    allowed_origins: stringList([]),
    rate_limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  }),
});

export type Config = v.InferOutput<typeof configSchema>;
export type ConfigInput = v.InferInput<typeof configSchema>;

export const defaults: Config = v.parse(configSchema, {});

/** Keys whose values are secrets: masked in `info`, `config://server` and logs. */
export const SECRET_KEYS = ["claude.api_key", "telemetry.api_key_secret", "telemetry.api_key_id", "http.api_keys"] as const;
