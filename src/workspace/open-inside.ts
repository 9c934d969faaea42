// The path gate by descriptor: read_file, write_file, list_directory and file:/// resources
// open what they use here, so nothing can swap a folder for a symlink between the check
// and the use. Platform guarantees (also in the README):
//   Linux ≥ 5.6          openat2 RESOLVE_BENEATH: the kernel confines each open; no race.
//   older Linux, seccomp an openat walk with O_NOFOLLOW, one component at a time; no race.
//   macOS, Windows       the realpath check, then an open by path: a race remains possible.
// On Linux node:fs then works through /proc/self/fd/N, which is exactly the folder opened.
// Refusals are worded by the realpath check (resolve.ts), so messages do not depend on the guard.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, statSync, type Stats } from "node:fs";
import { basename, dirname, relative } from "node:path";
import { type Beneath, fdPath, guards, O_DIRECTORY, O_NOCTTY, O_NONBLOCK, O_PATH, type Opened } from "./beneath.ts";
import type { FolderRef, OpenFolder } from "./walk.ts";
import { absolutePath, accessDenied, displayPath, resolveFolder, resolveInsideRoots, rootContaining, type Workspace } from "./resolve.ts";

/** A refusal to show as is; `code` and `path` (the real path) when the file system said no to a path inside. */
export type Refused = { ok: false; error: string; code?: string; path?: string };
export type OpenedFile = { ok: true; fd: number; path: string; root: string };
/** A folder open for listing: `ref` reaches it with node:fs until close(); openBelow opens a folder under it. */
export type OpenedFolder = {
  ok: true;
  path: string;
  shown: string;
  ref: string;
  openBelow: OpenFolder;
  /** The size of an entry of a folder open now, not following a symlink; undefined when it is gone. */
  sizeOf(folder: FolderRef, name: string): number | undefined;
  close(): void;
};
/** Where a file is written: `name` inside the folder `dir` (a path node:fs can use until close()). */
export type WritePlace = { ok: true; dir: string; name: string; path: string; root: string; close(): void };

const READ_FLAGS = O_NONBLOCK | O_NOCTTY; // O_RDONLY; a FIFO must not block the open
const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EISDIR: "it is a directory",
  ENOTDIR: "a parent in the path is a file, not a folder",
  EDQUOT: "disk quota exceeded",
  ENXIO: "it is a socket or a device with nothing behind it",
  ELOOP: "a symlink is in the way",
  EMFILE: "the server has too many files open",
  ENFILE: "the system has too many files open",
};

/** What a file-system error code means, in words. */
export const reasonFor = (code: string | undefined) => REASONS[code ?? ""] ?? `error ${code ?? "unknown"}`;

async function guardFor(workspace: Workspace): Promise<Beneath | undefined> {
  if (workspace.confine === "realpath") return undefined;
  const offered = await guards();
  return workspace.confine === "openat" ? offered.openat : (offered.openat2 ?? offered.openat);
}

/**
 * Opens `rel` beneath the root folder; the root's descriptor lives only for this call.
 * Without symlinks first: most paths hold none, and then the path given is the real one,
 * with no need to ask /proc for it (7 µs, more than the open). `followed` says it was not so.
 */
function openUnder(beneath: Beneath, root: string, rel: string, flags: number, followSymlinks: boolean): Opened & { followed?: boolean } {
  const top = beneath.openFolder(root);
  if (!top.ok) return top;
  try {
    const plain = beneath.openAt(top.fd, rel, flags, true);
    if (plain.ok || plain.code !== "ELOOP" || !followSymlinks) return plain;
    return { ...beneath.openAt(top.fd, rel, flags, false), followed: true };
  } finally {
    closeSync(top.fd);
  }
}

/** The real path of what `fd` has open, as the kernel names it. */
function pathOf(fd: number, fallback: string): string {
  try {
    return readlinkSync(fdPath(fd)).replace(/ \(deleted\)$/, "");
  } catch {
    return fallback;
  }
}

const SWAPPED = "changed while it was being opened (a folder on the way was swapped for a symlink)";
const WORDED = new Set(["EXDEV", "ELOOP", "ENOENT", "ENOTDIR"]);

/**
 * Opens the path beneath the root that holds it. An escape (EXDEV), a symlink refused
 * (ELOOP) or a missing file is then looked at by the realpath check: it words the refusal,
 * or it finds the path fine after all (an absolute symlink that stays inside, a symlink into
 * another root) and its real path is opened instead, once, still beneath a root.
 */
