// `bun run bench`: builds tfo-mcp and two reference echo servers, then measures start-up,
// call latency, throughput, memory and file-tree work side by side in one run, and prints
// absolute figures with ratios against the references. `--json` for machines,
// `--files N` for the tree size (default 50,000), `--runs N` for repetitions.
// `--only telemetry`: the same binary with telemetry off and on (gRPC and HTTP, to a local
// OTLP receiver): throughput, latency and start-up.
// `--only http`: Streamable HTTP against the reference server-everything (a devDependency, run
// with node, or $BENCH_NODE): calls/s at 1 session and at 200, p50/p99, RSS, memory per idle
// session. `--http-runs N` (default 3), `--http-calls N` (default 5,000 per measurement).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../build.ts";
import { startGrpcReceiver, startHttpReceiver } from "../test/helpers/otlp-receiver.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const JSON_OUT = argv.includes("--json");
const FILES = flag("files", 50_000);
const RUNS = flag("runs", 15);
// --only start,calls,memory,tree,search,telemetry,http: measure a subset while working on one figure.
const onlyAt = argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set(argv[onlyAt + 1]!.split(",")) : undefined;
const want = (part: string) => !ONLY || ONLY.has(part);
const say = (text: string) => {
  if (!JSON_OUT) process.stderr.write(`${text}\n`);
};

type Stats = { median: number; min: number; max: number; p99?: number };
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! };
};

const INIT = `${JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } })}\n`;
const INITIALIZED = `${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`;
const call = (id: number, name: string, args: Record<string, unknown>) => `${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } })}\n`;

// Telemetry stays off unless a measurement turns it on, whatever the caller's environment says.
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TELEMETRYFLOW_") && !k.startsWith("OTEL_")));

