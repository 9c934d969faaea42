// TelemetryFlow API keys have fixed prefixes; a key with another prefix is a mistake
// (pasted into the wrong field, or a placeholder), found at start-up rather than as
// refused exports later. Pure; never echoes a key.
import type { Config } from "./schema.ts";

export type KeyProblem = { path: string; message: string };

const PREFIXES = [
  { path: "telemetry.api_key_id", prefix: "tfk_", what: "a TelemetryFlow key id" },
  { path: "telemetry.api_key_secret", prefix: "tfs_", what: "a TelemetryFlow key secret" },
] as const;

/** Problems with the telemetry keys of a config that exports telemetry; [] when it does not. */
export function telemetryKeyProblems(config: Config): KeyProblem[] {
  const t = config.telemetry;
  if (!t.enabled) return [];
  const problems: KeyProblem[] = [];
  const value = { "telemetry.api_key_id": t.api_key_id, "telemetry.api_key_secret": t.api_key_secret };
  for (const { path, prefix, what } of PREFIXES) {
    const v = value[path];
    if (v && !v.startsWith(prefix)) problems.push({ path, message: `${path} does not start with "${prefix}", so it is not ${what}; copy it again from TelemetryFlow (the value is not shown: it is secret)` });
  }
  if (Boolean(t.api_key_id) !== Boolean(t.api_key_secret)) {
    const [set, missing] = t.api_key_id ? ["telemetry.api_key_id", "telemetry.api_key_secret"] : ["telemetry.api_key_secret", "telemetry.api_key_id"];
    problems.push({ path: missing, message: `${set} is set but ${missing} is not; TelemetryFlow needs both (TELEMETRYFLOW_API_KEY_ID and TELEMETRYFLOW_API_KEY_SECRET)` });
  }
  return problems;
}
