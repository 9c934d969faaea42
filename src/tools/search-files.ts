import * as v from "valibot";
import { relative } from "node:path";
import { gitignoreRules, gitTop, ignoredAbove } from "../workspace/gitignore-files.ts";
import { openFolderInsideRoots, type OpenedFolder } from "../workspace/open-inside.ts";
import { rootContaining, type Workspace } from "../workspace/resolve.ts";
import { DEFAULT_SKIP_DIRS, type EntryType, joinRelative, notes, unreadableNote, walk } from "../workspace/walk.ts";
import { defineTool, readOnly, type ToolContext, ToolError } from "./define.ts";
import { type MatchOutcome, matchPool } from "./content-match.ts";
import { entrySize, type FileLines, type Line } from "./match-lines.ts";

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
  show_lines: v.optional(
    v.pipe(v.boolean(), v.description("With content: also return the matching lines (path, line number, text), up to 64 KiB of them; binary files are skipped")),
    false,
  ),
  context_lines: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10), v.description("With show_lines: lines shown before and after each match, like grep -C (0-10)")), 0),
  respect_gitignore: v.optional(
    v.pipe(v.boolean(), v.description("Leave out what .gitignore files (and .git/info/exclude) ignore, and .git itself; default: true when the folder is inside a git work tree")),
  ),
});

const line = v.object({ path: v.string(), line: v.number(), text: v.string(), context: v.optional(v.literal(true)) });
const output = v.object({
  matches: v.array(v.string()),
  count: v.number(),
  truncated: v.boolean(),
  path: v.string(),
  // With show_lines only: the same upstream fields above, and these.
  lines: v.optional(v.array(line)),
  lines_truncated: v.optional(v.boolean()),
  lines_not_shown: v.optional(v.number()),
  files_not_shown: v.optional(v.number()),
  binary_skipped: v.optional(v.number()),
});

/** Bytes of lines (counted as grep lines, `path:line:text`) one answer holds at most. */
export const LINE_BUDGET = 64 * 1024;
/** A longer line is cut around its match. */
export const MAX_LINE_CHARS = 500;

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

// Candidates go to the content workers in batches this big; the walk goes on while they
// search, and waits when each worker has two batches in hand.
const BATCH = 256;
const AHEAD = contentWorkers.width * 2;

export type ShownLine = Line & { path: string };
export type ShownLines = { lines: ShownLine[]; cut: boolean; linesNotShown: number; filesNotShown: number };

/**
 * The lines of the matching files, in order, until `budget` bytes (as entrySize counts them):
 * past it, what was left out is counted. A worker that stopped a file's list early (`cut`)
 * did so because its own share was over the budget, so the whole is too.
 */
export function shownLines(paths: readonly string[], files: readonly FileLines[], budget: number): ShownLines {
  const lines: ShownLine[] = [];
  let used = 0;
  let cut = false;
  let linesNotShown = 0;
  let filesNotShown = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const path = paths[i]!;
    let shown = 0;
    for (const line of cut ? [] : file.lines) {
      const size = entrySize(path, line);
      if (used + size > budget) {
        cut = true;
        break;
      }
      used += size;
      lines.push({ path, ...line });
      if (!line.context) shown++;
    }
    if (file.cut) cut = true;
    linesNotShown += file.matching - shown;
    if (shown === 0 && file.matching > 0) filesNotShown++;
  }
  return { lines, cut, linesNotShown, filesNotShown };
}

/** grep's way: `path:12:text` for a match, `path-13-text` for context, `--` between groups when there is context. */
export function grepText(lines: readonly ShownLine[], context: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const { path, line, text, context: isContext } = lines[i]!;
    const previous = lines[i - 1];
    if (context > 0 && previous && (previous.path !== path || previous.line !== line - 1)) out.push("--");
    out.push(`${path}${isContext ? "-" : ":"}${line}${isContext ? "-" : ":"}${text}`);
  }
  return out.join("\n");
}