async function openBeneath(workspace: Workspace, beneath: Beneath, input: unknown, flags: number): Promise<OpenedFile | Refused> {
  const lexical = absolutePath(workspace, input);
  if (!lexical.ok) return lexical;
  let root = rootContaining(workspace.roots, lexical.absolute);
  let target = lexical.absolute;
  let follow = workspace.followSymlinks;
  for (let attempt = 0; ; attempt++) {
    if (root) {
      const opened = openUnder(beneath, root, relative(root, target), flags, follow);
      if (opened.ok) return { ok: true, fd: opened.fd, root, path: opened.followed ? pathOf(opened.fd, target) : target };
      if (!WORDED.has(opened.code)) return { ok: false, code: opened.code, path: target, error: `Cannot open ${displayPath(workspace, target)}: ${reasonFor(opened.code)}.` };
    }
    const checked = await resolveInsideRoots(workspace, input);
    if (!checked.ok) return checked;
    if (!checked.exists) return { ok: false, code: "ENOENT", path: checked.path, error: `${displayPath(workspace, checked.path)} does not exist.` };
    if (attempt > 0) return { ok: false, error: accessDenied(workspace, lexical.text, SWAPPED) };
    root = checked.root;
    target = checked.path;
    follow = false; // a real path has no symlink; one appearing now is a swap
  }
}

/** Opens a file for reading; on macOS and Windows after the realpath check (a race remains there). */
export async function openFileInsideRoots(workspace: Workspace, input: unknown): Promise<OpenedFile | Refused> {
  const beneath = await guardFor(workspace);
  if (beneath) return openBeneath(workspace, beneath, input, READ_FLAGS);
  const checked = await resolveInsideRoots(workspace, input);
  if (!checked.ok) return checked;
  if (!checked.exists) return { ok: false, code: "ENOENT", path: checked.path, error: `${displayPath(workspace, checked.path)} does not exist.` };
  try {
    return { ok: true, fd: openSync(checked.path, READ_FLAGS), path: checked.path, root: checked.root };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, code, path: checked.path, error: `Cannot open ${displayPath(workspace, checked.path)}: ${reasonFor(code)}.` };
  }
}

/** An existing folder inside the roots, open for listing. The caller says what to tell a person who named a missing folder or a file. */
export async function openFolderInsideRoots(
  workspace: Workspace,
  input: unknown,
  say: { missing(shown: string): string; file(shown: string): string },
): Promise<OpenedFolder | Refused> {
  const beneath = await guardFor(workspace);
  if (!beneath) {
    const folder = await resolveFolder(workspace, input, say);
    if (!folder.ok) return folder;
    return {
      ...folder,
      ref: folder.path,
      openBelow: (rel) => ({ path: rel ? `${folder.path}/${rel}` : folder.path, close() {} }),
      // A folder that can be read but not entered (EACCES) lists its names without sizes.
      sizeOf(where, name) {
        try {
          return lstatSync(`${where.path}/${name}`, { throwIfNoEntry: false })?.size;
        } catch {
          return undefined;
        }
      },
      close() {},
    };
  }
  const opened = await openBeneath(workspace, beneath, input, O_PATH);
  if (!opened.ok) return opened.code === "ENOENT" ? { ok: false, error: say.missing(displayPath(workspace, opened.path!)) } : opened;
  const { fd, path } = opened;
  const shown = displayPath(workspace, path);
  if (!fstatSync(fd).isDirectory()) {
    closeSync(fd);
    return { ok: false, error: say.file(shown) };
  }
  return {
    ok: true,
    path,
    shown,
    ref: fdPath(fd),
    // Below the listed folder only real folders are entered: a symlink found there now was swapped in.
    openBelow(rel) {
      if (rel === "") return { path: fdPath(fd), fd, close() {} };
      const sub = beneath.openAt(fd, rel, O_PATH | O_DIRECTORY, true);
      return sub.ok ? { path: fdPath(sub.fd), fd: sub.fd, close: () => closeSync(sub.fd) } : undefined;
    },
    sizeOf: (where, name) => (where.fd === undefined ? undefined : beneath.sizeAt(where.fd, name)),
    close: () => closeSync(fd),
  };
}

/**
 * The folder a file is written into, open, and the file's name in it. A symlink to a file
 * inside is written through, as the realpath check always did: its target's folder is opened.
 * With createDirs, missing folders are made one at a time, each beneath the one before.
 */
