// `bun scripts/conformance.ts [--binary PATH]`: runs the official MCP conformance suite
// (@modelcontextprotocol/conformance, a pinned dev dependency, so nothing is downloaded)
// against the compiled binary's Streamable HTTP server on loopback, and compares each
// scenario's outcome with conformance-expected-failures.json (scenario → reason).
// Exits 1 when a scenario fails that is not listed there, when a listed one now passes
// (so the list cannot go stale), or when the list names a scenario the suite does not run.
// Without --binary the binary is built into a temp folder first.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildBinary } from "../build.ts";

export const EXPECTED_FAILURES_FILE = join(import.meta.dir, "conformance-expected-failures.json");

export type Check = { id: string; status: string; errorMessage?: string };
/** `checks` is undefined when the suite left no results for the scenario (it crashed). */
export type ScenarioResult = { scenario: string; checks: Check[] | undefined };
export type Row = { scenario: string; passed: number; failed: number; warnings: number; verdict: "pass" | "expected failure" | "UNEXPECTED FAILURE" | "STALE (now passes)"; note: string };

// The suite's own baseline rule: a scenario fails on any FAILURE or WARNING check.
const failedScenario = (checks: Check[] | undefined) => !checks || checks.length === 0 || checks.some((c) => c.status === "FAILURE" || c.status === "WARNING");

/** Each scenario's verdict against the expected failures, and what makes the run fail. */
export function judge(results: ScenarioResult[], expected: Record<string, string>): { rows: Row[]; problems: string[] } {
  const problems: string[] = [];
  const rows = results.map(({ scenario, checks }): Row => {
    const count = (status: string) => (checks ?? []).filter((c) => c.status === status).length;
    const counts = { passed: count("SUCCESS"), failed: count("FAILURE"), warnings: count("WARNING") };
    const reason = expected[scenario];
    const failed = failedScenario(checks);
    if (!failed && reason === undefined) return { scenario, ...counts, verdict: "pass", note: "" };
    if (failed && reason !== undefined) return { scenario, ...counts, verdict: "expected failure", note: reason };
    if (!failed) {
      problems.push(`${scenario} passes now: remove it from ${EXPECTED_FAILURES_FILE}`);
      return { scenario, ...counts, verdict: "STALE (now passes)", note: `listed as: ${reason}` };
    }
    const why = !checks ? "the suite left no results (it crashed on this scenario; see its output above)" : checks.filter((c) => c.status !== "SUCCESS" && c.status !== "INFO").map((c) => `${c.id}: ${c.errorMessage ?? c.status}`).join("; ");
    problems.push(`${scenario} fails and is not an expected failure: ${why}`);
    return { scenario, ...counts, verdict: "UNEXPECTED FAILURE", note: why };
  });
  const ran = new Set(results.map((r) => r.scenario));
  for (const name of Object.keys(expected)) {
    if (!ran.has(name)) problems.push(`${EXPECTED_FAILURES_FILE} names "${name}", which the suite did not run: remove or rename it`);
  }
  return { rows, problems };
}

/** The expected failures file: a JSON object of scenario → non-empty reason. */
export function parseExpectedFailures(text: string): { ok: true; value: Record<string, string> } | { ok: false; error: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `${EXPECTED_FAILURES_FILE} is not JSON (${(e as Error).message}); it must be an object of scenario name → reason` };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { ok: false, error: `${EXPECTED_FAILURES_FILE} must be a JSON object of scenario name → reason` };
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== "string" || v.trim() === "") return { ok: false, error: `${EXPECTED_FAILURES_FILE}: "${k}" needs a reason (a non-empty string)` };
  }
  return { ok: true, value: data as Record<string, string> };
}

/** Scenario names in the order the suite announced them on stdout. */
export function scenariosRun(stdout: string): string[] {
  return [...stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]!);
}

/** The suite writes `server-<scenario>-<ISO time with - for : and .>/checks.json` per scenario. */
export function readResults(outDir: string, scenarios: string[]): ScenarioResult[] {
  const dirs = existsSync(outDir) ? readdirSync(outDir) : [];
  return scenarios.map((scenario) => {
    const dir = dirs.find((d) => d.startsWith(`server-${scenario}-`) && /^\d{4}-\d{2}-\d{2}T[\d-]+Z$/.test(d.slice(`server-${scenario}-`.length)));
    const file = dir && join(outDir, dir, "checks.json");
    return { scenario, checks: file && existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Check[]) : undefined };
  });
}

