// Data safety under failure: a server killed mid-write never leaves a truncated file;
// a cancelled search stops promptly, its answer and its work.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initializedPeer } from "./helpers/raw.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const base = tempDir("tfo-durable-");
afterAll(() => base.cleanup());

test("kill -9 during write_file: the file is the old content or the new, whole", async () => {
  const size = 8 * 1024 * 1024;
  const file = join(base.path, "data.txt");
  let current = "A";
  writeFileSync(file, current.repeat(size));
  for (const [i, delay] of [0, 2, 5, 10, 20, 40, 1000].entries()) {
    const next = String.fromCharCode(66 + i);
    const { peer } = await initializedPeer({ cwd: base.path });
    await peer.request(1, "tools/call", { name: "write_file", arguments: { path: "data.txt", content: next.repeat(size) } });
    await Bun.sleep(delay);
    peer.proc.kill(9);
    await peer.proc.exited;
    const after = readFileSync(file, "latin1");
    expect(after.length).toBe(size);
    const first = after[0]!;
    expect([current, next]).toContain(first);
    expect(after).toBe(first.repeat(size));
    current = first;
  }
  // The last kill came late enough for the write to finish: the test saw both outcomes.
  expect(current).not.toBe("A");
}, 60_000);

// What the server process has spent on the CPU so far, in seconds (Linux: utime + stime, in
// USER_HZ ticks, which the kernel always reports as 100 a second).
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** True once the process used under a quarter of one core over a 250 ms stretch. */
function idleSampler(pid: number) {
  let last = { at: performance.now(), cpu: cpuSeconds(pid) };
  return () => {
    const now = { at: performance.now(), cpu: cpuSeconds(pid) };
    if (now.at - last.at < 250) return false;
    const share = (now.cpu - last.cpu) / ((now.at - last.at) / 1000);
    last = now;
    return share < 0.25;
  };
}

if (process.platform !== "linux") console.warn("not Linux: the cancelled-search test is skipped (it reads /proc/<pid>/stat)");
test.skipIf(process.platform !== "linux")("cancelling a search_files run of ~30 s ends the call and its work at once; the server answers", async () => {
  // 1,000 files in a tree of 200 folders, on each of which (a|a)+$ backtracks ~20-30 ms before
  // it answers "no match": uncancelled, this search took 29 s on a busy 2-core machine.
  const tree = join(base.path, "tree");
  const files = 1000;
  for (let d = 0; d < files / 5; d++) {
    const dir = join(tree, `d${d}`, "x", "y");
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 5; f++) writeFileSync(join(dir, `f${f}.txt`), `${"a".repeat(20)}!`);
  }
  const { peer } = await initializedPeer({ cwd: tree });
  peer.request(1, "logging/setLevel", { level: "info" });
  await peer.response(1);
  // Files searched so far, from the progress notifications.
  const searched = () => peer.messages.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress as number);
  // The server's own audit line for the call, sent when the call ends, cancelled or not.
  const audit = () => peer.messages.find((m) => m.method === "notifications/message" && m.params.data?.tool === "search_files")?.params.data;
  peer.request(2, "tools/call", { name: "search_files", arguments: { pattern: "*.txt", content: "(a|a)+$" }, _meta: { progressToken: "search" } });
  // The worker has matched files: the regex is running, and most of the work is still ahead.
  expect(await until(() => searched().some((n) => n >= 1), 10_000)).toBe(true);
  expect(Math.max(...searched())).toBeLessThan(files / 2);
  const idle = idleSampler(peer.proc.pid);
  const cancelledAt = performance.now();
  peer.send(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 2 } })}\n`);
  expect(await until(() => audit() !== undefined, 10_000)).toBe(true);
  expect(performance.now() - cancelledAt).toBeLessThan(1000);
  expect(audit().outcome).toBe("error");
  // The matching itself stopped too, not only the answer: the process goes idle.
  expect(await until(idle, 3000, 50)).toBe(true);
  peer.request(3, "ping");
  expect((await peer.response(3)).result).toEqual({});
  await peer.close();
}, 60_000);
