// Data safety under failure: a server killed mid-write never leaves a truncated file;
// a cancelled walk over a big tree stops promptly.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initializedPeer } from "./helpers/raw.ts";
import { tempDir } from "./helpers/tmp.ts";

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

test("cancelling search_files on a large tree stops it promptly and the server answers", async () => {
  const tree = join(base.path, "tree");
  for (let d = 0; d < 200; d++) {
    const dir = join(tree, `d${d}`, "x", "y");
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 25; f++) writeFileSync(join(dir, `f${f}.txt`), "needle");
  }
  const { peer } = await initializedPeer({ cwd: tree });
  peer.request(1, "tools/call", { name: "search_files", arguments: { pattern: "*.txt", content: "needle", max_results: 1000000 } });
  await Bun.sleep(30);
  const cancelledAt = performance.now();
  peer.send(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } })}\n`);
  peer.request(2, "ping");
  await peer.response(2);
  expect(performance.now() - cancelledAt).toBeLessThan(1000);
  await peer.close();
}, 60_000);
