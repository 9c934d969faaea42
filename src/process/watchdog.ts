// One small shell per server that outlives it: when the server dies in a way that runs none of
// its own code (SIGKILL, a crash), its end of a pipe closes, and the watchdog kills what the
// server's commands left running: their process groups, their cgroups, and every process that
// still carries one of this server's run markers. One spawn per server, then a line per command;
// it replaces a per-command PR_SET_PDEATHSIG wrapper (setpriv), which cost ~1 ms per call
// (measured) and covered only the shell itself.
import type { Subprocess } from "bun";
import { closeSync, writeSync } from "node:fs";

const PATH = "/usr/bin:/bin:/usr/sbin:/sbin";

// POSIX sh (dash, busybox ash, bash); it reads fd 3, since a shell may point a background job's
// stdin at /dev/null. $1: "TFO_MCP_RUN=<this server's token>-"; $2: the folder of its run
// cgroups ("" when none). Lines in: "+ PGID CGROUP" when a command starts (CGROUP: the run's
// cgroup folder name, or "-"), "- PGID" once it has been cleaned up. After EOF: kill the live
// groups and cgroups, then every process with a marker (rounds, for what forked meanwhile).
const SCRIPT = `
live=""
while read -r op pgid cg <&3; do
  case "$op" in
    +) live="$live $pgid:$cg" ;;
    -) rest=""; for e in $live; do [ "\${e%%:*}" = "$pgid" ] || rest="$rest $e"; done; live=$rest ;;
  esac
done
for e in $live; do
  kill -KILL "-\${e%%:*}" 2>/dev/null
  cg=\${e#*:}
  [ -n "$2" ] && [ "$cg" != - ] && echo 1 2>/dev/null >"$2/$cg/cgroup.kill"
done
for round in 1 2 3 4 5 6 7 8; do
  pids=$(grep -l -a -s -F "$1" /proc/[0-9]*/environ | cut -d/ -f3)
  [ -n "$pids" ] || break
  kill -KILL $pids 2>/dev/null
done
for e in $live; do
  cg=\${e#*:}
  [ -n "$2" ] && [ "$cg" != - ] && for try in 1 2 3 4 5 6 7 8 9 10; do rmdir "$2/$cg" 2>/dev/null && break; sleep 0.1; done
done
`;

export type Watchdog = { started(pgid: number, cgroup: string | undefined): void; ended(pgid: number): void };

const args = (markerPrefix: string, cgroupParent: string | undefined) => ["tfo-mcp-watchdog", markerPrefix, cgroupParent ?? ""];
const lines = (send: (line: string) => void): Watchdog => ({
  started: (pgid, cgroup) => send(`+ ${pgid} ${cgroup ? cgroup.slice(cgroup.lastIndexOf("/") + 1) : "-"}\n`),
  ended: (pgid) => send(`- ${pgid}\n`),
});

/**
 * The watchdog as a grandchild, handed to init by a shell that exits at once: not a child of
 * ours, so "this server has no children" still proves that no command left anything behind
 * (contain.ts skips its /proc scan on that). Reads our own pipe (pipe2 through libc): Bun closes
 * a spawn's stdin pipe when that process exits. `detached` resolves once the middle shell is
 * gone; only then may this server become a subreaper, or the watchdog would come back to it.
 */
export function startDetachedWatchdog(pipe: [number, number], markerPrefix: string, cgroupParent: string | undefined): { watchdog: Watchdog; detached: Promise<unknown> } | undefined {
  const [read, write] = pipe;
  let middle: Subprocess;
  try {
    middle = Bun.spawn(["/bin/sh", "-c", `exec 3<&0; (${SCRIPT}) &`, ...args(markerPrefix, cgroupParent)], {
      stdin: read,
      stdout: "ignore",
      stderr: "ignore",
      env: { PATH },
      // Its own session: a client that kills the server's process group does not take it along.
      detached: true,
    });
  } catch {
    closeSync(read);
    closeSync(write);
    return undefined;
  }
  closeSync(read);
  const send = (line: string) => {
    try {
      writeSync(write, line);
    } catch {
      // a killed or stuck watchdog (EPIPE, EAGAIN): the server itself is unaffected
    }
  };
  return { watchdog: lines(send), detached: middle.exited };
}

/** Where there is no libc to make a pipe (macOS, a failed dlopen): the watchdog as a plain child on Bun's stdin pipe. */
export function startChildWatchdog(markerPrefix: string, cgroupParent: string | undefined): { watchdog: Watchdog; pid: number } | undefined {
  let proc: Subprocess<"pipe", "ignore", "ignore">;
  try {
    proc = Bun.spawn(["/bin/sh", "-c", `exec 3<&0; ${SCRIPT}`, ...args(markerPrefix, cgroupParent)], { stdin: "pipe", stdout: "ignore", stderr: "ignore", env: { PATH }, detached: true });
  } catch {
    return undefined;
  }
  proc.unref();
  proc.stdin.unref();
  const send = (line: string) => {
    // A watchdog that was killed makes these writes fail quietly.
    proc.stdin.write(line);
    proc.stdin.flush();
  };
  return { watchdog: lines(send), pid: proc.pid };
}
