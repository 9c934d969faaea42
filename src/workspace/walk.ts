// A bounded, cancellable, depth-first walk of a folder. It never follows symlinked folders
// (so cycles cannot happen) and yields to the event loop now and then so a big tree does
// not block pings or cancellation.
import { type Dirent, readdirSync } from "node:fs";
import { join } from "node:path";

export type EntryType = "file" | "directory" | "symlink" | "other";
export type WalkEntry = { path: string; name: string; type: EntryType; absolute: string; depth: number };
export type WalkOptions = {
  /** 1 lists only the folder itself; Infinity walks everything */
  maxDepth: number;
  includeHidden: boolean;
  /** folder names listed but not descended into */
  skipDirs: ReadonlySet<string>;
  /** folders (by relative path and name) not descended into */
  prune?: (path: string, name: string) => boolean;
  signal?: AbortSignal;
};

export const DEFAULT_SKIP_DIRS: ReadonlySet<string> = new Set([".git", "node_modules", ".hg", ".svn"]);
const YIELD_EVERY = 64;

export function entryType(d: Dirent): EntryType {
  return d.isFile() ? "file" : d.isDirectory() ? "directory" : d.isSymbolicLink() ? "symlink" : "other";
}

const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Entries in path order. A folder that cannot be read is skipped, and counted in `unreadable`. */
export async function* walk(root: string, opts: WalkOptions, unreadable = { count: 0 }): AsyncGenerator<WalkEntry> {
  // An explicit stack keeps memory proportional to depth × width, not the tree.
  const stack: { dir: string; rel: string; depth: number; entries: Dirent[]; i: number }[] = [];
  const push = (dir: string, rel: string, depth: number) => {
    try {
      const entries = readdirSync(dir, { withFileTypes: true }).sort(byName);
      stack.push({ dir, rel, depth, entries, i: 0 });
    } catch {
      unreadable.count++;
    }
  };
  push(root, "", 1);
  let dirsRead = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const d = top.entries[top.i++];
    if (!d) {
      stack.pop();
      continue;
    }
    if (!opts.includeHidden && d.name.startsWith(".")) continue;
    const type = entryType(d);
    const path = top.rel ? `${top.rel}/${d.name}` : d.name;
    const absolute = join(top.dir, d.name);
    yield { path, name: d.name, type, absolute, depth: top.depth };
    if (type === "directory" && top.depth < opts.maxDepth && !opts.skipDirs.has(d.name) && !opts.prune?.(path, d.name)) {
      push(absolute, path, top.depth + 1);
      if (++dirsRead % YIELD_EVERY === 0) {
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) return;
      }
    }
  }
}
