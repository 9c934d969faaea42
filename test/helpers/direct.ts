// The tools called straight, with a Workspace of the test's own: how a test pins a weaker
// path guard (Workspace.confine), which the config cannot choose.
import * as v from "valibot";
import { ToolError, type ToolContext } from "../../src/tools/define.ts";
import { tools } from "../../src/tools/index.ts";
import type { Workspace } from "../../src/workspace/resolve.ts";

export type DirectResult = { content: { type: string; text: string }[]; isError?: boolean };

export function directCall(workspace: Workspace): (name: string, args: Record<string, unknown>) => Promise<DirectResult> {
  const ctx = { workspace, signal: new AbortController().signal, progress() {} } as unknown as ToolContext;
  return async (name, args) => {
    const tool = tools.find((t) => t.name === name);
    if (!tool) throw new Error(`no tool ${name}`);
    try {
      const out = await tool.run(v.parse(tool.input, args), ctx);
      return { content: [{ type: "text", text: out.text }], isError: out.isError };
    } catch (error) {
      if (error instanceof ToolError) return { content: [{ type: "text", text: error.message }], isError: true };
      throw error;
    }
  };
}

export function testWorkspace(roots: string[], extra: Partial<Workspace> = {}): Workspace {
  return { roots, explicit: true, why: "test", readOnly: false, maxReadBytes: 1e6, maxWriteBytes: 1e6, maxResults: 100, followSymlinks: true, allowHardlinks: false, ...extra };
}
