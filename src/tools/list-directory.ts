import { statSync } from "node:fs";
import { stat } from "node:fs/promises";
import * as v from "valibot";
import { displayPath, resolveInsideRoots } from "../workspace/resolve.ts";
import { DEFAULT_SKIP_DIRS, walk } from "../workspace/walk.ts";
import { defineTool, readOnly, ToolError } from "./define.ts";

const input = v.object({
  path: v.optional(v.pipe(v.string(), v.description("Folder to list, relative to the workspace root")), "."),
  recursive: v.optional(v.pipe(v.boolean(), v.description("List everything below, as paths relative to the folder")), false),
  max_depth: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.description("Deepest level listed when recursive (1 = the folder itself)"))),
  include_hidden: v.optional(v.pipe(v.boolean(), v.description("Include names starting with a dot")), true),
});

const entry = v.object({
  name: v.optional(v.string()),
  path: v.optional(v.string()),
  type: v.picklist(["file", "directory", "symlink", "other"]),
  size: v.optional(v.number()),
});
const output = v.object({ path: v.string(), entries: v.array(entry), count: v.number(), truncated: v.boolean() });

export const listDirectory = defineTool({
  name: "list_directory",
  title: "List directory",
  description:
    "List a folder inside the workspace as a JSON array of {name, type, size}; recursive gives {path, type, size} for everything below (.git and node_modules are listed but not entered). Sorted, at most workspace.max_results entries.",
  input,
  output,
  annotations: readOnly,
  async run(args, { workspace, signal }) {
    const resolved = await resolveInsideRoots(workspace, args.path);
    if (!resolved.ok) throw new ToolError(resolved.error);
    const shown = displayPath(workspace, resolved.path);
    if (!resolved.exists) throw new ToolError(`Folder not found: ${shown}.`);
    if (!(await stat(resolved.path)).isDirectory()) throw new ToolError(`${shown} is a file, not a folder; use read_file to read it.`);

    const limit = workspace.maxResults;
    const entries: v.InferOutput<typeof entry>[] = [];
    let truncated = false;
    const walkOptions = {
      maxDepth: args.recursive ? (args.max_depth ?? Number.POSITIVE_INFINITY) : 1,
      includeHidden: args.include_hidden,
      skipDirs: DEFAULT_SKIP_DIRS,
      signal,
    };
    for await (const e of walk(resolved.path, walkOptions)) {
      if (signal.aborted) throw new ToolError("Cancelled.");
      if (entries.length === limit) {
        truncated = true;
        break;
      }
      let size: number | undefined;
      if (e.type === "file") {
        try {
          size = statSync(e.absolute).size;
        } catch {
          size = undefined;
        }
      }
      const item = args.recursive ? { path: e.path, type: e.type } : { name: e.name, type: e.type };
      entries.push(size === undefined ? item : { ...item, size });
    }
    const data = { path: shown, entries, count: entries.length, truncated };
    const note = truncated
      ? `Truncated at ${limit} entries: list a narrower folder, lower max_depth, or raise workspace.max_results.`
      : undefined;
    return { text: JSON.stringify(entries, null, 2), data, note };
  },
});
