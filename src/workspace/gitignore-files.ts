// The .gitignore rules of a searched folder, read from disk for the walk (the matcher itself,
// pure, is gitignore.ts): the work tree's top, its info/exclude, the .gitignore files above
// the folder and, as the walk goes down, each folder's own.
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readSync, realpathSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { folderMatcher, folderScope, type IgnorePattern, type IgnoreScope, parseGitignore } from "./gitignore.ts";
import { type FolderRules, joinRelative, type RulesFor } from "./walk.ts";

/** The work tree's top: the nearest folder at or above `folder` holding a .git (a folder, or a file for worktrees and submodules). */
export function gitTop(folder: string): string | undefined {
  for (let dir = folder; ; dir = dirname(dir)) {
    try {
      if (lstatSync(join(dir, ".git"), { throwIfNoEntry: false })) return dir;
    } catch {
      // not searchable: look further up
    }
    if (dir === dirname(dir)) return undefined;
  }
}

const IGNORE_FILE_MAX = 1024 * 1024;

/**
 * A small text file, or undefined. Never through a symlink (git does not follow a symlinked
 * .gitignore either); a FIFO must not block the open.
 */
function readSmallFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    // A hard link could be any file of the machine: its lines would become patterns, and
    // what they hide would tell its contents.
    if (!info.isFile() || info.size > IGNORE_FILE_MAX || info.nlink > 1) return undefined;
    const bytes = Buffer.allocUnsafe(info.size);
    let done = 0;
    while (done < info.size) {
      const n = readSync(fd, bytes, done, info.size - done, done);
      if (n === 0) break;
      done += n;
    }
    return bytes.toString("utf8", 0, done);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Whether a real path lies inside the workspace (the search passes its roots' test). */
export type Within = (realPath: string) => boolean;

const realOrNone = (path: string): string | undefined => {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
};

/**
 * The patterns of info/exclude of the repository whose work tree starts at `top` (a .git file
 * names where its git folder is). A .git inside the workspace is the workspace's to write: a
 * planted `gitdir:` (or a symlinked .git) pointing outside it is not followed, or the files it
 * hides would tell what some folder outside holds.
 */
function excludePatterns(top: string, within: Within): IgnorePattern[] {
  const realTop = realOrNone(top);
  if (realTop === undefined) return [];
  const dotGit = join(realTop, ".git");
  let gitDir = dotGit;
  const pointer = readSmallFile(dotGit);
  if (pointer !== undefined) {
    const named = /^gitdir: *(.+?)\s*$/m.exec(pointer)?.[1];
    if (!named) return [];
    gitDir = resolve(realTop, named);
    // A linked worktree keeps info/ in the main repository's git folder.
    const common = readSmallFile(join(gitDir, "commondir"))?.trim();
    if (common) gitDir = resolve(gitDir, common);
  }
  const exclude = realOrNone(join(gitDir, "info", "exclude"));
  if (exclude === undefined || (within(realTop) && !within(exclude))) return [];
  return parseGitignore(readSmallFile(exclude) ?? "");
}
/**
 * What is in force at the searched folder before its own .gitignore: info/exclude and the
 * .gitignore files from the top of the work tree down to its parent (they may lie outside
 * the workspace: they are part of the repository the folder is in).
 */
export function ignoredAbove(folder: string, top: string | undefined, within: Within): IgnoreScope {
  if (top === undefined) return { patterns: [], path: "" };
  const patterns = excludePatterns(top, within);
  const path = relative(top, folder).split(sep).join("/");
  let dir = top;
  let base = "";
  for (const part of path === "" ? [] : path.split("/")) {
    const own = readSmallFile(join(dir, ".gitignore"));
    if (own !== undefined) patterns.push(...parseGitignore(own, base));
    dir = join(dir, part);
    base += `${part}/`;
  }
  return { patterns, path };
}

type GitRules = FolderRules & { scope: IgnoreScope };

/** The walk's rules for .gitignore: each folder's own file added to what it inherits; a folder holding a .git starts afresh. */
export function gitignoreRules(above: IgnoreScope, within: Within): RulesFor {
  return (parent, rel, folder, names) => {
    const own = names.includes(".gitignore") ? readSmallFile(`${folder.path}/.gitignore`) : undefined;
    let scope: IgnoreScope;
    if (!parent) scope = folderScope(above.patterns, above.path, own);
    else if (names.includes(".git")) scope = folderScope(excludePatterns(folder.path, within), "", own);
    else {
      const inherited = (parent as GitRules).scope;
      const name = rel.slice(rel.lastIndexOf("/") + 1);
      scope = folderScope(inherited.patterns, joinRelative(inherited.path, name), own);
    }
    const ignored = folderMatcher(scope.patterns, scope.path);
    return { scope, skips: (name, isDir) => name === ".git" || ignored(name, isDir) } satisfies GitRules;
  };
}
