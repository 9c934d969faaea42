// Small pieces the server's handlers share: JSON-RPC errors, params checking, tool
// results, the audit line's argument shape, and the SDK's validator built on first use.
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import * as v from "valibot";
import type { ToolOutput } from "../tools/define.ts";
import { describeArgumentIssues } from "./json-schema.ts";

export type Extra = {
  signal: AbortSignal;
  requestId: string | number;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: { method: string; params?: Record<string, unknown> }) => Promise<void>;
};
export type Handler = (params: Record<string, unknown>, extra: Extra) => Promise<Record<string, unknown>>;

/** A JSON-RPC error the SDK passes on as is (McpError would prefix "MCP error -32602:" to the text). */
export function rpcError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), { code, ...(data !== undefined ? { data } : {}) });
}
export const invalidParams = (message: string) => rpcError(ErrorCode.InvalidParams, message);

export function parseParams<T>(schema: v.GenericSchema<unknown, T>, params: unknown, method: string): T {
  const result = v.safeParse(schema, params ?? {});
  if (!result.success) throw invalidParams(`Invalid params for ${method}: ${describeArgumentIssues(result.issues)}`);
  return result.output;
}

/**
 * An error result never carries structuredContent: it would not match the tool's output
 * schema, and an SDK client that listed the tools then throws instead of showing the error.
 */
export function toCallResult(out: ToolOutput, structured: boolean) {
  const content = [{ type: "text", text: out.text }];
  if (out.note) content.push({ type: "text", text: out.note });
  return {
    content,
    ...(structured && out.data && !out.isError ? { structuredContent: out.data } : {}),
    ...(out.isError ? { isError: true } : {}),
    // A failed command's facts (exit code, timed_out) still reach a program, through _meta.
    ...(out.meta || (out.isError && out.data) ? { _meta: out.meta ?? out.data } : {}),
  };
}

export function errorResult(message: string, meta?: Record<string, unknown>): ToolOutput {
  return { text: message, isError: true, meta };
}

/** The shape of the arguments, never their contents: safe for the audit log. */
export function argumentShape(args: unknown): Record<string, string> {
  if (typeof args !== "object" || args === null) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(args)) {
    out[k] = typeof val === "string" ? `string(${val.length})` : Array.isArray(val) ? `array(${val.length})` : typeof val;
  }
  return out;
}

export function lazyValidator() {
  let real: AjvJsonSchemaValidator | undefined;
  return {
    getValidator<T>(schema: Parameters<AjvJsonSchemaValidator["getValidator"]>[0]) {
      real ??= new AjvJsonSchemaValidator();
      return real.getValidator<T>(schema);
    },
  };
}
