// Every process a command starts ends with the command: at its end, timeout or cancel, and
// when the server exits. Linux: the shell's process group, then every process that carries the
// run's marker or descends from the shell or from an orphan handed to us as subreaper, frozen
// (SIGSTOP) round by round until no new one appears, then SIGKILLed; plus a cgroup per run where
// one can be made, and a watchdog for a server that is SIGKILLed (watchdog.ts).
// macOS: the process group, and the watchdog. Windows: the shell only (as before).
//
// Any other Bun.spawn with `detached: true` in this server must be added to `shells`: as
// subreaper the server reaps exited children that are not Bun's own, and it knows Bun's own by
// that set (children left in the server's own session are never touched).
import type { Subprocess } from "bun";
import type { Logger } from "../log.ts";
import { membersOf, type RunRef } from "./attribute.ts";
import { killCgroup, makeRunCgroup, readOwnCgroupDir, removeWhenEmpty } from "./cgroup.ts";
import type { Libc } from "./linux.ts";
import { readEnvVar, readProcTable, readStat } from "./proc.ts";
import { startChildWatchdog, type Watchdog } from "./watchdog.ts";

/** The variable that marks every process of one run, through setsid and reparenting. */
export const RUN_MARKER = "TFO_MCP_RUN";
/** Freeze rounds before giving up on a tree that keeps growing (each round stops all it finds). */
const MAX_ROUNDS = 32;

type LiveRun = RunRef & { cgroup?: string };

export type Containment = {
  platform: NodeJS.Platform;
  /** run markers are `<token>-<n>`: the watchdog finds this server's runs by the token */
  token: string;
  runCount: number;
  libc?: Libc;
  /** PR_SET_CHILD_SUBREAPER held: orphans of commands come to us, never to init */
  subreaper: boolean;
  selfSid: number;
  /** undefined until hardening or the first command starts it; null when it could not start */
  watchdog?: Watchdog | null;
  /** settles when hardening is done (the subreaper flag waits for the watchdog to leave) */
  ready?: Promise<void>;
  /** where run cgroups go; null when they cannot be made here; undefined until the first command asks */
  cgroupParent?: string | null;
  /** what hardening found, for the first command to log at debug */
  notes: string[];
  reported: boolean;
  /** exit and signal handlers installed */
  hooked: boolean;
  runs: Map<string, LiveRun>;
  /** pids of Bun's own detached children (shells, a child watchdog): Bun reaps them, and no sweep takes them */
  shells: Set<number>;
};

export function newContainment(platform: NodeJS.Platform = process.platform): Containment {
  return {
    platform,
    // Web Crypto: node:crypto would load at every start (execute_command imports this module).
    token: crypto.randomUUID().slice(0, 8),
    runCount: 0,
    subreaper: false,
    selfSid: platform === "linux" ? (readStat(process.pid)?.sid ?? -1) : -1,
    notes: [],
    reported: false,
    hooked: false,
    runs: new Map(),
    shells: new Set(),
  };
}

// Process-wide on purpose: the exit and signal handlers must reach every live command tree,
// and they run with no context to carry it in.
let current: Containment | undefined;

export function containment(): Containment {
  current ??= newContainment();
  return current;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already, or not ours to signal
  }
}

function runCgroup(c: Containment, id: string): string | undefined {
  if (c.cgroupParent === undefined) {
    c.cgroupParent = readOwnCgroupDir() ?? null;
    if (c.cgroupParent === null) c.notes.push("no cgroup v2 here: commands are tracked through /proc only");
  }
  if (c.cgroupParent === null) return undefined;
  const made = makeRunCgroup(c.cgroupParent, id);
  if (made.ok) return made.dir;
  c.cgroupParent = null;
  c.notes.push(`no cgroup per command (${made.error}): commands are tracked through /proc only`);
  return undefined;
}

/** What every run marker of this server starts with, as it appears in /proc/<pid>/environ. */
export const markerPrefix = (c: Containment) => `${RUN_MARKER}=${c.token}-`;

function watchdogOf(c: Containment): Watchdog | undefined {
  if (c.watchdog === undefined) {
    const started = startChildWatchdog(markerPrefix(c), c.cgroupParent ?? undefined);
    if (started) c.shells.add(started.pid);
    else c.notes.push("the watchdog did not start: a SIGKILLed server leaves its running commands behind");
    c.watchdog = started?.watchdog ?? null;
  }
  return c.watchdog ?? undefined;
}

