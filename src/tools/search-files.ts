import * as v from "valibot";
import { resolveFolder } from "../workspace/resolve.ts";
import { DEFAULT_SKIP_DIRS, joinRelative, notes, unreadableNote, walk } from "../workspace/walk.ts";
import { defineTool, readOnly, ToolError } from "./define.ts";
import { matchPool } from "./content-match.ts";

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

export const searchFiles = defineTool({
  name: "search_files",
  title: "Search files",
  description:
    "Find files below a folder whose name matches a glob, optionally whose text matches a regular expression. Returns JSON {matches, count} with paths relative to the folder; skips .git and node_modules; stops at max_results and says so.",
  input,
  output,
  annotations: readOnly,
  async run(args, { workspace, signal, progress }) {
    const folder = await resolveFolder(workspace, args.path, {
      missing: (shown) => `Folder not found: ${shown}.`,
      file: (shown) => `${shown} is a file, not a folder to search.`,
    });
    if (!folder.ok) throw new ToolError(folder.error);
    const { path: dir, shown } = folder;
    let regex: RegExp | undefined;
    if (args.content !== undefined) {
      const compiled = compileContentPattern(args.content);
      if (!compiled.ok) throw new ToolError(compiled.error);
      regex = compiled.regex;
    }
    let matches: Matcher;
    let excludes: Matcher[];
    const byPath = args.pattern.includes("/");
    try {
      matches = globMatcher(args.pattern);
      excludes = (args.exclude ?? []).map(globMatcher);
    } catch (error) {
      throw new ToolError(`Invalid glob: ${(error as Error).message}`);
    }
    const limit = Math.min(args.max_results ?? workspace.maxResults, workspace.maxResults);
    const found: string[] = [];
    let truncated = false;
    const excluded = (path: string, name: string) => excludes.some((x) => x(path, name));
    const candidates: string[] = [];
    const walked = await walk(
      dir,
      { maxDepth: Number.POSITIVE_INFINITY, includeHidden: args.include_hidden, skipDirs: DEFAULT_SKIP_DIRS, prune: excluded, signal },
      (parent, name, type) => {
        if (type !== "file" && !(type === "directory" && !regex)) return;
        // The relative path is built only when a glob needs it or the name matched.
        const path = byPath ? joinRelative(parent, name) : undefined;
        if (!matches(path ?? "", name)) return;
        const rel = path ?? joinRelative(parent, name);
        if (excludes.length && excluded(rel, name)) return;
        if (regex) {
          candidates.push(rel);
          return;
        }
        if (found.length === limit) {
          truncated = true;
          return false;
        }
        found.push(rel);
      },
    );
    if (walked.cancelled) throw new ToolError("Cancelled.");
    if (regex && candidates.length) {
      // Contents are read after the walk, in path order, so results are stable.
      candidates.sort();
      const outcome = await contentWorkers.run(
        { dir, paths: candidates, source: regex.source, flags: regex.flags, maxBytes: workspace.maxReadBytes, limit },
        { signal, progress: (searched, total) => progress(searched, total, `${searched} of ${total} files searched`) },
      );
      if (!outcome.ok) throw new ToolError(outcome.error);
      for (const m of outcome.matches) found.push(m);
      truncated = outcome.truncated;
    }
    found.sort();
    const data = { matches: found, count: found.length, truncated, path: shown };
    const note = notes(truncated && `Stopped at ${limit} matches; narrow the pattern or folder to see the rest.`, unreadableNote(walked.unreadable));
    return { text: JSON.stringify({ matches: found, count: found.length, truncated }), data, note };
  },
});
