// Check-then-use race (issue 16, finding 5): a child process flips a folder inside the root
// between a real folder and a symlink to an outside folder as fast as it can, while the
// server reads, appends, replaces and lists through it. Not one call may reach outside.
// Linux only: that is where opens are confined (macOS and Windows keep the realpath check,
// and its race; see open-inside.ts). Before the fix, 1-7 % of reads, 3-11 % of writes and
// 3-13 % of listings here reached the outside folder; searches (walked by path, files read by
// path on the content worker) found outside files too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileTemplate } from "../src/resources/file.ts";
import { connectBinary } from "./helpers/client.ts";
import { directCall, testWorkspace } from "./helpers/direct.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";

type Result = { content: { type: string; text: string }[]; isError?: boolean };
type Call = (name: string, args: Record<string, unknown>) => Promise<Result>;

const SECRET = "OUTSIDE-SECRET";
const OUTSIDE_LOG = "outside log\n";

const base = tempDir("tfo-race-");
const root = join(base.path, "ws");
const outside = join(base.path, "outside");

// RENAME_EXCHANGE swaps "d" and "d-swap" in one step, so "d" is always either the real
// folder or the symlink out, never missing. The flipper stops when the stop file appears.
const FLIPPER = `
const { dlopen, FFIType } = require("bun:ffi");
const { existsSync } = require("node:fs");
const libc = dlopen("libc.so.6", { renameat2: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 } });
const dir = process.env.FLIP_ROOT;
const d = Buffer.from(dir + "/d\\0"), swap = Buffer.from(dir + "/d-swap\\0");
const until = Date.now() + Number(process.env.FLIP_MS);
let flips = 0;
process.stdout.write("ready\\n");
while (Date.now() < until && !existsSync(process.env.FLIP_STOP)) {
  for (let i = 0; i < 100; i++) {
    if (libc.symbols.renameat2(-100, d, -100, swap, 2) !== 0) throw new Error("renameat2 failed");
    flips++;
  }
}
process.stdout.write(flips + " flips\\n");
`;

