// Opening a path beneath a folder descriptor, so that neither "..", nor a symlink, nor a
// folder swapped for a symlink half-way through can lead out of it. Linux only.
//
// - openat2(2) with RESOLVE_BENEATH (Linux ≥ 5.6): the kernel checks every step of the walk,
//   atomically with the open. Symlinks that stay beneath are followed; absolute ones and
//   any that leave give EXDEV.
// - Where openat2 is missing (ENOSYS before 5.6, or a seccomp filter answering EPERM) the
//   same walk is done here, one component at a time with openat(…, O_NOFOLLOW), following
//   relative symlinks by their text and refusing absolute ones: the same results, a few
//   more system calls.
//
// bun:ffi is loaded on first use and only on Linux; node:fs then works on what was opened
// through /proc/self/fd/N, which the kernel resolves to exactly the object opened.
import { closeSync, fstatSync, lstatSync, readlinkSync } from "node:fs";
import { constants as fsc } from "node:fs";
import { constants as osc } from "node:os";

export type Opened = { ok: true; fd: number } | { ok: false; code: string };
export type Guard = "openat2" | "openat";

export type Beneath = {
  guard: Guard;
  /** Opens `rel` (relative, "/"-separated) beneath the folder open as `dirfd`; flags as for open(2), O_CLOEXEC added. */
  openAt(dirfd: number, rel: string, flags: number, noSymlinks: boolean): Opened;
  /** Opens an absolute folder (a root) as an O_PATH descriptor. */
  openFolder(path: string): Opened;
  /** The size of `name` in the folder `dirfd`, not following a symlink; undefined when it is gone. */
  sizeAt(dirfd: number, name: string): number | undefined;
};

/** The guards this machine offers, strongest first: empty off Linux or where bun:ffi or /proc is missing. */
export type Guards = Partial<Record<Guard, Beneath>>;

// The same on x86_64 and aarch64 (the only architectures these guards run on); node:fs has
// no constant for either.
export const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
export const O_DIRECTORY = fsc.O_DIRECTORY ?? 0;
export const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
export const O_NONBLOCK = fsc.O_NONBLOCK ?? 0;
export const O_NOCTTY = fsc.O_NOCTTY ?? 0;
const AT_FDCWD = -100;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const SYS_OPENAT2: Partial<Record<string, number>> = { x64: 437, arm64: 437 };
const SYS_STATX: Partial<Record<string, number>> = { x64: 332, arm64: 291 };
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_SIZE = 0x200;
const STX_SIZE_OFFSET = 40;
const MAX_SYMLINKS = 40; // the kernel's own limit

/** The path node:fs can use to reach what `fd` has open. */
export const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

const errnoNames = new Map(Object.entries(osc.errno).map(([name, n]) => [n, name]));
const fail = (code: string): Opened => ({ ok: false, code });
const cString = (text: string) => Buffer.from(`${text}\0`);

type Libc = {
  openat(dirfd: number, path: Buffer, flags: number, mode: number): number;
  openat2?(dirfd: number, path: Buffer, how: BigUint64Array): number;
  statx?(dirfd: number, path: Buffer, flags: number, mask: number, into: BigUint64Array): number;
  errno(): string;
};

async function loadLibc(): Promise<Libc | undefined> {
  const ffi = await import("bun:ffi");
  const { FFIType } = ffi;
  const symbols = {
    openat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    // syscall(2) is variadic; on x86_64 and aarch64 Linux variadic integer and pointer
    // arguments travel in the same registers as fixed ones, so one fixed signature serves both calls.
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  } as const;
  for (const name of ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"]) {
    let lib: ReturnType<typeof ffi.dlopen<typeof symbols>>;
    try {
      lib = ffi.dlopen(name, symbols);
    } catch {
      continue;
    }
    const s = lib.symbols;
    const openat2 = SYS_OPENAT2[process.arch];
    const statx = SYS_STATX[process.arch];
    // errno is read right after the failed call, before anything else can run on this thread.
    const errno = () => errnoNames.get(ffi.read.i32(s.__errno_location()!, 0)) ?? "EIO";
    return {
      openat: (dirfd, path, flags, mode) => s.openat(dirfd, path, flags, mode),
      openat2: openat2 === undefined ? undefined : (dirfd, path, how) => s.syscall(openat2, dirfd, path, ffi.ptr(how), 24, null),
      statx: statx === undefined ? undefined : (dirfd, path, flags, mask, into) => s.syscall(statx, dirfd, path, flags, mask, into),
      errno,
    };
  }
  return undefined;
}

/** statx(2) on the folder's descriptor: a third of an lstat through /proc/self/fd/N/name. */
function sizeAtFor(libc: Libc): Beneath["sizeAt"] {
  const { statx } = libc;
  const byPath = (dirfd: number, name: string) => {
    try {
      return lstatSync(`${fdPath(dirfd)}/${name}`).size;
    } catch {
      return undefined;
    }
  };
  if (!statx) return byPath;
  return (dirfd, name) => {
    const into = new BigUint64Array(32); // struct statx is 256 bytes
    if (statx(dirfd, cString(name), AT_SYMLINK_NOFOLLOW, STATX_SIZE, into) === 0) return Number(into[STX_SIZE_OFFSET / 8]);
    return libc.errno() === "ENOSYS" ? byPath(dirfd, name) : undefined;
  };
}

