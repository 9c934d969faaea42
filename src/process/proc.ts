// What /proc says about processes: parent, group, session, state, start time, one environment variable.
import { readdirSync, readFileSync } from "node:fs";

export type ProcEntry = {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** R, S, D, T, Z, … ; Z is a zombie waiting for its parent's wait() */
  state: string;
  /** clock ticks after boot; with the pid it names one process even when pids are reused */
  start: number;
};

/** Parses /proc/<pid>/stat. The command name sits in parentheses and may itself hold spaces and ")". */
export function parseStat(text: string): ProcEntry | undefined {
  const close = text.lastIndexOf(")");
  if (close === -1) return undefined;
  const pid = Number.parseInt(text, 10);
  const f = text.slice(close + 2).split(" ");
  const entry = { pid, state: f[0] ?? "", ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), start: Number(f[19]) };
  return Number.isInteger(pid) && Number.isInteger(entry.ppid) && Number.isFinite(entry.start) ? entry : undefined;
}

export function readStat(pid: number): ProcEntry | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Every process we can see. Proportional to the number of processes on the machine (~8 µs each). */
export function readProcTable(): ProcEntry[] {
  const table: ProcEntry[] = [];
  for (const name of readdirSync("/proc")) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const entry = readStat(Number(name));
    if (entry) table.push(entry);
  }
  return table;
}

/** The value of one variable in a process's environment as it was at exec; undefined when absent or unreadable. */
export function readEnvVar(pid: number, name: string): string | undefined {
  let text: Buffer;
  try {
    text = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined; // another user's process, a non-dumpable one, or gone
  }
  return envValue(text, name);
}

/** Finds NAME=value in a NUL-separated environment block. */
export function envValue(block: Buffer, name: string): string | undefined {
  const key = Buffer.from(`${name}=`);
  let at = block.indexOf(key);
  while (at > 0 && block[at - 1] !== 0) at = block.indexOf(key, at + 1);
  if (at === -1) return undefined;
  const end = block.indexOf(0, at);
  return block.toString("utf8", at + key.length, end === -1 ? block.length : end);
}
