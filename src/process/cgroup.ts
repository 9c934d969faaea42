// A cgroup v2 per command, where this server may make them (root, or a systemd-delegated
// subtree): cgroup.kill ends every process in it at once, whatever it did to its session,
// parent or environment. Where cgroups are not writable, nothing here is used.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";

const PREFIX = "tfo-mcp-";

/** "\040" in mountinfo is a space, and so on. */
function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** This process's cgroup v2 folder, from /proc/self/mountinfo and /proc/self/cgroup; undefined without a cgroup2 mount. */
export function ownCgroupDir(mountinfo: string, cgroup: string): string | undefined {
  const own = cgroup.split("\n").find((line) => line.startsWith("0::"));
  if (!own) return undefined;
  const path = own.slice(3);
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (!after?.startsWith("cgroup2 ")) continue;
    const fields = before!.split(" ");
    const root = unescapeMount(fields[3] ?? "");
    const mountpoint = unescapeMount(fields[4] ?? "");
    if (root === "/") return `${mountpoint}${path === "/" ? "" : path}`;
    if (path === root || path.startsWith(`${root}/`)) return `${mountpoint}${path.slice(root.length)}`;
  }
  return undefined;
}

export function readOwnCgroupDir(): string | undefined {
  try {
    return ownCgroupDir(readFileSync("/proc/self/mountinfo", "utf8"), readFileSync("/proc/self/cgroup", "utf8"));
  } catch {
    return undefined;
  }
}

export type Made = { ok: true; dir: string } | { ok: false; error: string };

/** A child cgroup for one run; refuses kernels without cgroup.kill (before 5.14). */
export function makeRunCgroup(parent: string, run: string): Made {
  const dir = `${parent}/${PREFIX}${process.pid}-${run}`;
  try {
    mkdirSync(dir);
  } catch (error) {
    return { ok: false, error: `cannot create ${dir}: ${(error as Error).message}` };
  }
  if (!existsSync(`${dir}/cgroup.kill`)) {
    removeCgroup(dir);
    return { ok: false, error: `${dir} has no cgroup.kill (Linux 5.14 or later is needed)` };
  }
  return { ok: true, dir };
}

export function killCgroup(dir: string): void {
  try {
    writeFileSync(`${dir}/cgroup.kill`, "1");
  } catch {
    // gone already, or never usable
  }
}

/** rmdir; false while processes are still leaving it (EBUSY). */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Retries rmdir until the killed processes have left (bounded); never keeps the server alive. */
export function removeWhenEmpty(dir: string, tries = 100): void {
  if (removeCgroup(dir) || tries <= 0) return;
  setTimeout(() => removeWhenEmpty(dir, tries - 1), 10).unref();
}

/**
 * A server that was SIGKILLed could not end its commands; its cgroups are still here.
 * Kill what is in them and remove them. Only folders of servers that are gone are touched.
 */
export function sweepStaleCgroups(parent: string, isAlive: (pid: number) => boolean): number {
  let swept = 0;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return 0;
  }
  for (const name of names) {
    const owner = /^tfo-mcp-(\d+)-/.exec(name)?.[1];
    if (!owner || isAlive(Number(owner))) continue;
    killCgroup(`${parent}/${name}`);
    removeWhenEmpty(`${parent}/${name}`);
    swept++;
  }
  return swept;
}
