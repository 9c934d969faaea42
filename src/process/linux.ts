// The few Linux system calls Bun does not offer, through bun:ffi and libc.
// Loaded only on Linux and only when asked; any failure (no libc found, ffi unavailable
// on this build) gives `undefined` and the caller falls back to what Node's API can do.

import { dlopen, FFIType } from "bun:ffi";

export const PR_GET_DUMPABLE = 3;
export const PR_SET_DUMPABLE = 4;
export const PR_SET_CHILD_SUBREAPER = 36;

const P_ALL = 0;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const __WALL = 0x40000000;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETFL = 4;

export type Libc = {
  /** prctl(option, arg); -1 on failure */
  prctl(option: number, arg: number): number;
  /** The pid of a child that has exited and is not reaped yet (left waitable), 0 when none, -1 when this process has no children at all. */
  peekExitedChild(): number;
  /** waitpid(pid, NULL, WNOHANG): true once that exited child is reaped */
  reap(pid: number): boolean;
  /** pipe2(O_CLOEXEC) with a non-blocking write end: [read, write]; undefined on failure */
  pipe(): [number, number] | undefined;
};

// glibc first, then musl's names; dlopen searches the usual library paths.
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

export function loadLibc(platform: NodeJS.Platform = process.platform): { ok: true; libc: Libc } | { ok: false; error: string } {
  if (platform !== "linux") return { ok: false, error: `no libc calls on ${platform}` };
  const errors: string[] = [];
  for (const name of LIBC_NAMES) {
    try {
      const { symbols } = dlopen(name, {
        // prctl is variadic in C; the arguments are all integers, which every 64-bit ABI we ship passes the same way.
        prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
        waitid: { args: [FFIType.i32, FFIType.u32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      });
      // siginfo_t is 128 bytes; si_pid sits at offset 16 on 64-bit Linux.
      const info = new Int32Array(32);
      return {
        ok: true,
        libc: {
          prctl: (option, arg) => symbols.prctl(option, arg, 0, 0, 0),
          peekExitedChild() {
            info.fill(0);
            if (symbols.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT | __WALL) !== 0) return -1;
            return info[4] ?? 0;
          },
          reap: (pid) => symbols.waitpid(pid, null, WNOHANG | __WALL) === pid,
          pipe() {
            const fds = new Int32Array(2);
            if (symbols.pipe2(fds, O_CLOEXEC) !== 0) return undefined;
            // Only the write end: a reader that stops reading must never block the server.
            symbols.fcntl(fds[1]!, F_SETFL, O_NONBLOCK);
            return [fds[0]!, fds[1]!];
          },
        },
      };
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
    }
  }
  return { ok: false, error: `could not load libc (${errors.join("; ")})` };
}