export function formatTable(rows: Row[]): string {
  const head = ["scenario", "checks ok/fail/warn", "verdict", "note"];
  const cells = rows.map((r) => [r.scenario, `${r.passed}/${r.failed}/${r.warnings}`, r.verdict, r.note.length > 160 ? `${r.note.slice(0, 157)}...` : r.note]);
  const width = head.slice(0, 3).map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i < 3 ? x.padEnd(width[i]!) : x)).join("  ").trimEnd();
  return [line(head), line(width.map((w) => "-".repeat(w)).concat("----")), ...cells.map(line)].join("\n");
}

function suiteEntry(): { bin: string; version: string } {
  const pkgFile = createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { version: string; bin: Record<string, string> };
  return { bin: join(dirname(pkgFile), pkg.bin.conformance!), version: pkg.version };
}

/** Reads a stream to the end into `sink`, so a chatty process never blocks on a full pipe. */
function drain(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
  })();
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= end) return false;
    await Bun.sleep(10);
  }
  return true;
}

async function main(): Promise<number> {
  const started = performance.now();
  const argv = process.argv.slice(2);
  const binAt = argv.indexOf("--binary");
  const expected = parseExpectedFailures(readFileSync(EXPECTED_FAILURES_FILE, "utf8"));
  if (!expected.ok) {
    console.log(`conformance: ${expected.error}`);
    return 1;
  }
  const suite = suiteEntry();
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), "tfo-conformance-")));
  const workspace = join(tmp, "workspace");
  mkdirSync(workspace);
  let server: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const binary = binAt >= 0 ? argv[binAt + 1]! : await buildBinary({ outfile: join(tmp, "bin", "tfo-mcp") });
    // Nothing of the caller's: no config file, no keys, no telemetry, storage in memory. The
    // suite cannot send an API key, so the server runs as on a laptop: loopback, no keys.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith("TELEMETRYFLOW_") && !k.startsWith("ANTHROPIC_") && !k.startsWith("OTEL_")) env[k] = v;
    }
    Object.assign(env, { XDG_CONFIG_HOME: join(tmp, "config"), XDG_DATA_HOME: join(tmp, "data"), TELEMETRYFLOW_MCP_STORAGE__URL: "memory:" });
    const proc = Bun.spawn([binary, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0"], { cwd: workspace, env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    server = proc;
    const serverErr = { text: "" };
    void drain(proc.stderr, serverErr);
    const urlIn = () => /at (http:\/\/\S+\/mcp)/.exec(serverErr.text)?.[1];
    await waitFor(() => urlIn() !== undefined || proc.exitCode !== null, 15_000);
    const url = urlIn();
    if (!url) {
      console.log(`conformance: the server never said where it listens (exit ${proc.exitCode}):\n${serverErr.text}`);
      return 1;
    }

    const outDir = join(tmp, "results");
    const run = Bun.spawn([process.execPath, suite.bin, "server", "--url", url, "--output-dir", outDir], { cwd: tmp, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const out = { text: "" };
    const err = { text: "" };
    const read = Promise.all([drain(run.stdout, out), drain(run.stderr, err)]);
    const timer = setTimeout(() => run.kill("SIGKILL"), 120_000);
    const suiteExit = await run.exited;
    clearTimeout(timer);
    await read;

    const scenarios = scenariosRun(out.text);
    const problems: string[] = [];
    if (scenarios.length === 0) problems.push(`the suite ran no scenarios (exit ${suiteExit}${run.signalCode ? `, ${run.signalCode} after 120 s` : ""})`);
    if (proc.exitCode !== null) problems.push(`the server exited with code ${proc.exitCode} during the run:\n${serverErr.text.slice(-2000)}`);
    const { rows, problems: verdicts } = judge(readResults(outDir, scenarios), expected.value);
    problems.push(...verdicts);
    if (problems.length > 0) console.log(`--- conformance suite output ---\n${out.text.slice(-8000)}${err.text.slice(-4000)}\n--- end of suite output ---`);

    const count = (v: Row["verdict"]) => rows.filter((r) => r.verdict === v).length;
    console.log(formatTable(rows));
    console.log(
      `conformance (@modelcontextprotocol/conformance ${suite.version}, ${rows.length} server scenarios against ${url}, ${((performance.now() - started) / 1000).toFixed(1)} s): ` +
        `${count("pass")} passed, ${count("expected failure")} expected failures, ${count("UNEXPECTED FAILURE")} unexpected failures, ${count("STALE (now passes)")} stale entries`,
    );
    for (const p of problems) console.log(`conformance: ${p}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await server.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exit(await main());
