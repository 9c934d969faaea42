// valibot schemas → JSON Schema for tools/list (the server computes the list once).
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";

/** Object schema as MCP wants it: `type: "object"`, no `$schema` key (some clients reject unknown meta keys). */
export function jsonSchemaOf(schema: v.GenericSchema): Record<string, unknown> {
  // Checks (v.check) and descriptions are fine to skip here: the schema is still enforced on every call.
  const { $schema: _drop, ...json } = toJsonSchema(schema, { target: "draft-2020-12", errorMode: "ignore" }) as Record<string, unknown>;
  if (json.type !== "object") json.type = "object";
  return json;
}

/** valibot issues → "path: expected X, got Y" lines for an isError result or a -32602 message. */
export function describeArgumentIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
      const where = path ? `${path}: ` : "";
      if (issue.kind === "schema" && issue.input === undefined) return `${where}missing (it is required)`;
      if (issue.kind === "schema" && issue.expected) return `${where}expected ${issue.expected}, got ${issue.received}`;
      return `${where}${issue.message}`;
    })
    .join("; ");
}