export const searchFiles = defineTool({
  name: "search_files",
  title: "Search files",
  description:
    "Find files below a folder whose name matches a glob, optionally whose text matches a regular expression. Returns JSON {matches, count} with paths relative to the folder; skips .git and node_modules, and inside a git work tree what .gitignore ignores; stops at max_results and says so. With content and show_lines, answers the matching lines as grep does (path:line:text, context lines with context_lines).",
  input,
  output,
  annotations: readOnly,
  async run(args, { workspace, signal, progress }) {
    let regex: RegExp | undefined;
    if (args.show_lines && args.content === undefined) throw new ToolError("show_lines needs content: the regular expression whose lines to show.");
    if (args.context_lines > 0 && !args.show_lines) throw new ToolError("context_lines applies to the lines shown: set show_lines to true (with content).");
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
  const top = gitTop(folder.path);
  const within = (real: string) => rootContaining(workspace.roots, real) !== undefined;
  const respect = args.respect_gitignore ?? top !== undefined;
  const lines = regex && args.show_lines ? { context: args.context_lines, budget: LINE_BUDGET, maxChars: MAX_LINE_CHARS } : undefined;
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
          ...(lines ? { lines } : {}),
        },
        { signal, progress: (searched, total) => progress(searched, total, total === undefined ? `${searched} files searched` : `${searched} of ${total} files searched`) },
      )
    : undefined;
  // The walk visits in tree order, so the first `limit` matches are the same on every call.
  const found: string[] = [];
  let truncated = false;
  let batch: string[] = [];
  const handedOver: Promise<void>[] = [];
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
      {
        maxDepth: Number.POSITIVE_INFINITY,
        includeHidden: args.include_hidden,
        skipDirs: DEFAULT_SKIP_DIRS,
        prune: excluded,
        signal,
        open: folder.openBelow,
        select,
        ...(respect ? { rules: gitignoreRules(ignoredAbove(folder.path, top, within), within) } : {}),
      },
      (parent, name) => {
        const rel = joinRelative(parent, name);
        if (content) {
          batch.push(rel);
          if (batch.length < BATCH) return;
          handedOver.push(content.add(batch));
          batch = [];
          // The workers search while the walk goes on, up to AHEAD batches ahead of them.
          if (handedOver.length <= AHEAD) return;
          return handedOver.shift()!.then(() => (content.ended() ? false : undefined));
        }
        if (found.length === limit) {
          truncated = true;
          return false;
        }
        found.push(rel);
      },
    );
  } finally {
    // Ends the content search whatever happened, so its workers are not left waiting.
    outcome = content?.finish(content.ended() ? [] : batch);
  }
  if (walked.cancelled) throw new ToolError("Cancelled.");
  let shown: ShownLines | undefined;
  let binary = 0;
  if (outcome) {
    const searched = await outcome;
    if (!searched.ok) throw new ToolError(searched.error);
    for (const m of searched.matches) found.push(m);
    truncated = searched.truncated;
    if (lines) {
      shown = shownLines(searched.matches, searched.files ?? [], LINE_BUDGET);
      binary = searched.binary ?? 0;
    }
  }
  const limitNote = truncated && `Stopped at ${limit} matches; narrow the pattern or folder to see the rest.`;
  if (!shown) {
    const data = { matches: found, count: found.length, truncated, path: folder.shown };
    return { text: JSON.stringify({ matches: found, count: found.length, truncated }), data, note: notes(limitNote, unreadableNote(walked.unreadable)) };
  }
  const data = {
    matches: found,
    count: found.length,
    truncated,
    path: folder.shown,
    lines: shown.lines,
    lines_truncated: shown.cut,
    lines_not_shown: shown.linesNotShown,
    files_not_shown: shown.filesNotShown,
    binary_skipped: binary,
  };
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const note = notes(
    shown.cut &&
      `The lines stop at the ${LINE_BUDGET / 1024} KiB budget: ${plural(shown.linesNotShown, "more matching line")} not shown${shown.filesNotShown > 0 ? `, ${plural(shown.filesNotShown, "file")} with none shown` : ""}; narrow the folder, pattern or content, or read a file with read_file.`,
    limitNote,
    binary > 0 && `${plural(binary, "file")} that match${binary === 1 ? "es" : ""} look${binary === 1 ? "s" : ""} binary (a NUL byte in the first 8 KiB, or the signature of an image, archive or executable) and ${binary === 1 ? "is" : "are"} left out.`,
    unreadableNote(walked.unreadable),
  );
  const text = shown.lines.length > 0 ? grepText(shown.lines, args.context_lines) : found.length > 0 ? "No lines to show." : "No matches.";
  return { text, data, note };
}
