import * as v from "valibot";
import { openFolderInsideRoots, type OpenedFolder } from "../workspace/open-inside.ts";
import { DEFAULT_SKIP_DIRS, type EntryType, joinRelative, notes, unreadableNote, walk } from "../workspace/walk.ts";
import { defineTool, readOnly, ToolError } from "./define.ts";

const input = v.object({
  path: v.optional(v.pipe(v.string(), v.description("Folder to list, relative to the workspace root")), "."),
  recursive: v.optional(v.pipe(v.boolean(), v.description("List everything below, as paths relative to the folder")), false),
  max_depth: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.description("Deepest level listed when recursive (1 = the folder itself)"))),
  include_hidden: v.optional(v.pipe(v.boolean(), v.description("Include names starting with a dot")), true),
  include_size: v.optional(v.pipe(v.boolean(), v.description("Give file sizes in a recursive listing too (a stat per file: slower on big trees)")), false),
});

type Entry = { name?: string; path?: string; type: EntryType; size?: number };

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
    "List a folder inside the workspace as a JSON array of {name, type, size}; recursive gives {path, type} for everything below (.git and node_modules are listed but not entered; include_size adds sizes). Sorted, at most workspace.max_results entries.",
  input,
  output,
  annotations: readOnly,
  async run(args, { workspace, signal }) {
    const folder = await openFolderInsideRoots(workspace, args.path, {
      missing: (shown) => `Folder not found: ${shown}.`,
      file: (shown) => `${shown} is a file, not a folder; use read_file to read it.`,
    });
    if (!folder.ok) throw new ToolError(folder.error);
    try {
      return await list(folder, args, workspace.maxResults, signal);
    } finally {
      folder.close();
    }
  },
});

async function list(folder: OpenedFolder, args: v.InferOutput<typeof input>, limit: number, signal: AbortSignal) {
  const recursive = args.recursive;
  // A stat per file costs several times the walk itself: sizes are given for a plain
  // listing, and for a recursive one only when asked. They are taken while the walk has the
  // folder open, never by a path from the top, and without following a symlink: an entry
  // seen as a file may have been swapped for one since.
  const withSize = !recursive || args.include_size;
  // The walk visits in the order shown (each folder sorted, its contents right after it), so
  // a truncated listing is the first `limit` entries of the whole one, the same on every call.
  const entries: Entry[] = [];
  let truncated = false;
  const walked = await walk(
    folder.path,
    {
      maxDepth: recursive ? (args.max_depth ?? Number.POSITIVE_INFINITY) : 1,
      includeHidden: args.include_hidden,
      skipDirs: DEFAULT_SKIP_DIRS,
      signal,
      open: folder.openBelow,
      sizeOf: withSize ? folder.sizeOf : undefined,
    },
    (parent, name, type, _depth, size) => {
      if (entries.length === limit) {
        truncated = true;
        return false;
      }
      const item: Entry = recursive ? { path: joinRelative(parent, name), type } : { name, type };
      if (size !== undefined) item.size = size;
      entries.push(item);
    },
  );
  if (walked.cancelled) throw new ToolError("Cancelled.");
  const data = { path: folder.shown, entries, count: entries.length, truncated };
  const note = notes(
    truncated && `Truncated at ${limit} entries: list a narrower folder, lower max_depth, or raise workspace.max_results.`,
    unreadableNote(walked.unreadable),
  );
  return { text: JSON.stringify(entries), data, note };
}
