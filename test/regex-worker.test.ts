// search_files' content phase: the matching loop (tables, on this thread), the worker pool
// that runs it off the protocol thread, the tool in-process with a regex that backtracks, and
// how the worker opens what it reads (beneath the folder on Linux) and lets go of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { guardFor, type MatchReport, matchFiles } from "../src/tools/content-match-worker.ts";
import { type MatchRequest, matchPool, startMatchWorker } from "../src/tools/content-match.ts";
import type { Beneath } from "../src/workspace/beneath.ts";
import { compileContentPattern } from "../src/tools/search-files.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

type Result = { content: { type: string; text: string }[]; structuredContent?: any; isError?: boolean };

const base = tempDir("tfo-regex-");
const files = join(base.path, "files");
// JSC gives up on a backtracking regex after ~0.5 s per exec and answers "no match";
// (a|a)+$ reaches that limit on 30 a's and a '!'. 20 such files keep a worker busy ~10 s.
const SLOW = "(a|a)+$";
// ~2 s per file: longer than any scheduling hiccup of a loaded machine.
const SLOWER = "^(a|a?)+$";
const slowDir = join(base.path, "slow");
const slowPaths = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(3, "0")}.txt`);

beforeAll(() => {
  mkdirSync(files);
  mkdirSync(slowDir);
  writeFileSync(join(files, "a.txt"), "first line\nTODO: here\n");
  writeFileSync(join(files, "b.txt"), "nothing to do\n");
  writeFileSync(join(files, "c.txt"), "TODO again\n");
  writeFileSync(join(files, "image.png"), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from("TODO")]));
  writeFileSync(join(files, "nul.txt"), "TODO\0");
  writeFileSync(join(files, "big.txt"), `TODO${" ".repeat(200)}`);
  writeFileSync(join(files, "qualified.java"), "import com.example.Foo;\n");
  for (const p of slowPaths) writeFileSync(join(slowDir, p), `${"a".repeat(30)}!`);
});
afterAll(() => base.cleanup());

type Job = MatchRequest & { paths: string[] };
const job = (over: Partial<Job> = {}): Job => ({
  root: files,
  folder: "",
  paths: ["a.txt", "b.txt", "big.txt", "c.txt", "image.png", "missing.txt", "nul.txt"],
  source: "TODO",
  flags: "m",
  maxBytes: 100,
  limit: 10,
  followSymlinks: true,
  allowHardlinks: false,
  ...over,
});

function collect({ paths, ...j }: Job, now?: () => number, beneath?: Beneath) {
  const reports: MatchReport[] = [];
  matchFiles({ ...j, held: new Int32Array(2).fill(-1) }, paths, (r) => reports.push(r), now, beneath);
  return { reports, matches: reports.flatMap((r) => r.matches), last: reports.at(-1)! };
}

describe("matchFiles", () => {
  test.each([
    ["text files that match, in order; binary, over-limit and missing files never match", {}, ["a.txt", "c.txt"], false],
    ["multiline: ^ and $ match at line ends", { source: "^TODO: here$" }, ["a.txt"], false],
    ["stops one match past the limit and says truncated", { limit: 1 }, ["a.txt"], true],
    ["exactly the limit is not truncated", { limit: 2 }, ["a.txt", "c.txt"], false],
    ["the read limit decides", { maxBytes: 1000 }, ["a.txt", "big.txt", "c.txt"], false],
  ] as const)("%s", (_name, over, expected, truncated) => {
    const { matches, last } = collect(job(over));
    expect(matches).toEqual([...expected]);
    expect(last).toMatchObject({ done: true, truncated });
  });

  test("reports in batches as time passes, then once more when done", () => {
    let t = 0;
    const { reports, matches } = collect(job(), () => (t += 60));
    expect(reports.filter((r) => !r.done).length).toBeGreaterThan(1);
    expect(reports.filter((r) => r.done)).toHaveLength(1);
    expect(reports.map((r) => r.searched)).toEqual([...reports.map((r) => r.searched)].sort((a, b) => a - b));
    expect(matches).toEqual(["a.txt", "c.txt"]);
  });

  test("a quick search sends a first report before any file, then the last one", () => {
    const { reports } = collect(job(), () => 0);
    expect(reports).toEqual([
      { matches: [], searched: 0, done: false, truncated: false },
      { matches: ["a.txt", "c.txt"], searched: 7, done: true, truncated: false },
    ]);
  });
});

describe("compileContentPattern", () => {
  test("a bad pattern is refused at once with the engine's reason; a slow one is not refused", () => {
    const started = performance.now();
    const bad = compileContentPattern("(");
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toStartWith("content is not a valid regular expression: ");
    expect(compileContentPattern("x".repeat(1001))).toEqual({ ok: false, error: "content pattern is longer than 1000 characters" });
    expect(compileContentPattern(SLOW).ok).toBe(true);
    expect(compileContentPattern("(\\w+\\.)+\\w+").ok).toBe(true);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

/** The longest gap between ticks of a 10 ms timer on this thread while `work` runs (it starts after the timer). */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stall: number }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 10);
  try {
    const value = await work();
    return { value, stall: Math.max(stall, performance.now() - last) };
  } finally {
    clearInterval(timer);
  }
}

describe("matchPool: the worker", () => {
  test("gives the same answer as the loop, and keeps its worker for the next search", async () => {
    let started = 0;
    const pool = matchPool(() => (started++, startMatchWorker()));
    const signal = new AbortController().signal;
    expect(await pool.run(job(), { signal })).toEqual({ ok: true, matches: ["a.txt", "c.txt"], truncated: false });
    expect(pool.idle()).toBeDefined();
    expect(await pool.run(job({ limit: 1 }), { signal })).toEqual({ ok: true, matches: ["a.txt"], truncated: true });
    expect(started).toBe(1);
  });

  test("searches at the same time get a worker each; one is kept", async () => {
    let started = 0;
    const pool = matchPool(() => (started++, startMatchWorker()));
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([pool.run(job(), { signal }), pool.run(job({ source: "nothing" }), { signal })]);
    expect(a).toEqual({ ok: true, matches: ["a.txt", "c.txt"], truncated: false });
    expect(b).toEqual({ ok: true, matches: ["b.txt"], truncated: false });
    expect(started).toBe(2);
    await pool.run(job(), { signal });
    expect(started).toBe(2);
  });

  test("abort ends a backtracking search at once and stops its thread; the next search starts a new worker", async () => {
    let started = 0;
    let closed: Promise<"closed"> | undefined;
    const pool = matchPool(() => {
      const worker = startMatchWorker();
      if (started++ === 0) closed = new Promise((resolve) => worker.addEventListener("close", () => resolve("closed")));
      return worker;
    });
    const controller = new AbortController();
    const progress: number[] = [];
    const run = pool.run(job({ root: slowDir, paths: slowPaths, source: SLOW }), { signal: controller.signal, progress: (n) => progress.push(n) });
    // A report after the first file (~0.5 s): proof that the regex is running.
    while (!progress.some((n) => n >= 1)) await Bun.sleep(10);
    const abortedAt = performance.now();
    controller.abort();
    expect(await run).toEqual({ ok: false, error: "Cancelled." });
    expect(performance.now() - abortedAt).toBeLessThan(100);
    // The thread ends when its current exec gives up (~0.5 s), not after the other 19 files.
    expect(await Promise.race([closed!, Bun.sleep(5000).then(() => "still running")])).toBe("closed");
    expect(pool.idle()).toBeUndefined();
    expect(await pool.run(job(), { signal: new AbortController().signal })).toMatchObject({ ok: true, matches: ["a.txt", "c.txt"] });
    expect(started).toBe(2);
  }, 20_000);

  test("this thread's timers keep running while the worker backtracks", async () => {
    const pool = matchPool();
    const signal = new AbortController().signal;
    const { value, stall } = await longestStall(() => pool.run(job({ root: slowDir, paths: slowPaths.slice(0, 2), source: SLOWER }), { signal }));
    expect(value).toEqual({ ok: true, matches: [], truncated: false });
    expect(stall).toBeLessThan(400);
  }, 20_000);

  test("searches widen to more workers only while the process has fewer than its cap; each still gets one", async () => {
    let started = 0;
    // Up to 4 workers a search, 3 in the process.
    const pool = matchPool(() => (started++, startMatchWorker()), 4, 3);
    const controller = new AbortController();
    const { paths: _p, ...slow } = job({ root: slowDir, source: SLOW });
    const searches = [pool.begin(slow, { signal: controller.signal }), pool.begin(slow, { signal: controller.signal })];
    // Batches while the first are busy (each file takes ~0.5 s): each search asks for more workers.
    for (const search of searches) for (let i = 0; i < 4; i++) void search.add(slowPaths.slice(i * 2, i * 2 + 2));
    // The first search widened to 3, the cap; the second got its one: 4, not 8.
    expect(await until(() => pool.live() >= 4, 5000, 10)).toBe(true);
    await Bun.sleep(100);
    expect(pool.live()).toBe(4);
    expect(started).toBe(4);
    controller.abort();
    await Promise.all(searches.map((s) => s.finish()));
    // Their threads end with their current regex (~0.5 s): none is left for the next test.
    expect(await until(() => pool.live() === 0, 10_000, 20)).toBe(true);
  }, 20_000);

  test("an aborted signal starts no worker", async () => {
    let started = 0;
    const controller = new AbortController();
    controller.abort();
    const outcome = await matchPool(() => (started++, startMatchWorker())).run(job(), { signal: controller.signal });
    expect(outcome).toEqual({ ok: false, error: "Cancelled." });
    expect(started).toBe(0);
  });

  test("a worker that throws is an error value, and is not kept", async () => {
    const script = `addEventListener("message", () => { throw new Error("disk on fire"); });`;
    const pool = matchPool(() => new Worker(URL.createObjectURL(new Blob([script], { type: "application/javascript" }))));
    const outcome = await pool.run(job(), { signal: new AbortController().signal });
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toContain("disk on fire");
    expect(pool.idle()).toBeUndefined();
  });
});

describe("search_files in-process", () => {
  let s: Awaited<ReturnType<typeof inProcess>>;
  beforeAll(async () => {
    s = await inProcess({ roots: [base.path], config: { mcp: { tool_timeout: 1 }, workspace: { max_read_bytes: 100 } } });
    await s.client.listTools();
  });
  afterAll(() => s.close());
  const call = (args: Record<string, unknown>, options?: Parameters<typeof s.client.callTool>[2]) =>
    s.client.callTool({ name: "search_files", arguments: args }, undefined, options) as Promise<Result>;

  test("a pattern the old nested-quantifier check refused now searches", async () => {
    const r = await call({ path: "files", pattern: "*", content: "(\\w+\\.)+\\w+" });
    expect(r.isError).toBeUndefined();
    expect(r.structuredContent.matches).toEqual(["qualified.java"]);
  });

  test("an invalid pattern is refused before any search", async () => {
    const r = await call({ pattern: "*", content: "(unclosed" });
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toStartWith("content is not a valid regular expression: ");
  });

  test("content progress reaches a client that asked for it", async () => {
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const controller = new AbortController();
    const call1 = call({ path: "slow", pattern: "*", content: SLOW }, { onprogress: (p) => seen.push(p), signal: controller.signal }).catch(() => undefined);
    while (seen.length === 0) await Bun.sleep(10);
    controller.abort();
    await call1;
    expect(seen[0]).toMatchObject({ total: slowPaths.length });
    expect(seen[0]!.message).toBe(`${seen[0]!.progress} of ${slowPaths.length} files searched`);
  }, 20_000);

  test("the deadline wins over a backtracking regex; ping is answered meanwhile; the next search works", async () => {
    const started = performance.now();
    let done = false;
    const run = call({ path: "slow", pattern: "*", content: SLOW }).finally(() => (done = true));
    const pings: number[] = [];
    while (!done) {
      const t = performance.now();
      await s.client.ping({ timeout: 3000 });
      pings.push(performance.now() - t);
      await Promise.race([run, Bun.sleep(50)]);
    }
    const r = await run;
    expect(r.content[0]!.text).toBe("search_files took longer than 1 s (mcp.tool_timeout) and was stopped.");
    expect(performance.now() - started).toBeLessThan(4000);
    expect(pings.length).toBeGreaterThan(5);
    expect(Math.max(...pings)).toBeLessThan(1000);
    const next = await call({ path: "files", pattern: "*", content: "TODO" });
    expect(next.structuredContent.matches).toEqual(["a.txt", "c.txt"]);
  }, 20_000);
});

// The worker opens what it reads itself: the folder beneath the root, each file beneath the
// folder (Linux), so the walk's names cannot be turned into a read outside by a swap.
describe.if(process.platform === "linux")("the worker opens files beneath the folder", () => {
  const root = join(base.path, "confined");
  const outside = join(base.path, "outside");
  let beneath: Beneath;
  let walkByOpenat: Beneath;
  beforeAll(async () => {
    mkdirSync(join(root, "sub"), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(root, "sub", "a.txt"), "TODO inside\n");
    writeFileSync(join(outside, "a.txt"), "TODO outside\n");
    symlinkSync("a.txt", join(root, "sub", "alias.txt"));
    symlinkSync(outside, join(root, "sub", "out"));
    symlinkSync("../../outside", join(root, "sub", "up"));
    symlinkSync(outside, join(root, "linked-folder"));
    Bun.spawnSync(["mkfifo", join(root, "sub", "fifo")]);
    beneath = (await guardFor(undefined))!;
    walkByOpenat = (await guardFor("openat"))!;
    expect(beneath).toBeDefined();
    expect(walkByOpenat.guard).toBe("openat");
  });
  const confined = (over: Partial<Job> = {}) => job({ root, folder: "sub", limit: 10, paths: ["a.txt", "alias.txt", "fifo", "out/a.txt", "up/a.txt"], ...over });

  test.each([
    ["symlinks that stay in the folder are followed; ones that leave it never are", {}, ["a.txt", "alias.txt"]],
    ["with follow_symlinks false none is", { followSymlinks: false }, ["a.txt"]],
  ] as const)("%s (a FIFO does not block)", (_name, over, expected) => {
    for (const guard of [beneath, walkByOpenat]) {
      const { matches, last } = collect(confined(over), undefined, guard);
      expect([guard.guard, matches, last.error]).toEqual([guard.guard, [...expected], undefined]);
    }
  });

  test("a searched folder that is now a symlink out is not opened: the search says so", () => {
    const { matches, last } = collect(confined({ folder: "linked-folder" }), undefined, beneath);
    expect(matches).toEqual([]);
    expect(last).toMatchObject({ done: true });
    expect(last.error).toBe("The folder linked-folder could not be opened for the content search (it was swapped for a symlink meanwhile); search again.");
  });

  test("what the worker held is released when a search ends, whichever way", () => {
    const held = new Int32Array(2).fill(-1);
    const { paths, ...j } = confined();
    const reports: MatchReport[] = [];
    matchFiles({ ...j, held }, paths, (r) => reports.push(r), undefined, beneath);
    expect([...held]).toEqual([-1, -1]);
    matchFiles({ ...j, held, limit: 0 }, paths, (r) => reports.push(r), undefined, beneath);
    expect(reports.at(-1)).toMatchObject({ done: true, truncated: true });
    expect([...held]).toEqual([-1, -1]);
  });

  test("a worker terminated mid-search leaves no descriptor open once its thread has ended", async () => {
    // Descriptors of this process that have the slow folder open.
    const onSlow = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === slowDir;
        } catch {
          return false;
        }
      }).length;
    let closed: Promise<void> | undefined;
    const pool = matchPool(() => {
      const worker = startMatchWorker();
      closed = new Promise((resolve) => worker.addEventListener("close", () => resolve()));
      return worker;
    });
    const controller = new AbortController();
    const progress: number[] = [];
    // The folder is held open through the whole search; SLOW keeps the worker in a regex.
    const run = pool.run(job({ root: base.path, folder: "slow", paths: slowPaths, source: SLOW }), { signal: controller.signal, progress: (n) => progress.push(n) });
    expect(await until(() => progress.some((n) => n >= 1), 10_000)).toBe(true);
    expect(onSlow()).toBe(1);
    controller.abort();
    expect(await run).toEqual({ ok: false, error: "Cancelled." });
    await closed;
    expect(await until(() => onSlow() === 0, 5000)).toBe(true);
  }, 20_000);
});

describe("matchPool: candidates in batches", () => {
  test("each batch resolves once searched; the limit ends the search and says so; the outcome holds every match in order", async () => {
    const pool = matchPool();
    const { paths: _paths, ...request } = job({ limit: 3 });
    const searched: number[] = [];
    const search = pool.begin(request, { signal: new AbortController().signal, progress: (n) => searched.push(n) });
    await search.add(["a.txt", "b.txt"]);
    expect(searched.at(-1)).toBe(2);
    expect(search.ended()).toBe(false);
    await search.add(["c.txt", "image.png"]);
    expect(search.ended()).toBe(false);
    await search.add(["a.txt", "c.txt"]);
    expect(search.ended()).toBe(true);
    // Candidates after the end are not searched.
    await search.add(["a.txt"]);
    expect(await search.finish(["c.txt"])).toEqual({ ok: true, matches: ["a.txt", "c.txt", "a.txt"], truncated: true });
    expect(pool.idle()).toBeDefined();
  });

  test("a search that is handed no candidates starts no worker", async () => {
    let started = 0;
    const pool = matchPool(() => (started++, startMatchWorker()));
    const { paths: _paths, ...request } = job();
    expect(await pool.begin(request, { signal: new AbortController().signal }).finish()).toEqual({ ok: true, matches: [], truncated: false });
    expect(started).toBe(0);
  });
});