/** Starts the flipper and waits until it runs; stop() leaves "d" as it found it (an even number of flips). */
async function startFlipper(ms: number) {
  const stopFile = join(base.path, `stop-${Date.now()}`);
  const proc = Bun.spawn([process.execPath, "-e", FLIPPER], {
    env: { ...process.env, FLIP_ROOT: root, FLIP_MS: String(ms), FLIP_STOP: stopFile },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let seen = "";
  const readUntil = async (what: RegExp) => {
    while (!what.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`flipper ended early: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
  };
  await readUntil(/ready\n/);
  return {
    async stop(): Promise<number> {
      writeFileSync(stopFile, "");
      await readUntil(/(\d+) flips\n/);
      await proc.exited;
      return Number(/(\d+) flips/.exec(seen)![1]);
    },
  };
}

beforeAll(() => {
  mkdirSync(join(root, "d"), { recursive: true });
  mkdirSync(join(outside, "d"), { recursive: true });
  writeFileSync(join(root, "d", "secret.txt"), "inside");
  writeFileSync(join(root, "d", "log.txt"), "");
  writeFileSync(join(root, "d", "replace.txt"), "inside");
  writeFileSync(join(root, "d", "inside-marker"), "");
  writeFileSync(join(outside, "d", "secret.txt"), SECRET);
  writeFileSync(join(outside, "d", "log.txt"), OUTSIDE_LOG);
  writeFileSync(join(outside, "d", "replace.txt"), SECRET);
  writeFileSync(join(outside, "d", "outside-marker"), "");
  symlinkSync(join(outside, "d"), join(root, "d-swap"));
});
afterAll(() => base.cleanup());

const OUTSIDE_NAMES = ["log.txt", "outside-marker", "replace.txt", "secret.txt"];

// Searches through "d": SECRET is only in the outside files, so any match, by name or by
// content, came from outside; "^inside$" is only in the inside d/secret.txt, so its matches
// show the searches did run through "d" while it flipped.
const SEARCHES: { args: Record<string, unknown>; inside?: boolean }[] = [
  { args: { path: ".", pattern: "*.txt", content: SECRET } },
  { args: { path: "d", pattern: "*", content: SECRET } },
  { args: { path: ".", pattern: "outside-marker" } },
  { args: { path: ".", pattern: "*", content: "^inside$" }, inside: true },
];

/** Runs the four kinds of call round-robin, and a search after each listing, until `calls` are done or `ms` have passed; counts every escape. */
async function hammer(call: Call, calls: number, ms: number) {
  const escapes = { reads: 0, writes: 0, listings: 0, searches: 0 };
  writeFileSync(join(outside, "d", "log.txt"), OUTSIDE_LOG);
  writeFileSync(join(outside, "d", "replace.txt"), SECRET);
  const done = { reads: 0, insideReads: 0, writes: 0, listings: 0, insideListings: 0, refused: 0, searches: 0, insideSearches: 0 };
  const until = performance.now() + ms;
  for (let i = 0; i < calls && performance.now() < until; i++) {
    switch (i % 4) {
      case 0: {
        const r = await call("read_file", { path: "d/secret.txt" });
        done.reads++;
        const text = r.content[0]?.text ?? "";
        if (text.includes(SECRET)) escapes.reads++;
        if (!r.isError && text === "inside") done.insideReads++;
        if (r.isError) done.refused++;
        break;
      }
      case 1: {
        await call("write_file", { path: "d/log.txt", content: "x", append: true });
        done.writes++;
        break;
      }
      case 2: {
        await call("write_file", { path: i % 8 === 2 ? "d/replace.txt" : `d/new-${i % 40}.txt`, content: "written" });
        done.writes++;
        break;
      }
      case 3: {
        // Half the listings start above "d" and walk into it: each folder is opened beneath the last.
        const r = await call("list_directory", i % 8 === 3 ? { path: "d" } : { path: ".", recursive: true, include_size: true });
        done.listings++;
        const text = r.content[0]?.text ?? "";
        if (text.includes("outside-marker")) escapes.listings++;
        if (text.includes("inside-marker")) done.insideListings++;
        const search = SEARCHES[(i >> 2) % SEARCHES.length]!;
        const found = await call("search_files", search.args);
        done.searches++;
        const matches: string[] = found.isError ? [] : JSON.parse(found.content[0]!.text).matches;
        if (!search.inside) escapes.searches += matches.length > 0 ? 1 : 0;
        else if (matches.includes("d/secret.txt")) done.insideSearches++;
        break;
      }
    }
  }
  // Writes that escaped show up outside: bytes appended to the log, a changed replace.txt, new files.
  const log = readFileSync(join(outside, "d", "log.txt"), "utf8");
  escapes.writes += log.startsWith(OUTSIDE_LOG) ? log.length - OUTSIDE_LOG.length : 1;
  if (readFileSync(join(outside, "d", "replace.txt"), "utf8") !== SECRET) escapes.writes++;
  escapes.writes += readdirSync(join(outside, "d")).filter((n) => !OUTSIDE_NAMES.includes(n)).length;
  return { escapes, done };
}

const linux = process.platform === "linux";

describe.if(linux)("a folder flipped to a symlink pointing outside, during calls", () => {
  test("in-process: no read, write, listing or search reaches outside", async () => {
    const s = await inProcess({ roots: [root] });
    const call: Call = (name, args) => s.client.callTool({ name, arguments: args }) as Promise<Result>;
    const flipper = await startFlipper(15_000);
    let outcome: Awaited<ReturnType<typeof hammer>>;
    let flips: number;
    try {
      outcome = await hammer(call, 4000, 4000);
    } finally {
      flips = await flipper.stop();
      await s.close();
    }
    console.log("in-process", flips, "flips", JSON.stringify(outcome));
    // The flips were seen: some reads got the inside file, some were refused or found nothing.
    expect(outcome.done.insideReads).toBeGreaterThan(0);
    expect(outcome.done.refused).toBeGreaterThan(0);
    expect(outcome.done.insideSearches).toBeGreaterThan(0);
    expect(outcome.escapes).toEqual({ reads: 0, writes: 0, listings: 0, searches: 0 });
  }, 30_000);

  test("through the binary: no read, write, listing or search reaches outside", async () => {
    const c = await connectBinary({ args: ["--root", root] });
    const call: Call = (name, args) => c.client.callTool({ name, arguments: args }) as Promise<Result>;
    const flipper = await startFlipper(15_000);
    let outcome: Awaited<ReturnType<typeof hammer>>;
    let flips: number;
    try {
      outcome = await hammer(call, 2000, 4000);
    } finally {
      flips = await flipper.stop();
      await c.close();
    }
    console.log("binary", flips, "flips", JSON.stringify(outcome));
    expect(outcome.done.insideReads).toBeGreaterThan(0);
    expect(outcome.escapes).toEqual({ reads: 0, writes: 0, listings: 0, searches: 0 });
  }, 60_000);

  test("the openat walk (Linux before 5.6, or openat2 blocked): no read, write, listing or search reaches outside", async () => {
    const workspace = testWorkspace([root], { confine: "openat" });
    const flipper = await startFlipper(15_000);
    let outcome: Awaited<ReturnType<typeof hammer>>;
    let flips: number;
    try {
      outcome = await hammer(directCall(workspace), 4000, 4000);
    } finally {
      flips = await flipper.stop();
    }
    console.log("openat walk", flips, "flips", JSON.stringify(outcome));
    expect(outcome.done.insideReads).toBeGreaterThan(0);
    expect(outcome.escapes).toEqual({ reads: 0, writes: 0, listings: 0, searches: 0 });
  }, 30_000);
});

describe.if(linux)("descriptors", () => {
  test("every descriptor opened is closed again, on success and on every refusal, under every guard", async () => {
    const dir = join(base.path, "fds");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "a.txt"), "a\nb\n");
    writeFileSync(join(dir, "bin.dat"), Buffer.from([0, 1, 2, 0]));
    writeFileSync(join(dir, "big.txt"), "x".repeat(200));
    writeFileSync(join(outside, "linked.txt"), "outside");
    linkSync(join(outside, "linked.txt"), join(dir, "linked.txt"));
    symlinkSync(outside, join(dir, "out"));
    Bun.spawnSync(["mkfifo", join(dir, "fifo")]);
    const calls: [string, Record<string, unknown>][] = [
      ["read_file", { path: "a.txt" }],
      ["read_file", { path: "a.txt", tail: 1 }],
      ["read_file", { path: "missing.txt" }],
      ["read_file", { path: "out/linked.txt" }],
      ["read_file", { path: "sub" }],
      ["read_file", { path: "bin.dat" }],
      ["read_file", { path: "big.txt" }],
      ["read_file", { path: "linked.txt" }],
      ["read_file", { path: "fifo" }],
      ["write_file", { path: "w.txt", content: "x" }],
      ["write_file", { path: "w.txt", content: "x", append: true }],
      ["write_file", { path: "linked.txt", content: "x", append: true }],
      ["write_file", { path: "new/deeper/w.txt", content: "x", create_dirs: true }],
      ["write_file", { path: "a.txt/w.txt", content: "x", create_dirs: true }],
      ["write_file", { path: "out/w.txt", content: "x" }],
      ["write_file", { path: "sub", content: "x" }],
      ["list_directory", { path: "." }],
      ["list_directory", { path: ".", recursive: true }],
      ["list_directory", { path: "missing" }],
      ["list_directory", { path: "a.txt" }],
      ["list_directory", { path: "out" }],
      ["search_files", { pattern: "*" }],
      ["search_files", { pattern: "*", content: "a|x" }],
      ["search_files", { pattern: "*", content: "a", max_results: 1 }],
      ["search_files", { path: "out", pattern: "*", content: "o" }],
      ["search_files", { path: "missing", pattern: "*" }],
      ["search_files", { path: "sub", pattern: "*", content: "x" }],
    ];
    const open = () => readdirSync("/proc/self/fd").length;
    for (const confine of ["openat2", "openat", "realpath"] as const) {
      const workspace = testWorkspace([dir], { maxReadBytes: 100, maxWriteBytes: 100, confine });
      const call = directCall(workspace);
      const resource = (path: string) => fileTemplate.read(`file://${join(dir, path)}`, { path: join(dir, path) }, { workspace } as never).catch(() => undefined);
      for (const [name, args] of calls) await call(name, args); // first use may open descriptors for good (libraries, thread pool)
      const before = open();
      for (let round = 0; round < 5; round++) {
        for (const [name, args] of calls) await call(name, args);
        for (const path of ["a.txt", "linked.txt", "missing", "out/linked.txt", "sub", "fifo"]) await resource(path);
      }
      expect([confine, open()]).toEqual([confine, before]);
    }
    expect(readFileSync(join(outside, "linked.txt"), "utf8")).toBe("outside");
  });
});