/** A server process with a line reader that resolves responses by id. */
function start(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd, stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { ...BASE_ENV, ...env } });
  const waiting = new Map<number, (m: any) => void>();
  let firstLineAt = 0;
  let lastLineAt = 0;
  const done = (async () => {
    const decoder = new TextDecoder();
    // Only the new chunk is scanned for a newline: a multi-megabyte response must not cost
    // the reader quadratic time and blur what the server spent.
    let pending: string[] = [];
    for await (const chunk of proc.stdout) {
      let text = decoder.decode(chunk, { stream: true });
      let nl = text.indexOf("\n");
      while (nl !== -1) {
        if (!firstLineAt) firstLineAt = performance.now();
        pending.push(text.slice(0, nl));
        // A response counts as returned when its last byte has arrived; parsing is the client's cost.
        lastLineAt = performance.now();
        const m = JSON.parse(pending.length === 1 ? pending[0]! : pending.join(""));
        pending = [];
        text = text.slice(nl + 1);
        nl = text.indexOf("\n");
        waiting.get(m.id)?.(m);
        waiting.delete(m.id);
      }
      if (text) pending.push(text);
    }
  })();
  const send = (text: string) => {
    proc.stdin.write(text);
    proc.stdin.flush();
  };
  const response = (id: number) => new Promise<any>((resolve) => waiting.set(id, resolve));
  return {
    proc,
    send,
    response,
    firstLineAt: () => firstLineAt,
    lastLineAt: () => lastLineAt,
    rss: () => Number(readFileSync(`/proc/${proc.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024,
    async stop() {
      proc.stdin.end();
      proc.kill();
      await proc.exited;
      await done.catch(() => {});
    },
  };
}

async function coldStart(cmd: string[], cwd: string, env?: Record<string, string>): Promise<Stats> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const s = start(cmd, cwd, env);
    const r = s.response(0);
    s.send(INIT);
    await r;
    times.push(s.firstLineAt() - t0);
    await s.stop();
  }
  return stats(times);
}

async function session(cmd: string[], cwd: string, env?: Record<string, string>) {
  const s = start(cmd, cwd, env);
  const r = s.response(0);
  s.send(INIT);
  await r;
  s.send(INITIALIZED);
  return s;
}

async function latency(cmd: string[], cwd: string, n = 2000, env?: Record<string, string>): Promise<Stats> {
  const s = await session(cmd, cwd, env);
  const times: number[] = [];
  for (let i = 1; i <= n; i++) {
    const t0 = performance.now();
    const r = s.response(i);
    s.send(call(i, "echo", { message: "hi" }));
    await r;
    if (i > 100) times.push(performance.now() - t0);
  }
  await s.stop();
  return stats(times);
}

async function throughput(cmd: string[], cwd: string, n = 5000, env?: Record<string, string>): Promise<number> {
  const s = await session(cmd, cwd, env);
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let batch = "";
    const base = round * n + 1;
    for (let i = 0; i < n; i++) batch += call(base + i, "echo", { message: `m${i}` });
    const last = s.response(base + n - 1);
    const t0 = performance.now();
    s.send(batch);
    await last;
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  await s.stop();
  return stats(rates).median;
}

async function memory(cmd: string[], cwd: string): Promise<{ idle: number; after10k: number; after100k: number }> {
  const s = await session(cmd, cwd);
  await Bun.sleep(300);
  const idle = s.rss();
  let id = 1;
  const burst = async (n: number) => {
    for (let done = 0; done < n; done += 5000) {
      let batch = "";
      for (let i = 0; i < 5000; i++) batch += call(id++, "echo", { message: "m" });
      const last = s.response(id - 1);
      s.send(batch);
      await last;
    }
  };
  await burst(10_000);
  const after10k = s.rss();
  await burst(90_000);
  const after100k = s.rss();
  await s.stop();
  return { idle, after10k, after100k };
}

const PER_DIR = 50;
const treeDir = (root: string, i: number) => join(root, `d${Math.floor(i / (PER_DIR * 20))}`, `s${Math.floor(i / PER_DIR) % 20}`);
const treeName = (i: number) => (i === Math.floor(FILES * 0.7) ? "needle-unique.md" : `f${i}.${i % 3 ? "txt" : "ts"}`);

/** Deterministic tree: FILES files in folders of 50, with one file named needle-unique.md. */
function makeTree(root: string) {
  for (let i = 0; i < FILES; i++) {
    const dir = treeDir(root, i);
    if (i % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, treeName(i)), "x");
  }
}

const NEEDLE_EVERY = 500;
/**
 * Gives one file in NEEDLE_EVERY a few lines, two of them with "needle", names unchanged (the
 * name search and the listing do not see it); the files it changed.
 */
function seedNeedles(root: string): number {
  let seeded = 0;
  for (let i = NEEDLE_EVERY / 2; i < FILES; i += NEEDLE_EVERY, seeded++) {
    writeFileSync(join(treeDir(root, i), treeName(i)), `// file ${i}\nconst a = 1;\n// a needle in line 3\nconst b = 2;\nexport const needle = a + b;\n`);
  }
  return seeded;
}

function timeCommand(cmd: string[], cwd: string, runs = Math.max(5, Math.floor(RUNS / 2))): Stats {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd, stdio: ["ignore", "pipe", "ignore"] });
    times.push(performance.now() - t0);
    if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd.join(" ")} failed`);
  }
  return stats(times);
}

async function timeTool(s: Awaited<ReturnType<typeof session>>, name: string, args: Record<string, unknown>, check: (r: any) => void, runs = Math.max(5, Math.floor(RUNS / 2))): Promise<Stats> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = 100_000 + Math.floor(Math.random() * 1e9);
    const r = s.response(id);
    const t0 = performance.now();
    s.send(call(id, name, args));
    const m = await r;
    times.push(s.lastLineAt() - t0);
    check(m);
  }
  return stats(times);
}

// --- Streamable HTTP, paired against the reference server-everything (npm, run with node). ---

const HTTP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const HTTP_INIT = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } });
const HTTP_INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });

type HttpServer = { name: string; url: string; rss: () => number; stop: () => Promise<void> };

/** Spawns a server and waits until its stderr says where it listens. */
async function startHttp(name: string, cmd: string[], env: Record<string, string>, urlOf: (stderr: string) => string | undefined): Promise<HttpServer> {
  const proc = Bun.spawn(cmd, { cwd: tmpdir(), stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...BASE_ENV, ...env } });
  let text = "";
  // Read stderr to the end, or a chatty server would block on a full pipe.
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk);
  })();
  const deadline = performance.now() + 20_000;
  let url: string | undefined;
  while (!(url = urlOf(text))) {
    if (proc.exitCode !== null || performance.now() > deadline) {
      proc.kill();
      throw new Error(`${name} did not start (${cmd.join(" ")}):\n${text}`);
    }
    await Bun.sleep(20);
  }
  return {
    name,
    url,
    rss: () => Number(readFileSync(`/proc/${proc.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/** A free loopback port, for a server that cannot be told to pick its own and say which. */
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The JSON-RPC message of a POST's answer, whether sent as JSON or as one SSE event. */
async function rpcAnswer(res: Response): Promise<any> {
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).filter(Boolean);
    return JSON.parse(data[data.length - 1]!);
  }
  return JSON.parse(text);
}