/** Freeze every member of the ending runs, round by round until no new one appears, then kill them all. */
function freezeAndKill(c: Containment, ending: LiveRun[]): void {
  const endingShells = new Set(ending.map((r) => r.shell));
  const scope = {
    self: process.pid,
    selfSid: c.selfSid,
    subreaper: c.subreaper,
    keep: new Set([...c.shells].filter((pid) => !endingShells.has(pid))),
    markerOf: (p: { pid: number }) => readEnvVar(p.pid, RUN_MARKER),
  };
  const stopped = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let fresh = 0;
    for (const p of membersOf(readProcTable(), ending, [...c.runs.values()], scope)) {
      if (p.state === "Z" || stopped.has(p.pid)) continue;
      // A stopped process cannot fork; a fork already under way shows its child by the next round.
      signal(p.pid, "SIGSTOP");
      stopped.add(p.pid);
      fresh++;
    }
    if (fresh === 0) break;
  }
  for (const pid of stopped) signal(pid, "SIGKILL");
}

/** Kills everything of these runs now. Synchronous, so the exit handler can use it. */
export function endRuns(c: Containment, ending: LiveRun[]): void {
  for (const run of ending) {
    // The process group first: the common case, one system call.
    if (c.platform !== "win32") signal(-run.shell, "SIGKILL");
    if (run.cgroup) killCgroup(run.cgroup);
  }
  if (c.platform !== "linux" || ending.length === 0) return;
  // As subreaper, every live descendant of a command has an unbroken parent chain up to this
  // server; with no children at all there is nothing left to find, and the /proc scan is skipped.
  if (c.subreaper && c.libc?.peekExitedChild() === -1) return;
  freezeAndKill(c, ending);
}

/**
 * Reaps exited orphans that were handed to us as subreaper (Bun waits only for its own children;
 * without this they would stay zombies). Stops at the first child that is Bun's (a registered
 * shell, or anything in our own session): waitid shows one exited child at a time, and that one
 * is not ours to reap.
 */
export function reapOrphans(c: Containment): void {
  if (!c.libc || !c.subreaper) return;
  for (let i = 0; i < 100_000; i++) {
    const pid = c.libc.peekExitedChild();
    if (pid <= 0 || c.shells.has(pid)) return;
    const entry = readStat(pid);
    if (!entry || entry.sid === c.selfSid) return;
    c.libc.reap(pid);
  }
}

export function killAllRuns(c: Containment): void {
  endRuns(c, [...c.runs.values()]);
}

export type Contained = {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** timeout or cancel: kill the whole tree now */
  kill(): void;
  /** after `proc.exited`: kill whatever the command left running, then forget the run */
  finish(): void;
};

/** A single-quoted shell word. */
const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * The shell's argv. With a cgroup, the shell moves itself in as its first act, before it can fork
 * anything: a move by the server after spawn loses that race about half the time (measured), and a
 * separate wrapper process costs an extra exec (~0.6 ms). Same line, so line numbers hold, and
 * `|| :` so the command still starts with $? = 0.
 */
export function shellArgv(platform: NodeJS.Platform, command: string, cgroup?: string): string[] {
  if (platform === "win32") return ["cmd.exe", "/d", "/s", "/c", command];
  return ["/bin/sh", "-c", cgroup ? `{ echo 0 >${quoted(`${cgroup}/cgroup.procs`)}; } 2>/dev/null || :; ${command}` : command];
}

/** Runs a command line in the platform's shell, with everything it starts kept on a leash (see the top of this file). */
export async function spawnContained(command: string, options: { cwd: string; env: Record<string, string>; log: Logger; cgroups?: boolean }, c = containment()): Promise<Contained> {
  await c.ready;
  const windows = c.platform === "win32";
  const id = `${c.token}-${++c.runCount}`;
  const cgroup = c.platform === "linux" && options.cgroups ? runCgroup(c, id) : undefined;
  const watchdog = windows ? undefined : watchdogOf(c);
  if (!c.reported) {
    c.reported = true;
    options.log.debug("process containment", { platform: c.platform, subreaper: c.subreaper, watchdog: Boolean(watchdog), cgroups: c.cgroupParent ?? "none" });
    for (const note of c.notes) options.log.debug(`process containment: ${note}`);
  }
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = Bun.spawn(shellArgv(c.platform, command, cgroup), {
      cwd: options.cwd,
      env: { ...options.env, [RUN_MARKER]: id },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      // Its own session and process group (setsid), so one kill(-pid) reaches what it forks.
      detached: !windows,
    });
  } catch (error) {
    if (cgroup) removeWhenEmpty(cgroup);
    throw error;
  }
  // Registered before anything else can run: the reaper must never take Bun's own child.
  c.shells.add(proc.pid);
  const run: LiveRun = { id, shell: proc.pid, start: c.platform === "linux" ? (readStat(proc.pid)?.start ?? 0) : 0, cgroup };
  c.runs.set(id, run);
  watchdog?.started(proc.pid, cgroup);
  return {
    proc,
    kill: () => (windows ? proc.kill() : endRuns(c, [run])),
    finish() {
      c.shells.delete(proc.pid);
      if (windows) proc.kill();
      else endRuns(c, [run]);
      c.runs.delete(id);
      watchdog?.ended(proc.pid);
      if (cgroup) removeWhenEmpty(cgroup);
      reapOrphans(c);
    },
  };
}