function viaOpenat2(libc: Libc): Beneath {
  const openat2 = libc.openat2!;
  const open = (dirfd: number, path: string, flags: number, resolve: number): Opened => {
    const how = new BigUint64Array([BigInt(flags | O_CLOEXEC), 0n, BigInt(resolve)]);
    const name = cString(path || ".");
    // EAGAIN: a rename elsewhere raced a ".." step; the kernel asks for another try.
    for (let tries = 0; ; tries++) {
      const fd = openat2(dirfd, name, how);
      if (fd >= 0) return { ok: true, fd };
      const code = libc.errno();
      if (code !== "EAGAIN" || tries === 8) return fail(code);
    }
  };
  return {
    guard: "openat2",
    openAt: (dirfd, rel, flags, noSymlinks) => open(dirfd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (noSymlinks ? RESOLVE_NO_SYMLINKS : 0)),
    openFolder: (path) => open(AT_FDCWD, path, O_PATH | O_DIRECTORY, 0),
    sizeAt: sizeAtFor(libc),
  };
}

function viaOpenat(libc: Libc): Beneath {
  const openat = (dirfd: number, name: string, flags: number): Opened => {
    const fd = libc.openat(dirfd, cString(name), flags | O_CLOEXEC, 0);
    return fd >= 0 ? { ok: true, fd } : fail(libc.errno());
  };
  return {
    guard: "openat",
    openFolder: (path) => openat(AT_FDCWD, path, O_PATH | O_DIRECTORY),
    sizeAt: sizeAtFor(libc),
    openAt(dirfd, rel, flags, noSymlinks) {
      // What is left to walk, next component last; folders opened on the way, innermost last.
      const todo = components(rel).reverse();
      const held: number[] = [];
      const here = () => held.at(-1) ?? dirfd;
      let links = 0;
      try {
        if (todo.length === 0) return openat(dirfd, ".", flags);
        while (todo.length > 0) {
          const name = todo.pop()!;
          const last = todo.length === 0;
          if (name === "..") {
            // ".." comes only from a symlink's text; above the starting folder is outside.
            if (held.length === 0) return fail("EXDEV");
            closeSync(held.pop()!);
            if (last) return openat(here(), ".", flags);
            continue;
          }
          const opened = openat(here(), name, (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW);
          if (opened.ok) {
            // O_PATH | O_NOFOLLOW opens a symlink itself instead of failing on it.
            if (!(last && flags & O_PATH && fstatSync(opened.fd).isSymbolicLink())) {
              if (last) return opened;
              held.push(opened.fd);
              continue;
            }
            closeSync(opened.fd);
          } else if (opened.code !== "ELOOP" && opened.code !== "ENOTDIR") return opened;
          // The component is a symlink (ELOOP, or ENOTDIR for O_DIRECTORY), or not a folder at all.
          let target: string;
          try {
            target = readlinkSync(`${fdPath(here())}/${name}`);
          } catch {
            return opened.ok ? fail("ENOTDIR") : opened;
          }
          if (noSymlinks || ++links > MAX_SYMLINKS) return fail("ELOOP");
          if (target.startsWith("/")) return fail("EXDEV");
          const more = components(target);
          todo.push(...(more.length > 0 ? more : ["."]).reverse());
        }
        return fail("ENOENT");
      } finally {
        for (const fd of held) closeSync(fd);
      }
    },
  };
}

/** Path components without empty ones and "."; ".." is kept (symlink texts may hold it). */
function components(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

/**
 * What this machine offers, found once per process (a kernel does not change under a running
 * server). Each guard is tried on "/" before it is offered; /proc must show what was opened.
 */
export async function probeGuards(): Promise<Guards> {
  // The flag values and system call numbers here are those of x86_64 and aarch64, the Linux
  // architectures Bun builds for; elsewhere the realpath check alone stands.
  if (process.platform !== "linux" || SYS_OPENAT2[process.arch] === undefined) return {};
  let libc: Libc | undefined;
  try {
    libc = await loadLibc();
  } catch {
    return {};
  }
  if (!libc) return {};
  const guards: Guards = {};
  const candidates: Beneath[] = [viaOpenat(libc)];
  if (libc.openat2) candidates.unshift(viaOpenat2(libc));
  for (const beneath of candidates) {
    const root = beneath.openFolder("/");
    if (!root.ok) continue;
    try {
      const probe = beneath.openAt(root.fd, "proc/self/fd", O_PATH | O_DIRECTORY, false);
      if (!probe.ok) continue;
      closeSync(probe.fd);
      if (readlinkSync(fdPath(root.fd)) === "/") guards[beneath.guard] = beneath;
    } catch {
      // /proc is not mounted: node:fs could not follow what is opened.
    } finally {
      closeSync(root.fd);
    }
  }
  return guards;
}

let probed: Promise<Guards> | undefined;

/** probeGuards, memoized: the one piece of module state, a fact about the kernel that cannot go stale. */
export function guards(): Promise<Guards> {
  probed ??= probeGuards();
  return probed;
}
