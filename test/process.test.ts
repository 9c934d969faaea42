// The parts of process containment that are rules over data, and the hooks a server installs, in small processes of their own.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { membersOf, type RunRef, type Scope } from "../src/process/attribute.ts";
import { ownCgroupDir } from "../src/process/cgroup.ts";
import { shellArgv } from "../src/process/contain.ts";
import { loadLibc, PR_GET_DUMPABLE } from "../src/process/linux.ts";
import { envValue, type ProcEntry, parseStat } from "../src/process/proc.ts";
import { tempDir } from "./helpers/tmp.ts";

const linux = process.platform === "linux";
const tmp = tempDir("tfo-process-");
afterAll(() => tmp.cleanup());

describe("parseStat", () => {
  test.each([
    ["1234 (sleep) S 1200 1234 1100 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100", { pid: 1234, state: "S", ppid: 1200, pgid: 1234, sid: 1100, start: 98765 }],
    // a command name with spaces and a ")" of its own
    ["77 (a b) c)) Z 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", { pid: 77, state: "Z", ppid: 1, pgid: 77, sid: 77, start: 5 }],
  ])("%p", (text, expected) => {
    expect(parseStat(text)).toEqual(expected);
  });
  test.each(["", "garbage", "12 (x) S"])("%p is not a stat line", (text) => {
    expect(parseStat(text)).toBeUndefined();
  });
});

describe("envValue", () => {
  const block = Buffer.from("PATH=/bin\0XTFO_MCP_RUN=wrong\0TFO_MCP_RUN=abc-1\0LAST=x");
  test.each([
    ["PATH", "/bin"],
    ["TFO_MCP_RUN", "abc-1"],
    ["LAST", "x"],
    ["MISSING", undefined],
  ])("%p", (name, value) => {
    expect(envValue(block, name)).toBe(value);
  });
  test("a name that only ends another name is not it", () => {
    expect(envValue(Buffer.from("XTFO_MCP_RUN=wrong"), "TFO_MCP_RUN")).toBeUndefined();
  });
});

describe("membersOf", () => {
  const proc = (pid: number, ppid: number, sid: number, start: number, more: Partial<ProcEntry> = {}): ProcEntry => ({ pid, ppid, pgid: sid, sid, state: "S", start, ...more });
  const R: RunRef = { id: "t-1", shell: 200, start: 1000 };
  const Q: RunRef = { id: "t-2", shell: 400, start: 1003 };
  const markers: Record<number, string> = { 210: "t-1", 230: "t-1", 401: "t-2", 400: "t-2", 200: "t-1" };
  const scope = (over: Partial<Scope> = {}): Scope => ({ self: 100, selfSid: 50, subreaper: true, keep: new Set(), markerOf: (p) => markers[p.pid], ...over });
  const table: ProcEntry[] = [
    proc(100, 1, 50, 10), // the server
    proc(101, 100, 50, 20), // a child of the server in its own session: never a command's
    proc(200, 100, 200, 1000), // R's shell
    proc(201, 200, 200, 1001), // `sleep &`
    proc(202, 200, 202, 1001), // `setsid sleep &`, its shell still alive
    proc(203, 202, 202, 1002), // and its child
    proc(210, 100, 210, 1005), // marked orphan, handed to the server
    proc(211, 210, 211, 1006), // its child after `env -i`
    proc(300, 1, 300, 1002), // someone else's
    proc(310, 100, 200, 900, { pgid: 200 }), // pid reused: in "R's session" by number, but older than R
  ];
  const pids = (list: ProcEntry[]) => list.map((p) => p.pid).sort((a, b) => a - b);

  test("the shell, its session and group, its descendants, and marked orphans with theirs", () => {
    expect(pids(membersOf(table, [R], [R], scope()))).toEqual([200, 201, 202, 203, 210, 211]);
  });
  test("nothing of the server's own session, of other users, or older than the run", () => {
    const found = pids(membersOf(table, [R], [R], scope()));
    for (const pid of [100, 101, 300, 310]) expect(found).not.toContain(pid);
  });
  test("another run's shell, marked orphans and what they started stay while it runs", () => {
    const more = [...table, proc(400, 100, 400, 1003), proc(401, 100, 401, 1004), proc(402, 401, 402, 1004)];
    expect(pids(membersOf(more, [R], [R, Q], scope({ keep: new Set([400]) })))).toEqual([200, 201, 202, 203, 210, 211]);
    expect(pids(membersOf(more, [Q], [R, Q], scope({ keep: new Set([200]) })))).toEqual([400, 401, 402]);
  });
  test("an orphan without a marker goes with the only run that was running when it started", () => {
    const orphan = proc(220, 100, 220, 1002);
    expect(pids(membersOf([orphan], [R], [R, Q], scope()))).toEqual([220]);
    expect(membersOf([orphan], [Q], [R, Q], scope())).toEqual([]);
  });
  test("an orphan without a marker that started while two runs ran goes only when both end", () => {
    const orphan = proc(220, 100, 220, 1005);
    expect(membersOf([orphan], [R], [R, Q], scope())).toEqual([]);
    expect(membersOf([orphan], [Q], [R, Q], scope())).toEqual([]);
    expect(pids(membersOf([orphan], [R, Q], [R, Q], scope()))).toEqual([220]);
    expect(pids(membersOf([orphan], [Q], [Q], scope()))).toEqual([220]);
  });
  test("without the subreaper, a marked process handed to init is found by its marker alone", () => {
    const escaped = proc(230, 1, 230, 1006);
    expect(pids(membersOf([escaped], [R], [R], scope({ subreaper: false })))).toEqual([230]);
    // As subreaper such a process cannot exist below us; the scan looks only at our direct children.
    expect(membersOf([escaped], [R], [R], scope())).toEqual([]);
  });
  test("zombies count (they are reaped, not signalled)", () => {
    expect(pids(membersOf([proc(240, 100, 200, 1007, { state: "Z" })], [R], [R], scope()))).toEqual([240]);
  });
  test("no ending run, no members", () => {
    expect(membersOf(table, [], [R], scope())).toEqual([]);
  });
});

