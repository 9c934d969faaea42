// Which processes belong to a command run: pure rules over a /proc table, tested with plain tables.
import type { ProcEntry } from "./proc.ts";

/** One running command: a marker in its environment, and its shell (a session leader: Bun.spawn detached = setsid). */
export type RunRef = { id: string; shell: number; start: number };

export type Scope = {
  /** this server */
  self: number;
  /** this server's session: nothing a command starts can join it (setsid only makes new ones) */
  selfSid: number;
  /** orphans reparent to this server rather than to init */
  subreaper: boolean;
  /** Bun's own children that are not ending (other runs' shells, the watchdog): never members */
  keep: Set<number>;
  /** the run marker in a process's environment; undefined when absent or unreadable (a zombie, `env -i`, another user) */
  markerOf(p: ProcEntry): string | undefined;
};

/**
 * The processes, alive or zombie, that belong to the `ending` runs; `live` is every run still
 * registered (the ending ones too). A process belongs to a run when it is the run's shell, in
 * the shell's session or process group, carries the run's marker, or descends from one that does.
 * An orphan handed to this server (subreaper) with no readable marker cannot be told apart
 * between runs: it goes only when every run that was already running when it started is ending,
 * so a command never loses a process of a neighbour that is still running.
 */
export function membersOf(table: ProcEntry[], ending: RunRef[], live: RunRef[], scope: Scope): ProcEntry[] {
  if (ending.length === 0) return [];
  const endingIds = new Set(ending.map((r) => r.id));
  const liveIds = new Set(live.map((r) => r.id));
  const endingShells = new Map(ending.map((r) => [r.shell, r]));
  const minStart = Math.min(...ending.map((r) => r.start));

  const roots: ProcEntry[] = [];
  const children = new Map<number, ProcEntry[]>();
  for (const p of table) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);

    if (p.pid === scope.self || p.sid === scope.selfSid || scope.keep.has(p.pid)) continue;
    // Everything a run starts starts after its shell; this also guards against a reused pid.
    if (p.start < minStart) continue;
    const byShell = endingShells.get(p.pid) ?? endingShells.get(p.sid) ?? endingShells.get(p.pgid);
    if (byShell && p.start >= byShell.start) {
      roots.push(p);
      continue;
    }
    // As subreaper every descendant stays below this server: only its direct children need a look,
    // the rest follow their parent. Without it, escaped processes sit anywhere; the marker finds them.
    if (scope.subreaper && p.ppid !== scope.self) continue;
    const marker = scope.markerOf(p);
    if (marker !== undefined && liveIds.has(marker)) {
      if (endingIds.has(marker)) roots.push(p);
      continue;
    }
    if (p.ppid === scope.self && live.filter((r) => r.start <= p.start).every((r) => endingIds.has(r.id))) roots.push(p);
  }

  const members = new Map<number, ProcEntry>();
  const queue = [...roots];
  for (let p = queue.pop(); p; p = queue.pop()) {
    if (members.has(p.pid)) continue;
    members.set(p.pid, p);
    for (const child of children.get(p.pid) ?? []) queue.push(child);
  }
  return [...members.values()];
}
