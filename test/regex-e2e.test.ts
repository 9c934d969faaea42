// The compiled binary over stdio: a search_files content regex that backtracks for minutes
// must never stop the server answering. The deadline and a cancel end it; ping is answered
// all along; the worker is the one embedded in the executable, even from an empty folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./helpers/binary.ts";
import { connectBinary, type Connected, textOf } from "./helpers/client.ts";
import { tempDir } from "./helpers/tmp.ts";

type Result = { content: { type: string; text: string }[]; structuredContent?: any; isError?: boolean };

const base = tempDir("tfo-regex-e2e-");
const root = join(base.path, "ws");
// Each of these patterns makes JSC backtrack to its limit (~0.5 s per file here) on 30 a's
// and a '!': 130 files are over a minute of matching, run inline.
const PATTERNS = ["(a|a)+$", "((a+))+$", "(a{1,30}){1,30}$", "(\\w+\\s?)+$"];
const FILES = 130;

beforeAll(async () => {
  mkdirSync(join(root, "slow"), { recursive: true });
  mkdirSync(join(root, "normal"));
  for (let i = 0; i < FILES; i++) writeFileSync(join(root, "slow", `f${String(i).padStart(3, "0")}.txt`), `${"a".repeat(30)}!`);
  writeFileSync(join(root, "normal", "n.txt"), "a needle here\n");
  writeFileSync(join(root, "normal", "other.txt"), "hay\n");
  await binary();
}, 120_000);
afterAll(() => base.cleanup());

const normalSearch = { path: "normal", pattern: "*", content: "needle" };

/** Polls a condition every 10 ms, up to `ms`; true when it held. */
async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (!condition() && performance.now() < until) await Bun.sleep(10);
  return condition();
}

/** Calls search_files and pings every ~50 ms until the call settles; each ping's start and round trip in ms. */
async function searchWhilePinging(client: Client, args: Record<string, unknown>) {
  let progressAt: number | undefined;
  let settled = false;
  const started = performance.now();
  const call = (
    client.callTool({ name: "search_files", arguments: args }, undefined, { onprogress: () => (progressAt ??= performance.now()), timeout: 60_000 }) as Promise<Result>
  ).finally(() => (settled = true));
  // A failing ping ends the test early; the abandoned call must not fail the next test too.
  call.catch(() => {});
  const pings: { at: number; ms: number }[] = [];
  while (!settled) {
    const t = performance.now();
    // A frozen server fails here within 5 s rather than after the whole search.
    await client.ping({ timeout: 5000 });
    pings.push({ at: t, ms: performance.now() - t });
    await Promise.race([call, Bun.sleep(50)]);
  }
  return { result: await call, elapsed: performance.now() - started, pings, progressAt };
}

describe("a backtracking content regex on the compiled binary", () => {
  let c: Connected;
  beforeAll(async () => {
    c = await connectBinary({ cwd: root, env: { TELEMETRYFLOW_MCP_MCP__TOOL_TIMEOUT: "2" } });
    await c.client.listTools();
  });
  afterAll(() => c.close());

  test.each(PATTERNS)("%s: ping answers while it runs, the 2 s deadline ends it, the server serves on", async (content) => {
    const run = await searchWhilePinging(c.client, { path: "slow", pattern: "*", content });
    expect(run.result.isError).toBe(true);
    expect(textOf(run.result)).toBe("search_files took longer than 2 s (mcp.tool_timeout) and was stopped.");
    expect(run.elapsed).toBeGreaterThan(1900);
    expect(run.elapsed).toBeLessThan(6000);
    // The worker reported progress, so the pings after it overlapped the regex itself.
    expect(run.progressAt).toBeDefined();
    expect(run.pings.filter((p) => p.at > run.progressAt!).length).toBeGreaterThan(3);
    expect(Math.max(...run.pings.map((p) => p.ms))).toBeLessThan(2000);
    const next = (await c.client.callTool({ name: "search_files", arguments: normalSearch })) as Result;
    expect(next.structuredContent).toEqual({ matches: ["n.txt"], count: 1, truncated: false, path: "normal" });
  }, 30_000);
});

describe("cancelling a backtracking search", () => {
  test("the search stops at once (the server's own audit says when), ping answers, the next search works", async () => {
    // The default deadline (30 s): only the cancel can end this search early.
    const c = await connectBinary({ cwd: root });
    try {
      await c.client.listTools();
      const audits: { tool: string; ms: number; outcome: string }[] = [];
      c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        audits.push(n.params.data as (typeof audits)[number]);
      });
      await c.client.setLoggingLevel("info");
      const controller = new AbortController();
      let progressed = false;
      const started = performance.now();
      const call = c.client.callTool({ name: "search_files", arguments: { path: "slow", pattern: "*", content: PATTERNS[0] } }, undefined, {
        onprogress: () => (progressed = true),
        signal: controller.signal,
        timeout: 60_000,
      });
      const settled = call.then(
        () => "answered",
        () => "rejected",
      );
      // The worker reports after its first file: the regex is running.
      expect(await waitFor(() => progressed, 10_000)).toBe(true);
      const cancelledAfter = performance.now() - started;
      controller.abort("changed my mind");
      expect(await settled).toBe("rejected");
      expect(await waitFor(() => audits.some((a) => a.tool === "search_files"), 5000)).toBe(true);
      const audit = audits.find((a) => a.tool === "search_files")!;
      expect(audit.outcome).toBe("error");
      expect(audit.ms).toBeLessThan(cancelledAfter + 1000);
      const t = performance.now();
      await c.client.ping({ timeout: 5000 });
      expect(performance.now() - t).toBeLessThan(1000);
      const next = (await c.client.callTool({ name: "search_files", arguments: normalSearch })) as Result;
      expect(next.structuredContent.matches).toEqual(["n.txt"]);
    } finally {
      await c.close();
    }
  }, 30_000);
});

describe("the worker inside the executable", () => {
  test("runs from an empty folder with an empty PATH, and never loads a worker file from the working folder", async () => {
    const alone = join(base.path, "alone");
    const decoys = join(base.path, "decoys");
    mkdirSync(alone);
    mkdirSync(join(decoys, "src", "tools"), { recursive: true });
    const bin = join(alone, "tfo-mcp");
    copyFileSync(await binary(), bin);
    // A worker file that would answer a match for every search, where a worker path relative
    // to the working folder would find it.
    const decoy = `addEventListener("message", () => postMessage({ matches: ["DECOY"], searched: 1, done: true, truncated: false }));`;
    for (const p of ["content-match-worker.ts", "content-match-worker.js", "tools/content-match-worker.js", "src/tools/content-match-worker.ts"]) {
      mkdirSync(join(decoys, p, ".."), { recursive: true });
      writeFileSync(join(decoys, p), decoy);
    }
    for (const cwd of [decoys, alone]) {
      const transport = new StdioClientTransport({ command: bin, args: ["serve", "--root", root], cwd, env: { PATH: "", HOME: alone }, stderr: "pipe" });
      const client = new Client({ name: "alone", version: "1" });
      await client.connect(transport);
      try {
        await client.listTools();
        const r = (await client.callTool({ name: "search_files", arguments: normalSearch })) as Result;
        expect(r.structuredContent).toEqual({ matches: ["n.txt"], count: 1, truncated: false, path: "normal" });
      } finally {
        await client.close();
      }
    }
  });
});