describe("ownCgroupDir", () => {
  const hybrid = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n36 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
  const unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate";
  test.each([
    ["hybrid, root cgroup", hybrid, "4:memory:/x\n0::/", "/sys/fs/cgroup/unified"],
    ["systemd user scope", unified, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope", "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope"],
    ["mount of a subtree", "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw", "0::/docker/abc/sub", "/sys/fs/cgroup/sub"],
    ["escaped mount point", "30 23 0:26 / /mnt/cg\\040x rw - cgroup2 cgroup2 rw", "0::/a", "/mnt/cg x/a"],
    ["cgroup v1 only", "36 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory", "4:memory:/x", undefined],
    ["path outside the mount", "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw", "0::/other", undefined],
  ])("%s", (_, mountinfo, cgroup, expected) => {
    expect(ownCgroupDir(mountinfo, cgroup)).toBe(expected);
  });
});

describe("shellArgv", () => {
  test("the command as it is, without a cgroup; cmd.exe on Windows", () => {
    expect(shellArgv("linux", "echo hi")).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(shellArgv("win32", "dir")).toEqual(["cmd.exe", "/d", "/s", "/c", "dir"]);
  });
  test.skipIf(!linux)("with a cgroup, the shell moves itself in first, and the command runs as before", () => {
    const dir = join(tmp.path, "it's a cgroup");
    mkdirSync(dir);
    const run = Bun.spawnSync(shellArgv("linux", 'echo "$0" $?; exit 3', dir));
    expect(readFileSync(join(dir, "cgroup.procs"), "utf8")).toBe("0\n");
    expect({ out: run.stdout.toString(), err: run.stderr.toString(), code: run.exitCode }).toEqual({ out: "/bin/sh 0\n", err: "", code: 3 });
  });
  test.skipIf(!linux)("a cgroup that cannot be written leaves no trace on stderr", () => {
    const run = Bun.spawnSync(shellArgv("linux", "echo ok $?", join(tmp.path, "missing")));
    expect({ out: run.stdout.toString(), err: run.stderr.toString() }).toEqual({ out: "ok 0\n", err: "" });
  });
});

describe("loadLibc", () => {
  test.each(["darwin", "win32"] as const)("on %s: nothing loaded, nothing thrown", (platform) => {
    expect(loadLibc(platform)).toEqual({ ok: false, error: `no libc calls on ${platform}` });
  });
  test.skipIf(!linux)("on Linux: prctl answers, and the pipe's write end never blocks", () => {
    const loaded = loadLibc();
    if (!loaded.ok) throw new Error(loaded.error);
    // 1 in a fresh process; 0 once an in-process serve test has hardened this test process.
    expect([0, 1]).toContain(loaded.libc.prctl(PR_GET_DUMPABLE, 0));
    const [read, write] = loaded.libc.pipe()!;
    const chunk = Buffer.alloc(65536);
    let error: NodeJS.ErrnoException | undefined;
    try {
      for (let i = 0; i < 64; i++) writeSync(write, chunk);
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error?.code).toBe("EAGAIN");
    closeSync(read);
    closeSync(write);
  });
});

// Hooks go on a process: each case runs in a bun process of its own.
const SCRIPT = `
import { hardenProcess } from ${JSON.stringify(join(import.meta.dir, "../src/process/harden.ts"))};
import { newContainment, spawnContained } from ${JSON.stringify(join(import.meta.dir, "../src/process/contain.ts"))};
const [platform, ending, command, pattern] = process.argv.slice(2);
const c = newContainment(platform);
c.watchdog = null; // only the server's own hooks may act
hardenProcess({}, c);
if (ending === "listeners") {
  console.log(JSON.stringify({ libc: c.libc !== undefined, exit: process.listenerCount("exit"), SIGINT: process.listenerCount("SIGINT"), SIGTERM: process.listenerCount("SIGTERM"), SIGHUP: process.listenerCount("SIGHUP") }));
  process.exit(0);
}
const log = { debug() {}, info() {}, warn() {}, error() {} };
await spawnContained(command, { cwd: process.cwd(), env: { PATH: process.env.PATH }, log }, c);
while (Bun.spawnSync(["pgrep", "-f", pattern]).exitCode !== 0) await Bun.sleep(10);
if (ending === "exit") process.exit(0);
process.kill(process.pid, "SIGTERM");
await Bun.sleep(30000);
`;
const scriptFile = join(tmp.path, "hooks.ts");
writeFileSync(scriptFile, SCRIPT);
const runScript = (...args: string[]) => Bun.spawn([process.execPath, scriptFile, ...args], { cwd: tmp.path, stdout: "pipe", stderr: "pipe" });
let serial = 0;
const sleeper = () => {
  const arg = `${700 + (++serial % 100)}.${process.pid}${Math.floor(Math.random() * 1000)}`;
  return { arg, pattern: `^sleep ${arg.replace(".", "\\.")}$` };
};
const running = (pattern: string) => Bun.spawnSync(["pgrep", "-f", pattern]).exitCode === 0;
async function goneSoon(pattern: string) {
  for (let end = Date.now() + 5000; running(pattern); await Bun.sleep(20)) if (Date.now() > end) throw new Error(`${pattern} still running`);
}

describe.skipIf(process.platform === "win32")("the server's hooks", () => {
  test.skipIf(!linux)("process.exit kills a live command's setsid child (Linux, no watchdog)", async () => {
    const m = sleeper();
    const p = runScript("linux", "exit", `setsid sleep ${m.arg} >/dev/null 2>&1 & sleep 60`, m.pattern);
    expect(await p.exited).toBe(0);
    await goneSoon(m.pattern);
  });
  test.skipIf(!linux)("SIGTERM with no other listener: the trees are killed, then the signal ends the process as it would have", async () => {
    const m = sleeper();
    const p = runScript("linux", "sigterm", `setsid sleep ${m.arg} >/dev/null 2>&1 & sleep 60`, m.pattern);
    await p.exited;
    expect(p.signalCode).toBe("SIGTERM");
    await goneSoon(m.pattern);
  });
  test("as on macOS (platform darwin here): no libc, the process group is killed at exit", async () => {
    const m = sleeper();
    const p = runScript("darwin", "exit", `sleep ${m.arg} & sleep 60`, m.pattern);
    expect(await p.exited).toBe(0);
    await goneSoon(m.pattern);
  });
  test.each([
    ["darwin", { libc: false, exit: 1, SIGINT: 1, SIGTERM: 1, SIGHUP: 1 }],
    ["win32", { libc: false, exit: 1, SIGINT: 1, SIGTERM: 0, SIGHUP: 0 }],
  ])("hardening as on %s loads nothing and only adds its exit hooks", async (platform, expected) => {
    const p = runScript(platform, "listeners");
    const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
    expect({ code: await p.exited, err }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(out)).toEqual(expected);
  });
});
