// The one gate every path argument passes through. A path is accepted only when its real
// location (after resolving symlinks of the longest existing prefix) lies inside a root.
// This check alone can be raced (a folder swapped for a symlink between the check and the
// use): the tools that read, write and list open through open-inside.ts, which confines the
// open itself on Linux and uses this check to word refusals and on other systems.
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

export type Workspace = {
  /** real, absolute paths; the first one is where relative paths start */
  roots: string[];
  readOnly: boolean;
  maxReadBytes: number;
  maxWriteBytes: number;
  maxResults: number;
  followSymlinks: boolean;
  /** a file with several hard links may be the same file as one outside the roots */
  allowHardlinks: boolean;
  /**
   * How opens are confined (open-inside.ts): unset, the strongest this machine offers.
   * Tests pin a weaker one to cover the fallbacks.
   */
  confine?: Confinement;
  /** explicit roots (--root, config) are a ceiling the client's roots can only narrow */
  explicit: boolean;
  /** why these roots: what `status://health` and `info` show */
  why: string;
  /** set when there are no roots: the sentence every path tool answers, with the fix */
  unavailable?: string;
};

/** openat2 beneath the root (Linux ≥ 5.6), an openat walk (older Linux), or the realpath check alone. */
export type Confinement = "openat2" | "openat" | "realpath";

export type Resolved = { ok: true; path: string; root: string; exists: boolean } | { ok: false; error: string };

export const MAX_PATH_LENGTH = 4096;

/** Pure: is `candidate` (absolute, normalized) equal to or below `root`? `/x/app2` is not below `/x/app`. */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const withSep = root.endsWith(sep) ? root : root + sep;
  return candidate.startsWith(withSep);
}

export function rootContaining(roots: string[], candidate: string): string | undefined {
  return roots.find((root) => isInside(root, candidate));
}

/** Pure checks on the text of the argument, before touching the file system. */
export function checkPathText(input: unknown): string | undefined {
  if (typeof input !== "string") return `path must be a string, got ${input === null ? "null" : typeof input}`;
  if (input.includes("\0")) return "path contains a NUL byte";
  if (input.length > MAX_PATH_LENGTH) return `path is ${input.length} characters long; at most ${MAX_PATH_LENGTH} are accepted`;
  return undefined;
}

/** realpath of the longest prefix that exists, with the rest appended (the rest cannot hold symlinks: it does not exist). */
export async function realpathOfLongestPrefix(absolute: string): Promise<{ real: string; exists: boolean }> {
  let head = absolute;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = await realpath(head);
      return { real: tail.length ? join(real, ...tail.reverse()) : real, exists: tail.length === 0 };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      const parent = dirname(head);
      if (parent === head) return { real: absolute, exists: false };
      tail.push(basename(head));
      head = parent;
    }
  }
}

function describeRoots(roots: string[]) {
  return roots.length === 1 ? `the workspace root ${roots[0]}` : `the workspace roots ${roots.join(", ")}`;
}

/** The argument as an absolute, normalized path (relative ones start at the first root); nothing is touched yet. */
export function absolutePath(workspace: Workspace, input: unknown): { ok: true; text: string; absolute: string } | { ok: false; error: string } {
  const textProblem = checkPathText(input);
  if (textProblem) return { ok: false, error: `Invalid path: ${textProblem}.` };
  const text = (input as string).trim() === "" ? "." : (input as string);
  const first = workspace.roots[0];
  if (!first) return { ok: false, error: workspace.unavailable ?? "No workspace root is available; start the server with --root DIR." };
  return { ok: true, text, absolute: isAbsolute(text) ? resolve(text) : resolve(first, text) };
}

export function accessDenied(workspace: Workspace, text: string, why: string): string {
  return `Access denied: ${JSON.stringify(text)} ${why}; paths must stay inside ${describeRoots(workspace.roots)}.`;
}

export async function resolveInsideRoots(workspace: Workspace, input: unknown): Promise<Resolved> {
  const path = absolutePath(workspace, input);
  if (!path.ok) return path;
  const { text, absolute } = path;
  const refuse = (why: string): Resolved => ({ ok: false, error: accessDenied(workspace, text, why) });
  let real: { real: string; exists: boolean };
  try {
    real = await realpathOfLongestPrefix(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(code === "ELOOP" ? "is a symlink loop" : `cannot be resolved (${code ?? "error"})`);
  }
  const root = rootContaining(workspace.roots, real.real);
  if (!root) return refuse(rootContaining(workspace.roots, absolute) ? `leads outside the workspace through a symlink (to ${real.real})` : "is outside the workspace");
  if (!workspace.followSymlinks && real.real !== absolute) return refuse("goes through a symlink and workspace.follow_symlinks is false");
  return { ok: true, path: real.real, root, exists: real.exists };
}

/** How a resolved path is shown back to the model: relative to its root when that is shorter. */
export function displayPath(workspace: Workspace, absolute: string): string {
  const first = workspace.roots[0];
  return first && isInside(first, absolute) ? relative(first, absolute) || "." : absolute;
}

export type Folder = { ok: true; path: string; shown: string } | { ok: false; error: string };

/**
 * A path that must be an existing folder inside the roots (list, search, a command's
 * working_dir). The caller says what to tell a person who named a missing folder or a file.
 */
export async function resolveFolder(workspace: Workspace, input: unknown, say: { missing(shown: string): string; file(shown: string): string }): Promise<Folder> {
  const resolved = await resolveInsideRoots(workspace, input);
  if (!resolved.ok) return resolved;
  const shown = displayPath(workspace, resolved.path);
  if (!resolved.exists) return { ok: false, error: say.missing(shown) };
  if (!(await stat(resolved.path)).isDirectory()) return { ok: false, error: say.file(shown) };
  return { ok: true, path: resolved.path, shown };
}
