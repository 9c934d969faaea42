// tfo-mcp inside the real Claude Code CLI (print mode), with a local fake of the Messages API
// playing the model: it calls read_file once, and we check what the model is handed back.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./helpers/binary.ts";
import { startFakeToolModel } from "./helpers/fake-messages-tools.ts";
import { tempDir } from "./helpers/tmp.ts";

const CLAUDE = join(import.meta.dir, "..", "node_modules", ".bin", "claude");
// Quotes, a backslash, a tab and several lines: what an escaped JSON string would mangle.
const NOTES = 'first line\nsay "hello" to \'them\'\nC:\\Users\\me\\notes\n\tlast line\n';
const READ_FILE = "mcp__tfo-mcp__read_file";
const RUN_MS = 60_000;

/** The CLI's version line, or why it cannot run (the npm postinstall puts the native binary in place). */
function claudeVersion(): { ok: true; version: string } | { ok: false; why: string } {
  try {
    const r = Bun.spawnSync([CLAUDE, "--version"], { stdout: "pipe", stderr: "pipe", timeout: 15_000, env: { PATH: process.env.PATH ?? "" } });
    const out = r.stdout.toString().trim();
    if (r.exitCode === 0 && out.includes("Claude Code")) return { ok: true, version: out };
    return { ok: false, why: `${CLAUDE} --version exited ${r.exitCode}: ${(out || r.stderr.toString()).slice(0, 200)}` };
  } catch (e) {
    return { ok: false, why: `${CLAUDE} is not installed (npm install): ${(e as Error).message}` };
  }
}

const cli = claudeVersion();
if (!cli.ok) console.warn(`claude-code.test.ts skipped: ${cli.why}`);

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * Runs `claude -p` in `cwd` with tfo-mcp as its only MCP server. The environment is built
 * from nothing, so neither the real ~/.claude nor a surrounding Claude Code session leaks in,
 * and everything non-essential (telemetry, error reports, updates) is off: no network needed.
 */
async function runClaude(opts: { cwd: string; home: string; apiUrl: string; serveArgs: string[] }) {
  const config = join(opts.home, "mcp.json");
  writeFileSync(config, JSON.stringify({ mcpServers: { "tfo-mcp": { command: await binary(), args: ["serve", ...opts.serveArgs] } } }));
  const proc = Bun.spawn(
    [CLAUDE, "-p", "Read notes.txt with the tfo-mcp read_file tool.", "--mcp-config", config, "--strict-mcp-config", "--allowedTools", READ_FILE],
    {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: opts.home,
        XDG_CONFIG_HOME: join(opts.home, ".config"),
        XDG_DATA_HOME: join(opts.home, ".local", "share"),
        XDG_CACHE_HOME: join(opts.home, ".cache"),
        ANTHROPIC_BASE_URL: opts.apiUrl,
        ANTHROPIC_API_KEY: "sk-ant-fake-key-for-tests",
        DISABLE_TELEMETRY: "1",
        DISABLE_ERROR_REPORTING: "1",
        DISABLE_AUTOUPDATER: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: RUN_MS,
      killSignal: "SIGKILL",
    },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr, signal: proc.signalCode };
}

/** A project folder holding notes.txt, a folder elsewhere, and a HOME of its own; all removed after. */
function folders() {
  const project = tempDir("tfo-cc-project-");
  const elsewhere = tempDir("tfo-cc-elsewhere-");
  const home = tempDir("tfo-cc-home-");
  cleanups.push(project.cleanup, elsewhere.cleanup, home.cleanup);
  writeFileSync(join(project.path, "notes.txt"), NOTES);
  return { project: project.path, elsewhere: elsewhere.path, home: home.path };
}

async function readNotesThroughClaude(where: "project" | "elsewhere") {
  const dirs = folders();
  const fake = startFakeToolModel({ pick: (names) => names.find((n) => n === READ_FILE), input: { path: "notes.txt" }, finalText: "I have read the notes." });
  cleanups.push(fake.stop);
  const run = await runClaude(
    where === "project"
      ? { cwd: dirs.project, home: dirs.home, apiUrl: fake.url, serveArgs: [] }
      : { cwd: dirs.elsewhere, home: dirs.home, apiUrl: fake.url, serveArgs: ["--root", dirs.project] },
  );
  const story = `claude exited ${run.code} (signal ${run.signal}); stdout: ${run.stdout.slice(0, 500)}; stderr: ${run.stderr.slice(0, 1500)}`;
  // Claude Code names MCP tools mcp__<server>__<tool>; without ours on offer nothing below can happen.
  const lastTools = fake.requests.findLast((r) => r.path === "/v1/messages")?.body.tools?.map((t: { name: string }) => t.name);
  expect(fake.offered.length, `${READ_FILE} was never offered to the model (last tools: ${lastTools}); ${story}`).toBeGreaterThan(0);
  expect(fake.results.length, `no tool_result came back; ${story}`).toBe(1);
  const result = fake.results[0]!;
  // The model must see the file's own text, not an error and not a JSON object with escaped newlines.
  expect({ isError: result.isError, text: result.text }).toEqual({ isError: false, text: NOTES });
  expect(run.code, story).toBe(0);
  expect(run.stdout).toContain("I have read the notes.");
}

describe.skipIf(!cli.ok)(`Claude Code CLI (${cli.ok ? cli.version : "not installed"}) with tfo-mcp over stdio`, () => {
  beforeAll(() => binary(), 60_000);

  test("opened in the served folder: `serve` with no --root; read_file hands the model the file's text", () => readNotesThroughClaude("project"), RUN_MS + 10_000);

  test("opened elsewhere: `serve --root <project>`; read_file hands the model the file's text", () => readNotesThroughClaude("elsewhere"), RUN_MS + 10_000);
});
