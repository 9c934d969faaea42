// Values the Python server accepted and the schema's stricter spelling does not: turned
// into ours before validation, each with a warning where the meaning changes. Pure.
import type { Partial } from "./env.ts";
import { coerce } from "./env.ts";
import { defaultAt } from "./schema.ts";

// Python's logging level names, any case, to ours.
const LEVELS: Record<string, string> = {
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  critical: "error",
  fatal: "error",
  notset: "debug",
  silent: "silent",
};

/** API limits that upstream did not enforce: a value beyond them is clamped, with a warning, not refused. */
const CLAMPS: Record<string, { max: number; why: string }> = {
  "claude.temperature": { max: 1, why: "the Messages API accepts 0 to 1" },
  "claude.max_tokens": { max: 128_000, why: "no Claude model writes more than 128000 tokens" },
};


export function upstreamCompat(input: Partial, transport?: string): { values: Partial; warnings: string[] } {
  const values: Partial = {};
  const warnings: string[] = [];
  for (const [s, section] of Object.entries(input)) {
    if (typeof section !== "object" || section === null || Array.isArray(section)) {
      (values as Record<string, unknown>)[s] = section;
      continue;
    }
    const out: Record<string, unknown> = {};
    for (const [k, raw] of Object.entries(section)) {
      const path = `${s}.${k}`;
      let value = raw;
      const like = defaultAt(path);
      // pydantic reads "yes", "t", "8080" in YAML as it does in the environment.
      if (typeof value === "string" && (typeof like === "boolean" || typeof like === "number")) value = coerce(value, like, ":");
      if (path === "logging.level" && typeof value === "string") value = LEVELS[value.trim().toLowerCase()] ?? value;
      if (path === "logging.output" && typeof value === "string" && value.trim().toLowerCase() === "stdout" && transport !== "http") {
        warnings.push("logging.output: stdout carries the MCP protocol on the stdio transport; logging to stderr instead");
        value = "stderr";
      }
      const clamp = CLAMPS[path];
      if (clamp && typeof value === "number" && value > clamp.max) {
        warnings.push(`${path}: ${value} is above ${clamp.max} (${clamp.why}); using ${clamp.max}`);
        value = clamp.max;
      }
      out[k] = value;
    }
    values[s] = out;
  }
  return { values, warnings };
}