export async function openParentInsideRoots(workspace: Workspace, input: unknown, createDirs: boolean): Promise<WritePlace | Refused> {
  const lexical = absolutePath(workspace, input);
  if (!lexical.ok) return lexical;
  const beneath = await guardFor(workspace);
  let path: string;
  let root: string;
  if (beneath) {
    const target = await openBeneath(workspace, beneath, input, O_PATH);
    if (target.ok) {
      closeSync(target.fd);
      ({ path, root } = target);
    } else if (target.code === "ENOENT" && target.path && rootContaining(workspace.roots, target.path)) {
      path = target.path;
      root = rootContaining(workspace.roots, path)!;
    } else return target;
  } else {
    const checked = await resolveInsideRoots(workspace, input);
    if (!checked.ok) return checked;
    ({ path, root } = checked);
  }
  if (path === root) return { ok: false, error: `${displayPath(workspace, path)} is the workspace root folder, not a file.` };
  const parent = dirname(path);
  const name = basename(path);
  if (!beneath) {
    const info = statOrNotDir(parent);
    if (info === "notdir") return { ok: false, error: `A folder on the way to ${displayPath(workspace, parent)} is a file.` };
    if (info && !info.isDirectory()) return { ok: false, error: `${displayPath(workspace, parent)} is a file, not a folder.` };
    if (!info) {
      if (!createDirs) return { ok: false, error: missingFolder(workspace, parent) };
      try {
        mkdirSync(parent, { recursive: true });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return { ok: false, code, path, error: `Cannot create ${displayPath(workspace, parent)}: ${reasonFor(code)}.` };
      }
    }
    return { ok: true, dir: parent, name, path, root, close() {} };
  }
  const folder = createDirs ? openOrMakeFolders(beneath, root, relative(root, parent)) : openUnder(beneath, root, relative(root, parent), O_PATH | O_DIRECTORY, false);
  if (folder.ok) return { ok: true, dir: fdPath(folder.fd), name, path, root, close: () => closeSync(folder.fd) };
  if (folder.code === "ELOOP" || folder.code === "EXDEV") {
    return { ok: false, error: accessDenied(workspace, lexical.text, SWAPPED) };
  }
  // Which part is not a folder is only worded here; nothing is opened by this path.
  const info = statOrNotDir(parent);
  if (info === "notdir") return { ok: false, error: `A folder on the way to ${displayPath(workspace, parent)} is a file.` };
  if (info && !info.isDirectory()) return { ok: false, error: `${displayPath(workspace, parent)} is a file, not a folder.` };
  if (!createDirs && (folder.code === "ENOENT" || folder.code === "ENOTDIR")) return { ok: false, error: missingFolder(workspace, parent) };
  return { ok: false, code: folder.code, path, error: `Cannot open ${displayPath(workspace, parent)}: ${reasonFor(folder.code)}.` };
}

/** stat that says "notdir" when a parent on the way is a file (statSync throws ENOTDIR even with throwIfNoEntry: false). */
function statOrNotDir(path: string): Stats | undefined | "notdir" {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return "notdir";
    throw error;
  }
}

const missingFolder = (workspace: Workspace, folder: string) => `Folder ${displayPath(workspace, folder)} does not exist. Set create_dirs to true to create it.`;

/** Opens `rel` beneath the root, making each missing folder with mkdir beneath the one before it. */
function openOrMakeFolders(beneath: Beneath, root: string, rel: string): Opened {
  const top = beneath.openFolder(root);
  if (!top.ok) return top;
  let fd = top.fd;
  try {
    for (const name of rel.split("/").filter(Boolean)) {
      let next = beneath.openAt(fd, name, O_PATH | O_DIRECTORY, true);
      if (!next.ok && next.code === "ENOENT") {
        try {
          mkdirSync(`${fdPath(fd)}/${name}`);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "EIO";
          if (code !== "EEXIST") return { ok: false, code };
        }
        next = beneath.openAt(fd, name, O_PATH | O_DIRECTORY, true);
      }
      if (!next.ok) return next;
      closeSync(fd);
      fd = next.fd;
    }
    const done: Opened = { ok: true, fd };
    fd = -1;
    return done;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * A file with more than one hard link may be the same file as one outside every root (a
 * link made inside to a file outside): it is not read, nor changed in place, unless
 * workspace.allow_hardlinks. Checked on the open descriptor, so a swap cannot dodge it.
 */
export function hardLinkRefusal(workspace: Workspace, info: Stats, shown: string, verb: string): string | undefined {
  if (workspace.allowHardlinks || !info.isFile() || info.nlink <= 1) return undefined;
  return `${shown} has ${info.nlink} hard links; one may be a file outside the workspace, so it is not ${verb}. Set workspace.allow_hardlinks: true to allow it.`;
}
