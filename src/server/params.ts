// The params of each request we answer, as valibot schemas. Extra keys (such as _meta) are allowed.
import * as v from "valibot";

const name = v.pipe(v.string(), v.minLength(1));

export const initialize = v.object({
  protocolVersion: v.string(),
  capabilities: v.record(v.string(), v.unknown()),
  clientInfo: v.object({ name: v.string(), version: v.string() }),
});

export const setLevel = v.object({
  level: v.picklist(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]),
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
