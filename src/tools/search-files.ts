import * as v from "valibot";
import { relative } from "node:path";
import { openFolderInsideRoots, type OpenedFolder } from "../workspace/open-inside.ts";
import { rootContaining, type Workspace } from "../workspace/resolve.ts";
import { DEFAULT_SKIP_DIRS, type EntryType, joinRelative, notes, unreadableNote, walk } from "../workspace/walk.ts";
import { defineTool, readOnly, type ToolContext, ToolError } from "./define.ts";
import { type MatchOutcome, matchPool } from "./content-match.ts";

const input = v.object({
  path: v.optional(v.pipe(v.string(), v.description("Folder to search, relative to the workspace root")), "."),
  pattern: v.pipe(
    v.string(),
    v.minLength(1, "pattern must not be empty"),
    v.description('Glob on file names ("*.py") or, with a slash, on paths relative to the folder ("src/**/*.ts")'),
  ),
  content: v.optional(v.pipe(v.string(), v.description("Regular expression the file's text must match"))),
  exclude: v.optional(v.pipe(v.array(v.string()), v.description("Globs of names or paths to leave out"))),
  max_results: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.description("Most matches to return"))),
  include_hidden: v.optional(v.pipe(v.boolean(), v.description("Search names starting with a dot")), true),
});

const output = v.object({ matches: v.array(v.string()), count: v.number(), truncated: v.boolean(), path: v.string() });

// Checked here so a bad pattern is refused at once, before any walk. A slow pattern is not
// refused: a static check cannot catch them all ((a|a)+$ slipped past the old nested-quantifier
// check, which meanwhile refused useful patterns like (\w+\.)+\w+), and a pattern only ever
// runs on a worker that the deadline or a cancel terminates (content-match.ts).
export function compileContentPattern(source: string): { ok: true; regex: RegExp } | { ok: false; error: string } {
  if (source.length > 1000) return { ok: false, error: "content pattern is longer than 1000 characters" };
  try {
    return { ok: true, regex: new RegExp(source, "m") };
  } catch (error) {
    return { ok: false, error: `content is not a valid regular expression: ${(error as Error).message}` };
  }
}

type Matcher = (path: string, name: string) => boolean;

// The one piece of state this module keeps: an idle content-match worker, reused between
// searches (see matchPool for the measured reason). No worker starts until a search has `content`.
const contentWorkers = matchPool();

const GLOB_CHARS = /[*?[\]{}!\\]/;

/** A glob with a slash matches the relative path; without one, the name at any depth. A plain name is compared as is. */
export function globMatcher(pattern: string): Matcher {
  if (!pattern.includes("/") && !GLOB_CHARS.test(pattern)) return (_path, name) => name === pattern;
  const glob = new Bun.Glob(pattern);
  return pattern.includes("/") ? (path) => glob.match(path) : (_path, name) => glob.match(name);
}

// Candidates go to the content worker in batches this big; the walk goes on with the next
// batch while the worker searches one, and waits when it is a batch behind.
const BATCH = 256;

export const searchFiles = defineTool({
  name: "search_files",
  title: "Search files",
  description:
    "Find files below a folder whose name matches a glob, optionally whose text matches a regular expression. Returns JSON {matches, count} with paths relative to the folder; skips .git and node_modules; stops at max_results and says so.",
  input,
  output,
  annotations: readOnly,
  async run(args, { workspace, signal, progress }) {
    let regex: RegExp | undefined;
    if (args.content !== undefined) {
      const compiled = compileContentPattern(args.content);
      if (!compiled.ok) throw new ToolError(compiled.error);
      regex = compiled.regex;
    }
    let matches: Matcher;
    let excludes: Matcher[];
    try {
      matches = globMatcher(args.pattern);
      excludes = (args.exclude ?? []).map(globMatcher);
    } catch (error) {
      throw new ToolError(`Invalid glob: ${(error as Error).message}`);
    }
    const folder = await openFolderInsideRoots(workspace, args.path, {
      missing: (shown) => `Folder not found: ${shown}.`,
      file: (shown) => `${shown} is a file, not a folder to search.`,
    });
    if (!folder.ok) throw new ToolError(folder.error);
    try {
      return await search(folder, { args, regex, matches, excludes, workspace, signal, progress });
    } finally {
      folder.close();
    }
  },
});