/** initialize + notifications/initialized; the headers every later request of the session carries. */
async function httpSession(url: string): Promise<Record<string, string>> {
  const init = await fetch(url, { method: "POST", headers: HTTP_HEADERS, body: HTTP_INIT });
  const id = init.headers.get("mcp-session-id");
  const m = await rpcAnswer(init);
  if (!id || !m.result) throw new Error(`initialize at ${url} gave no session: ${JSON.stringify(m).slice(0, 300)}`);
  const headers = { ...HTTP_HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" };
  const ack = await fetch(url, { method: "POST", headers, body: HTTP_INITIALIZED });
  await ack.text();
  if (ack.status !== 202 && ack.status !== 200) throw new Error(`notifications/initialized at ${url}: HTTP ${ack.status}`);
  return headers;
}

async function httpEcho(url: string, headers: Record<string, string>, id: number): Promise<void> {
  const m = await rpcAnswer(await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: `m${id}` } } }) }));
  if (m.id !== id || m.result?.isError || !JSON.stringify(m.result?.content ?? "").includes(`m${id}`)) throw new Error(`echo ${id}: ${JSON.stringify(m).slice(0, 300)}`);
}

/** Runs `job(i)` for i in [0, n) with `width` in flight; the times of each, in ms. */
async function pool(n: number, width: number, job: (i: number) => Promise<void>): Promise<{ seconds: number; times: number[] }> {
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await job(i);
        times.push(performance.now() - t);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, times };
}

/** Calls spread round-robin over `sessions`, `width` in flight: calls/s and every call's latency. */
async function httpLoad(url: string, sessions: Record<string, string>[], n: number, width: number) {
  await pool(Math.min(500, n), width, (i) => httpEcho(url, sessions[i % sessions.length]!, i + 1)); // warm-up
  const { seconds, times } = await pool(n, width, (i) => httpEcho(url, sessions[i % sessions.length]!, 1_000_000 + i));
  return { rate: n / seconds, times };
}

