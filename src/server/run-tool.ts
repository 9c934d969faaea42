// One tool call: arguments checked, read-only refusal, the context a tool runs with,
// progress, and the mcp.tool_timeout deadline for tools without their own.
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/port.ts";
import type { SpanHandle } from "../telemetry/port.ts";
import type { Tool, ToolContext, ToolOutput } from "../tools/define.ts";
import type { Workspace } from "../workspace/resolve.ts";
import type { deadlineWatch } from "./deadlines.ts";
import { describeArgumentIssues } from "./json-schema.ts";
import { errorResult, type Extra } from "./results.ts";

export type RunEnv = {
  config: Config;
  workspace: Workspace;
  log: Logger;
  store: () => Promise<Store>;
  // Built when a tool asks (claude_conversation): most calls never do, and they are many.
  sample: () => ToolContext["sample"];
  sampleTools: () => boolean;
  tools: () => ToolContext["tools"];
  deadlines: ReturnType<typeof deadlineWatch>;
  /** the call's span, when telemetry is on */
  span?: SpanHandle;
};

export async function runTool(tool: Tool, rawArgs: unknown, extra: Extra, env: RunEnv): Promise<ToolOutput> {
  const { config, workspace, log, store, deadlines } = env;
  const mcp = config.mcp;
  const parsed = v.safeParse(tool.input, rawArgs ?? {});
  if (!parsed.success) return errorResult(`Invalid arguments for ${tool.name}: ${describeArgumentIssues(parsed.issues)}.`);
  if (tool.writes && workspace.readOnly) {
    return errorResult(`${tool.name} is refused: the workspace is read-only (workspace.read_only is true).`);
  }
  const token = extra._meta?.progressToken;
  // The call's signal is built only if the tool asks for it: most calls never do.
  let controller: AbortController | undefined;
  let signal: AbortSignal | undefined;
  let timedOut = false;
  const ctx: ToolContext = {
    config,
    workspace,
    log,
    get signal() {
      if (tool.ownTimeout) return extra.signal;
      if (!signal) {
        controller = new AbortController();
        if (timedOut) controller.abort();
        signal = AbortSignal.any([extra.signal, controller.signal]);
      }
      return signal;
    },
    store,
    get sample() {
      return env.sample();
    },
    get sampleTools() {
      return env.sampleTools();
    },
    get tools() {
      return env.tools();
    },
    span: env.span,
    progress:
      token === undefined
        ? () => {}
        : (progress, total, message) => {
            extra
              .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) } })
              .catch(() => {});
          },
  };
  const run = tool.run(parsed.output, ctx);
  if (tool.ownTimeout) return run;
  let unwatch: (() => void) | undefined;
  const deadline = new Promise<ToolOutput>((resolve) => {
    unwatch = deadlines.watch(mcp.tool_timeout * 1000, () => {
      // Settle first: a tool that answers its abort at once must not win the race.
      resolve(errorResult(`${tool.name} took longer than ${mcp.tool_timeout} s (mcp.tool_timeout) and was stopped.`));
      timedOut = true;
      controller?.abort();
    });
  });
  try {
    return await Promise.race([run, deadline]);
  } finally {
    unwatch?.();
  }
}