type Search = {
  args: v.InferOutput<typeof input>;
  regex: RegExp | undefined;
  matches: Matcher;
  excludes: Matcher[];
  workspace: Workspace;
  signal: AbortSignal;
  progress: ToolContext["progress"];
};

async function search(folder: OpenedFolder, { args, regex, matches, excludes, workspace, signal, progress }: Search) {
  const limit = Math.min(args.max_results ?? workspace.maxResults, workspace.maxResults);
  const byPath = args.pattern.includes("/");
  const excluded = (path: string, name: string) => excludes.some((x) => x(path, name));
  // The worker opens the folder itself, beneath the root that holds it (never by this
  // thread's descriptor, which a cancel closes while the worker may still run).
  const root = rootContaining(workspace.roots, folder.path) ?? folder.path;
  const content = regex
    ? contentWorkers.begin(
        {
          root,
          folder: relative(root, folder.path),
          source: regex.source,
          flags: regex.flags,
          maxBytes: workspace.maxReadBytes,
          limit,
          followSymlinks: workspace.followSymlinks,
          allowHardlinks: workspace.allowHardlinks,
          confine: workspace.confine,
        },
        { signal, progress: (searched, total) => progress(searched, total, total === undefined ? `${searched} files searched` : `${searched} of ${total} files searched`) },
      )
    : undefined;
  // The walk visits in tree order, so the first `limit` matches are the same on every call.
  const found: string[] = [];
  let truncated = false;
  let batch: string[] = [];
  let searching: Promise<void> = Promise.resolve();
  let walked: Awaited<ReturnType<typeof walk>>;
  let outcome: Promise<MatchOutcome> | undefined;
  // Asked as each folder is read: only matches are visited (and sorted into tree order).
  const select = (parent: string, name: string, type: EntryType) => {
    if (type !== "file" && !(type === "directory" && !content)) return false;
    // The relative path is built only when a glob needs it.
    const path = byPath ? joinRelative(parent, name) : undefined;
    if (!matches(path ?? "", name)) return false;
    return !(excludes.length && excluded(path ?? joinRelative(parent, name), name));
  };
  try {
    walked = await walk(
      folder.path,
      { maxDepth: Number.POSITIVE_INFINITY, includeHidden: args.include_hidden, skipDirs: DEFAULT_SKIP_DIRS, prune: excluded, signal, open: folder.openBelow, select },
      (parent, name) => {
        const rel = joinRelative(parent, name);
        if (content) {
          batch.push(rel);
          if (batch.length < BATCH) return;
          const behind = searching;
          searching = content.add(batch);
          batch = [];
          return behind.then(() => (content.ended() ? false : undefined));
        }
        if (found.length === limit) {
          truncated = true;
          return false;
        }
        found.push(rel);
      },
    );
  } finally {
    // Ends the content search whatever happened, so its worker is not left waiting.
    outcome = content?.finish(content.ended() ? [] : batch);
  }
  if (walked.cancelled) throw new ToolError("Cancelled.");
  if (outcome) {
    const searched = await outcome;
    if (!searched.ok) throw new ToolError(searched.error);
    for (const m of searched.matches) found.push(m);
    truncated = searched.truncated;
  }
  const data = { matches: found, count: found.length, truncated, path: folder.shown };
  const note = notes(truncated && `Stopped at ${limit} matches; narrow the pattern or folder to see the rest.`, unreadableNote(walked.unreadable));
  return { text: JSON.stringify({ matches: found, count: found.length, truncated }), data, note };
}
