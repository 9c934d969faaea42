// The command line in-process (the binary tests cover the same paths end to end;
// this keeps cli.ts and its helpers in the coverage report).
import { afterAll, beforeAll, expect, spyOn, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../src/cli.ts";
import { installClient } from "../src/clients/install.ts";
import { loggerFor, workspaceFor } from "../src/server/serve.ts";
import { defaults } from "../src/config/schema.ts";
import { tempDir } from "./helpers/tmp.ts";

const dir = tempDir("tfo-cli-inproc-");
const before = process.cwd();
const saved = { ...process.env };
let printed = "";
let spies: { mockRestore(): void }[] = [];
beforeAll(() => {
  process.chdir(dir.path);
  for (const k of Object.keys(process.env)) if (k.startsWith("TELEMETRYFLOW_") || k.startsWith("ANTHROPIC_")) delete process.env[k];
  process.env.TELEMETRYFLOW_MCP_STORAGE__URL = "memory:";
  process.env.XDG_CONFIG_HOME = join(dir.path, "xdg");
  const capture = (chunk: unknown) => {
    printed += String(chunk);
    return true;
  };
  spies = [spyOn(process.stdout, "write").mockImplementation(capture as never), spyOn(process.stderr, "write").mockImplementation(capture as never)];
});
afterAll(() => {
  for (const s of spies) s.mockRestore();
  process.chdir(before);
  process.env = saved;
  dir.cleanup();
});
const runCaptured = async (argv: string[]) => {
  printed = "";
  const code = await run(argv);
  return { code, printed };
};

test.each([
  [["--version"], 0, /^tfo-mcp \d/],
  [["--help"], 0, /Examples:/],
  [["serve", "--help"], 0, /--root/],
  [["info", "--json"], 0, /"tools"/],
  [["info"], 0, /effective configuration/],
  [["validate"], 0, /Configuration OK/],
  [["init-config", "--output", "x.yaml"], 0, /Wrote/],
  [["init-config", "--output", "x.yaml"], 1, /already exists/],
  [["conversations", "list"], 0, /No conversations in memory/],
  [["conversations", "show"], 1, /needs a conversation id/],
  [["conversations", "show", "nope"], 1, /no conversation "nope"/],
  [["conversations", "frob"], 1, /unknown action/],
  [["install", "cursor", "--config", "c.json", "--dry-run"], 0, /Dry run/],
  [["install", "vscode"], 1, /unknown client/],
  [["validate", "--config", "missing.yaml"], 1, /config file not found/],
  [["frobnicate"], 1, /unknown command/],
] as const)("tfo-mcp %p → exit %p", async (argv, code, output) => {
  const r = await runCaptured([...argv]);
  expect(r.printed).toMatch(output);
  expect(r.code).toBe(code);
});

test("init-config wrote a file; dry run wrote nothing", () => {
  expect(readFileSync(join(dir.path, "x.yaml"), "utf8")).toContain("max_tokens: 4096");
  expect(existsSync(join(dir.path, "c.json"))).toBe(false);
});

test("installClient: remove when absent, then add, then the same again", async () => {
  const file = join(dir.path, "d.json");
  const base = { client: "claude-desktop" as const, dryRun: false, file, roots: [], launcher: ["/bin/tfo-mcp"] };
  expect((await installClient({ ...base, remove: true })).ok).toBe(true);
  const added = await installClient({ ...base, remove: false });
  expect(added.ok && added.changed).toBe(true);
  const again = await installClient({ ...base, remove: false });
  expect(again.ok && again.changed).toBe(false);
});

test("serve helpers: debug raises the log level; a missing root is an error", async () => {
  expect(loggerFor({ ...defaults, server: { ...defaults.server, debug: true } })).toHaveProperty("debug");
  const ws = await workspaceFor({ ...defaults, workspace: { ...defaults.workspace, roots: ["nope"] } }, dir.path);
  expect(!ws.ok && ws.error).toContain("does not exist");
});
