// What `serve` does to its own process before anything else, so commands cannot reach back into it.
import { existsSync } from "node:fs";
import { readOwnCgroupDir, sweepStaleCgroups } from "./cgroup.ts";
import { type Containment, containment, killAllRuns, markerPrefix, reapOrphans } from "./contain.ts";
import { type Libc, loadLibc, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE } from "./linux.ts";
import { startDetachedWatchdog } from "./watchdog.ts";

// Windows delivers only Ctrl-C (SIGINT) as a signal a listener can see.
const exitSignals = (platform: NodeJS.Platform): NodeJS.Signals[] => (platform === "win32" ? ["SIGINT"] : ["SIGTERM", "SIGINT", "SIGHUP"]);

function becomeSubreaper(c: Containment, libc: Libc): void {
  if (libc.prctl(PR_SET_CHILD_SUBREAPER, 1) !== 0) {
    c.notes.push("prctl(PR_SET_CHILD_SUBREAPER, 1) failed: a command's orphans go to init and are found by their marker alone");
    return;
  }
  c.subreaper = true;
  // Orphans that exit on their own while their command still runs are reaped as they go.
  process.on("SIGCHLD", () => reapOrphans(c));
}

function hardenLinux(c: Containment): void {
  const loaded = loadLibc(c.platform);
  if (!loaded.ok) {
    c.notes.push(`${loaded.error}: commands can read this server's /proc/<pid>/environ, and their orphans go to init`);
    return;
  }
  const libc = loaded.libc;
  c.libc = libc;
  if (libc.prctl(PR_SET_DUMPABLE, 0) !== 0) c.notes.push("prctl(PR_SET_DUMPABLE, 0) failed: commands can read this server's /proc/<pid>/environ");
  c.cgroupParent = readOwnCgroupDir() ?? null;
  if (c.cgroupParent) sweepStaleCgroups(c.cgroupParent, (pid) => existsSync(`/proc/${pid}`));
  else c.notes.push("no cgroup v2 here: commands are tracked through /proc only");
  // Already chosen (a test that checks the exit hooks alone sets null): no watchdog to wait for.
  if (c.watchdog !== undefined) return becomeSubreaper(c, libc);
  const pipe = libc.pipe();
  const started = pipe && startDetachedWatchdog(pipe, markerPrefix(c), c.cgroupParent ?? undefined);
  if (!started) {
    c.watchdog = null;
    c.notes.push("the watchdog did not start: a SIGKILLed server leaves its running commands behind");
    becomeSubreaper(c, libc);
    return;
  }
  c.watchdog = started.watchdog;
  c.ready = started.detached.then(() => becomeSubreaper(c, libc));
}

/**
 * Linux: PR_SET_DUMPABLE 0 makes /proc/<pid>/environ, mem and ptrace of this server root-only,
 * so a command cannot read the API keys the server was started with (deleting them from
 * process.env does not change /proc/<pid>/environ). PR_SET_CHILD_SUBREAPER 1 hands orphaned
 * descendants to this server instead of init, so `setsid cmd &` stays findable. A watchdog
 * (watchdog.ts) ends what is left if this server is SIGKILLed.
 * Everywhere: on exit, and on SIGTERM/SIGINT/SIGHUP unless the caller drains first (http),
 * every live command tree is killed.
 * Never throws; what did not hold is logged at debug by the first command.
 */
export function hardenProcess({ killOnSignal = true }: { killOnSignal?: boolean } = {}, c: Containment = containment()): void {
  if (c.hooked) return;
  c.hooked = true;
  if (c.platform === "linux") hardenLinux(c);
  process.on("exit", () => killAllRuns(c));
  for (const name of exitSignals(c.platform)) {
    const onSignal = () => {
      if (killOnSignal) killAllRuns(c);
      // Alone, this listener would keep the process alive: then let the signal do what it would have done.
      if (process.listenerCount(name) === 1) {
        process.off(name, onSignal);
        process.kill(process.pid, name);
      }
    };
    // First in line, so the count above still includes the listeners that will handle this signal.
    process.prependListener(name, onSignal);
  }
}
