// The params of each request we answer, as valibot schemas. Extra keys (such as _meta) are allowed.
import * as v from "valibot";

const name = v.pipe(v.string(), v.minLength(1));

// Upstream treated every initialize field as optional (its own docs send no capabilities).
export const initialize = v.object({
  protocolVersion: v.optional(v.string(), "2024-11-05"),
  capabilities: v.optional(v.record(v.string(), v.unknown()), () => ({})),
  clientInfo: v.optional(v.object({ name: v.optional(v.string(), "unknown"), version: v.optional(v.string(), "") }), () => ({ name: "unknown", version: "" })),
});

export const RFC5424_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
// Python's names and `warn` were accepted upstream, in any case.
const LEVEL_ALIASES: Record<string, (typeof RFC5424_LEVELS)[number]> = { warn: "warning", fatal: "critical", notset: "debug" };

export const setLevel = v.object({
  level: v.pipe(
    v.string(),
    v.transform((x) => x.toLowerCase()),
    v.transform((x) => LEVEL_ALIASES[x] ?? x),
    v.picklist(RFC5424_LEVELS),
  ),
});

export const callTool = v.object({
  name,
  arguments: v.optional(v.record(v.string(), v.unknown())),
});

export const readResource = v.object({ uri: name });

export const getPrompt = v.object({
  name,
  arguments: v.optional(v.record(v.string(), v.string())),
});

export const complete = v.object({
  ref: v.variant("type", [
    v.object({ type: v.literal("ref/prompt"), name }),
    v.object({ type: v.literal("ref/resource"), uri: name }),
  ]),
  argument: v.object({ name: v.string(), value: v.string() }),
});