/** RSS once it has stopped moving (the servers free and collect lazily after a burst). */
async function settledRss(s: HttpServer): Promise<number> {
  let last = s.rss();
  for (let i = 0; i < 20; i++) {
    await Bun.sleep(150);
    const now = s.rss();
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

const work = mkdtempSync(join(tmpdir(), "tfo-bench-"));
try {
  say(`building binaries in ${work} …`);
  const tfo = await buildBinary({ outfile: join(work, "tfo-mcp") });
  for (const ref of ["bare", "sdk"]) {
    const r = await Bun.build({
      entrypoints: [join(import.meta.dir, `ref-echo-${ref}.ts`)],
      compile: { outfile: join(work, `echo-${ref}`), autoloadDotenv: false, autoloadBunfig: false },
      minify: true,
      bytecode: true,
      format: "esm",
    });
    if (!r.success) throw new Error(r.logs.join("\n"));
  }
  const servers = { tfo: [tfo, "serve"], sdk: [join(work, "echo-sdk")], bare: [join(work, "echo-bare")] };
  const cwd = mkdtempSync(join(work, "cwd-"));

  const MB = 1024 * 1024;
  const rows: [string, string, string, string, string, boolean | undefined][] = [];
  const add = (what: string, value: string, reference: string, r: number, target: string, ok?: boolean) =>
    rows.push([what, value, reference, r.toFixed(2), target, ok]);
  const both = async <T>(measure: (cmd: string[], cwd: string) => Promise<T>) => ({
    tfo: await measure(servers.tfo, cwd),
    sdk: await measure(servers.sdk, cwd),
    bare: await measure(servers.bare, cwd),
  });

  if (want("start")) {
    say("cold start …");
    const t = await both(coldStart);
    add("cold start, spawn → initialize (median ms)", `${t.tfo.median.toFixed(1)} [${t.tfo.min.toFixed(1)}–${t.tfo.max.toFixed(1)}]`, `sdk ${t.sdk.median.toFixed(1)}, bare ${t.bare.median.toFixed(1)}`, t.tfo.median / t.sdk.median, "≤ 1.00 × sdk", t.tfo.median <= t.sdk.median);
  }
  if (want("calls")) {
    say("echo latency …");
    const lat = await both(latency);
    add("echo round trip p50 (ms)", `${lat.tfo.median.toFixed(3)} (p99 ${lat.tfo.p99!.toFixed(3)})`, `sdk ${lat.sdk.median.toFixed(3)}, bare ${lat.bare.median.toFixed(3)}`, lat.tfo.median / lat.sdk.median, "≤ 1.10 × sdk", lat.tfo.median <= lat.sdk.median * 1.1);
    say("pipelined throughput …");
    const thr = await both(throughput);
    add("5,000 pipelined echo calls (calls/s)", thr.tfo.toFixed(0), `sdk ${thr.sdk.toFixed(0)}, bare ${thr.bare.toFixed(0)}`, thr.tfo / thr.sdk, "≥ 1.20 × sdk", thr.tfo >= thr.sdk * 1.2);
  }
  if (want("memory")) {
    say("memory …");
    const mem = await both(memory);
    add("idle RSS (MB)", (mem.tfo.idle / MB).toFixed(1), `sdk ${(mem.sdk.idle / MB).toFixed(1)}, bare ${(mem.bare.idle / MB).toFixed(1)}`, mem.tfo.idle / mem.sdk.idle, "≤ 1.15 × sdk", mem.tfo.idle <= mem.sdk.idle * 1.15);
    add("RSS after 100k calls vs after 10k (MB)", `${(mem.tfo.after100k / MB).toFixed(1)} vs ${(mem.tfo.after10k / MB).toFixed(1)}`, `sdk ${(mem.sdk.after100k / MB).toFixed(1)} vs ${(mem.sdk.after10k / MB).toFixed(1)}`, mem.tfo.after100k / mem.tfo.after10k, "flat (≤ 1.25)", mem.tfo.after100k <= mem.tfo.after10k * 1.25);
  }
  const tree = join(work, "tree");
  let treeMade = false;
  const ensureTree = () => {
    if (treeMade) return;
    say(`generating ${FILES} files …`);
    makeTree(tree);
    treeMade = true;
  };
  const hasRg = which("rg");
  if (!hasRg && (want("tree") || want("search"))) say("ripgrep (rg) is not on PATH: install it (apt-get install ripgrep) for the search reference");
  if (want("tree")) {
    ensureTree();
    const rg = hasRg ? timeCommand(["rg", "--files", "-g", "needle-unique.md"], tree) : undefined;
    const find = timeCommand(["find", ".", "-name", "needle-unique.md"], tree);
    const findAll = timeCommand(["find", "."], tree);
    const s = await session(servers.tfo, tree, { TELEMETRYFLOW_MCP_WORKSPACE__MAX_RESULTS: String(FILES * 2), TELEMETRYFLOW_MCP_LOGGING__LEVEL: "warn" });
    const search = await timeTool(s, "search_files", { pattern: "needle-unique.md", max_results: 10 }, (m) => {
      if (m.result?.structuredContent?.count !== 1) throw new Error(`search_files found ${JSON.stringify(m.result?.structuredContent ?? m.error)}`);
    });
    const list = await timeTool(s, "list_directory", { recursive: true }, (m) => {
      if (m.result?.isError || m.result?.structuredContent?.count < FILES) throw new Error(`list_directory: ${JSON.stringify(m).slice(0, 300)}`);
    });
    await s.stop();
    if (rg) add(`search_files, ${FILES} files, one match (ms)`, search.median.toFixed(1), `rg --files -g ${rg.median.toFixed(1)}, find ${find.median.toFixed(1)}`, search.median / rg.median, "≤ 0.80 × rg", search.median <= rg.median * 0.8);
    else add(`search_files, ${FILES} files, one match (ms)`, search.median.toFixed(1), `find ${find.median.toFixed(1)} (no rg)`, search.median / find.median, "≤ 0.80 × rg (rg missing)", undefined);
    add(`list_directory recursive, ${FILES} files (ms)`, list.median.toFixed(1), `find . ${findAll.median.toFixed(1)}`, list.median / findAll.median, "≤ 2.00 × find", list.median <= findAll.median * 2);

    const line = `${"x".repeat(99)}\n`;
    writeFileSync(join(work, "big.log"), line.repeat(500_000));
    writeFileSync(join(work, "small.log"), line.repeat(10_000));
    const files = await session(servers.tfo, work, { TELEMETRYFLOW_MCP_LOGGING__LEVEL: "warn" });
    const tailBig = await timeTool(files, "read_file", { path: "big.log", tail: 10 }, () => {});
    const tailSmall = await timeTool(files, "read_file", { path: "small.log", tail: 10 }, () => {});
    await files.stop();
    add("read_file tail 10 lines: 50 MB vs 1 MB file (ms)", `${tailBig.median.toFixed(2)} vs ${tailSmall.median.toFixed(2)}`, "same tail, 50× the file", tailBig.median / tailSmall.median, "≈ 1 (cost of the tail, not the file)", tailBig.median <= tailSmall.median * 2);
  }
  if (want("search")) {
    ensureTree();
    const seeded = seedNeedles(tree);
    const s = await session(servers.tfo, tree, { TELEMETRYFLOW_MCP_WORKSPACE__MAX_RESULTS: String(FILES * 2), TELEMETRYFLOW_MCP_LOGGING__LEVEL: "warn" });
    const filesArgs = { pattern: "*", content: "needle" };
    const linesArgs = { ...filesArgs, show_lines: true };
    const checkFiles = (m: any) => {
      if (m.result?.structuredContent?.count !== seeded) throw new Error(`search_files content found ${JSON.stringify(m.result?.structuredContent ?? m.error).slice(0, 300)}`);
    };
    const checkLines = (m: any) => {
      const lines = m.result?.structuredContent?.lines;
      if (lines?.length !== seeded * 2 || m.result?.structuredContent?.lines_truncated) throw new Error(`search_files show_lines found ${JSON.stringify(m.result?.structuredContent ?? m.error).slice(0, 300)}`);
    };
    // Ours and rg alternate, call by call, so drift on a shared machine lands on both sides.
    const times = { filesOurs: [] as number[], filesRg: [] as number[], linesOurs: [] as number[], linesRg: [] as number[] };
    for (let i = 0; i < Math.max(5, RUNS); i++) {
      times.filesOurs.push((await timeTool(s, "search_files", filesArgs, checkFiles, 1)).median);
      if (hasRg) times.filesRg.push(timeCommand(["rg", "-l", "needle"], tree, 1).median);
      times.linesOurs.push((await timeTool(s, "search_files", linesArgs, checkLines, 1)).median);
      if (hasRg) times.linesRg.push(timeCommand(["rg", "-n", "needle"], tree, 1).median);
    }
    await s.stop();
    const ours = { files: stats(times.filesOurs), lines: stats(times.linesOurs) };
    const range = (x: Stats) => `${x.median.toFixed(1)} [${x.min.toFixed(1)}–${x.max.toFixed(1)}]`;
    if (hasRg) {
      const rgL = stats(times.filesRg);
      const rgN = stats(times.linesRg);
      add(`search_files content, files with a match, ${FILES} files, ${seeded} match (ms)`, range(ours.files), `rg -l ${range(rgL)}`, ours.files.median / rgL.median, "≤ 1.00 × rg -l", ours.files.median <= rgL.median);
      add(`search_files content, show_lines, ${FILES} files, ${seeded * 2} lines (ms)`, range(ours.lines), `rg -n ${range(rgN)}`, ours.lines.median / rgN.median, "≤ 1.00 × rg -n", ours.lines.median <= rgN.median);
    } else {
      add(`search_files content, files with a match, ${FILES} files (ms)`, range(ours.files), "no rg", 1, "≤ 1.00 × rg -l (rg missing)", undefined);
      add(`search_files content, show_lines, ${FILES} files (ms)`, range(ours.lines), "no rg", 1, "≤ 1.00 × rg -n (rg missing)", undefined);
    }
  }
  if (want("telemetry")) {
    // Off and on alternate, so drift on a shared machine lands on both sides.
    for (const protocol of ["grpc", "http"] as const) {
      const receiver = protocol === "grpc" ? await startGrpcReceiver() : await startHttpReceiver();
      const on = { TELEMETRYFLOW_ENABLED: "true", TELEMETRYFLOW_ENDPOINT: receiver.url, TELEMETRYFLOW_PROTOCOL: protocol, TELEMETRYFLOW_BATCH_TIMEOUT_MS: "1000" };
      say(`telemetry ${protocol}: throughput off/on …`);
      const off: number[] = [];
      const with_: number[] = [];
      for (let i = 0; i < 3; i++) {
        off.push(await throughput(servers.tfo, cwd, 5000));
        with_.push(await throughput(servers.tfo, cwd, 5000, on));
      }
      const offRate = stats(off).median;
      const onRate = stats(with_).median;
      add(`5,000 pipelined echo calls, telemetry ${protocol} on vs off (calls/s)`, `${onRate.toFixed(0)} vs ${offRate.toFixed(0)}`, `spans received: ${receiver.spans.length}`, onRate / offRate, "≥ 0.90 × off", onRate >= offRate * 0.9);
      say(`telemetry ${protocol}: latency and start-up …`);
      const latOff = await latency(servers.tfo, cwd, 2000);
      const latOn = await latency(servers.tfo, cwd, 2000, on);
      add(`echo round trip p50, telemetry ${protocol} on vs off (ms)`, `${latOn.median.toFixed(3)} vs ${latOff.median.toFixed(3)}`, `p99 ${latOn.p99!.toFixed(3)} vs ${latOff.p99!.toFixed(3)}`, latOn.median / latOff.median, "report", undefined);
      const startOff = await coldStart(servers.tfo, cwd);
      const startOn = await coldStart(servers.tfo, cwd, on);
      add(`cold start, telemetry ${protocol} on vs off (median ms)`, `${startOn.median.toFixed(1)} vs ${startOff.median.toFixed(1)}`, `min ${startOn.min.toFixed(1)} vs ${startOff.min.toFixed(1)}`, startOn.median / startOff.median, "report", undefined);
      await receiver.stop();
    }
  }
  if (want("http")) {
    // The reference as its README starts it (`streamableHttp`, PORT from the environment), with node.
    const everything = join(import.meta.dir, "..", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
    const node = process.env.BENCH_NODE ?? "node";
    const starters = {
      tfo: () =>
        startHttp(
          "tfo-mcp",
          [tfo, "serve", "--transport", "http", "--port", "0", "--host", "127.0.0.1"],
          {
            TELEMETRYFLOW_MCP_STORAGE__URL: "memory:",
            // The server's own guards would throttle a bench that is one peer opening 1,000 sessions.
            TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "0",
            TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS: "2000",
            TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS_PER_KEY: "2000",
            TELEMETRYFLOW_MCP_HTTP__MAX_CONCURRENT_CALLS_PER_KEY: "1000",
          },
          (text) => /at (http:\/\/\S+\/mcp)/.exec(text)?.[1],
        ),
      ref: async () => {
        const port = await freePort();
        return startHttp("server-everything", [node, everything, "streamableHttp"], { PORT: String(port) }, (text) => (text.includes(`listening on port ${port}`) ? `http://127.0.0.1:${port}/mcp` : undefined));
      },
    };
    const HTTP_RUNS = flag("http-runs", 3);
    const CALLS = flag("http-calls", 5000);
    const WIDTH = 32;
    type Side = { one: number[]; oneTimes: number[]; many: number[]; manyTimes: number[]; rss200idle: number[]; rss200: number[]; perIdle: number[] };
    const sides: Record<"tfo" | "ref", Side> = {
      tfo: { one: [], oneTimes: [], many: [], manyTimes: [], rss200idle: [], rss200: [], perIdle: [] },
      ref: { one: [], oneTimes: [], many: [], manyTimes: [], rss200idle: [], rss200: [], perIdle: [] },
    };
    // The two servers alternate, and which goes first alternates, so drift lands on both.
    for (let round = 0; round < HTTP_RUNS; round++) {
      for (const who of round % 2 ? (["ref", "tfo"] as const) : (["tfo", "ref"] as const)) {
        const side = sides[who];
        say(`http round ${round + 1}/${HTTP_RUNS}, ${who}: 1 session × ${WIDTH}, then 200 sessions …`);
        let s = await starters[who]();
        try {
          const one = await httpLoad(s.url, [await httpSession(s.url)], CALLS, WIDTH);
          side.one.push(one.rate);
          side.oneTimes.push(...one.times);
          const sessions: Record<string, string>[] = [];
          await pool(200, 16, async () => void sessions.push(await httpSession(s.url)));
          side.rss200idle.push(await settledRss(s));
          const many = await httpLoad(s.url, sessions, CALLS, WIDTH);
          side.many.push(many.rate);
          side.manyTimes.push(...many.times);
          side.rss200.push(await settledRss(s));
        } finally {
          await s.stop();
        }
        say(`http round ${round + 1}/${HTTP_RUNS}, ${who}: memory per idle session …`);
        s = await starters[who]();
        try {
          // One session used first, so what the first session and call load lazily is not counted.
          const first = await httpSession(s.url);
          await pool(200, 8, (i) => httpEcho(s.url, first, i + 1));
          const before = await settledRss(s);
          await pool(1000, 16, async () => void (await httpSession(s.url)));
          side.perIdle.push((await settledRss(s)) - before);
        } finally {
          await s.stop();
        }
      }
    }
    const KB = 1024;
    const med = (xs: number[]) => stats(xs).median;
    const range = (xs: number[], f: (x: number) => string) => `[${f(stats(xs).min)}–${f(stats(xs).max)}]`;
    const ms = (times: number[]) => `p50 ${stats(times).median.toFixed(2)} / p99 ${stats(times).p99!.toFixed(2)}`;
    const { tfo: t, ref: r } = sides;
    const rate = (x: number) => x.toFixed(0);
    add(`HTTP echo, 1 session × ${WIDTH} in flight (calls/s)`, `${rate(med(t.one))} ${range(t.one, rate)}`, `everything ${rate(med(r.one))} ${range(r.one, rate)}`, med(t.one) / med(r.one), "≥ 3.00 × everything", med(t.one) >= med(r.one) * 3);
    add(`HTTP echo latency, 1 session × ${WIDTH} (ms)`, ms(t.oneTimes), `everything ${ms(r.oneTimes)}`, stats(t.oneTimes).median / stats(r.oneTimes).median, "report", undefined);
    add(`HTTP echo, 200 sessions × ${WIDTH} in flight (calls/s)`, `${rate(med(t.many))} ${range(t.many, rate)}`, `everything ${rate(med(r.many))} ${range(r.many, rate)}`, med(t.many) / med(r.many), "≥ 3.00 × everything", med(t.many) >= med(r.many) * 3);
    add(`HTTP echo latency, 200 sessions × ${WIDTH} (ms)`, ms(t.manyTimes), `everything ${ms(r.manyTimes)}`, stats(t.manyTimes).median / stats(r.manyTimes).median, "report", undefined);
    const mb = (x: number) => (x / MB).toFixed(1);
    add("HTTP RSS, 200 sessions open after the calls (MB)", `${mb(med(t.rss200))} ${range(t.rss200, mb)}`, `everything ${mb(med(r.rss200))} ${range(r.rss200, mb)}`, med(t.rss200) / med(r.rss200), "≤ 0.35 × everything", med(t.rss200) <= med(r.rss200) * 0.35);
    // The reference keeps every event of a session for resumption and never prunes, so its RSS
    // after the calls grows with their number; this row is before the 200 sessions call (the
    // 1-session calls of the same process are already behind it).
    add("HTTP RSS, 200 sessions open before their calls (MB)", `${mb(med(t.rss200idle))} ${range(t.rss200idle, mb)}`, `everything ${mb(med(r.rss200idle))} ${range(r.rss200idle, mb)}`, med(t.rss200idle) / med(r.rss200idle), "report", undefined);
    const kb = (x: number) => (x / 1000 / KB).toFixed(1);
    add("HTTP memory per idle session, RSS Δ over 1,000 opened / 1,000 (KB)", `${kb(med(t.perIdle))} ${range(t.perIdle, kb)}`, `everything ${kb(med(r.perIdle))} ${range(r.perIdle, kb)}`, med(t.perIdle) / med(r.perIdle), "≤ 20 KB", med(t.perIdle) / 1000 <= 20 * KB);
  }
  add("binary size (MB)", (Bun.file(tfo).size / MB).toFixed(1), "", 1, "report", undefined);

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, bun ${Bun.version}`;
  if (JSON_OUT) {
    console.log(JSON.stringify({ machine, files: FILES, runs: RUNS, rows: rows.map(([what, value, reference, r, target, ok]) => ({ what, value, reference, ratio: Number(r), target, ok })) }, null, 2));
  } else {
    console.log(`machine: ${machine}; runs: ${RUNS}; tree: ${FILES} files\n`);
    console.log("| figure | tfo-mcp | reference | ratio | target | met |");
    console.log("|---|---|---|---|---|---|");
    for (const [what, value, reference, r, target, ok] of rows) console.log(`| ${what} | ${value} | ${reference} | ${r} | ${target} | ${ok === undefined ? "–" : ok ? "yes" : "NO"} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
