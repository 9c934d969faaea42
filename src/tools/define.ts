// What a tool is: plain data plus a run function. The server turns these into MCP.
import type * as v from "valibot";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/port.ts";
import type { SpanHandle } from "../telemetry/port.ts";
import type { Workspace } from "../workspace/resolve.ts";

export type Annotations = {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
};

/** Sampling content (MCP 2025-11-25): text, and with the client's sampling.tools, tool_use and tool_result. */
export type SamplingContent =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "tool_result"; toolUseId: string; content: { type: "text"; text: string }[]; isError?: boolean };
export type SamplingRequest = {
  messages: { role: "user" | "assistant"; content: SamplingContent | SamplingContent[] }[];
  systemPrompt?: string;
  maxTokens: number;
  temperature?: number;
  modelPreferences?: { hints: { name: string }[] };
  /** only when the client declared sampling.tools */
  tools?: { name: string; description: string; inputSchema: Record<string, unknown> }[];
  toolChoice?: { mode: "auto" | "required" | "none" };
};
/** One block of the client's answer: text, tool_use (with tools), or image/audio, which we only name. */
export type SamplingResultContent = { type: string; text?: string; id?: string; name?: string; input?: Record<string, unknown> };
export type SamplingResult = { model: string; stopReason?: string; content: SamplingResultContent | SamplingResultContent[] };

/** A tool of this session as its tools/list shows it. */
export type ListedTool = { name: string; title: string; description: string; inputSchema: Record<string, unknown>; annotations: Annotations; writes: boolean };

/** This session's tools, for a tool that calls tools (claude_conversation with `tools`). */
export type SessionTools = {
  /** what this session's tools/list shows (after read-only mode, commands off, an API key's tool list) */
  list(): readonly ListedTool[];
  /** why a tool of this server is held back in this session; undefined when it is offered or there is no such tool */
  whyNotOffered(name: string): string | undefined;
  /**
   * Calls a tool of this session the way a client's tools/call does: the same workspace
   * gate, read-only refusal, deadline, audit line, telemetry and activity events, and the
   * result scrubbed of secrets. An unknown tool is an error result here, not a throw.
   */
  call(name: string, args: unknown, signal: AbortSignal): Promise<ToolOutput>;
};

export type ToolContext = {
  config: Config;
  workspace: Workspace;
  log: Logger;
  signal: AbortSignal;
  /** sends notifications/progress when the client asked for it; a no-op otherwise */
  progress(progress: number, total?: number, message?: string): void;
  /** the store, opened on first use */
  store(): Promise<Store>;
  /** present when the client declared the sampling capability */
  sample?: (request: SamplingRequest, signal: AbortSignal) => Promise<SamplingResult>;
  /** the client declared sampling.tools: sample may carry tools, tool_use and tool_result */
  sampleTools: boolean;
  /** the session's own tools, to list and to call as a client would */
  tools: SessionTools;
  /** this call's span when telemetry is on: `ctx.span?.child(name, attributes)` for work inside the call */
  span?: SpanHandle;
};

/**
 * What a tool returns: the text shown to the model, and the same facts as data when the
 * tool has an output schema. Tools whose result is text to read (a file, a reply) have no
 * output schema and put their extra facts in `meta` instead: Claude Code shows a model the
 * structuredContent in place of the text, so a file would reach it as an escaped JSON string.
 */
export type ToolOutput = {
  text: string;
  /** structuredContent; only for tools with an output schema, never on an error */
  data?: Record<string, unknown>;
  isError?: boolean;
  /** shown as a second text block, so `text` stays machine-readable (JSON) where upstream made it so */
  note?: string;
  /** the result's _meta: facts a program may want (range read, conversation id, usage) */
  meta?: Record<string, unknown>;
};

export type Tool<I = unknown> = {
  name: string;
  title: string;
  description: string;
  input: v.GenericSchema<unknown, I>;
  output?: v.GenericSchema;
  annotations: Annotations;
  /** Tools that enforce their own deadline (execute_command, claude_conversation) opt out of mcp.tool_timeout. */
  ownTimeout?: boolean;
  /** Tools that write: not offered (and refused) when workspace.read_only is set. */
  writes?: boolean;
  /** Whether the server offers this tool under this config (default: yes). */
  offered?: (config: Config) => boolean;
  run(args: I, ctx: ToolContext): Promise<ToolOutput>;
};

export function defineTool<I>(tool: Tool<I>): Tool<I> {
  return tool;
}

/** A failure the model can act on: becomes an `isError` result with this message. */
export class ToolError extends Error {
  constructor(
    message: string,
    /** goes to the error result's _meta (an error never carries structuredContent) */
    readonly meta?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const readOnly: Annotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
