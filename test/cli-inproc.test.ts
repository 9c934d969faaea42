// The command line in-process (the binary tests cover the same paths end to end;
// this keeps cli.ts and its helpers in the coverage report).
import { afterAll, beforeAll, expect, spyOn, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
  process.env.XDG_DATA_HOME = join(dir.path, "data");
  writeFileSync(join(dir.path, "typo.yaml"), "worksapce:\n  roots: []\n");
  writeFileSync(join(dir.path, "model.yaml"), "claude:\n  default_model: gpt-4\n");
  writeFileSync(join(dir.path, "open.yaml"), "server:\n  transport: http\n  host: 0.0.0.0\n");
  writeFileSync(join(dir.path, "ro.yaml"), "workspace:\n  read_only: true\n");
  writeFileSync(join(dir.path, "nocmd.yaml"), "commands:\n  enabled: false\n");
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
  [["--version"], 0, /^tfo-mcp, version \d/],
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
  [["frobnicate"], 2, /unknown command "frobnicate"/],
  [["valdate"], 2, /did you mean "validate"/],
  [["serve", "--roots", "x"], 2, /unknown option --roots \(did you mean --root\?\)/],
  [["serve", "--root"], 2, /--root needs a value/],
  [["validate", "extra"], 2, /unexpected argument "extra"/],
  [["info", "--jsn"], 2, /did you mean --json/],
  [["serve", "-c", "missing.yaml"], 1, /config file not found: .*missing\.yaml/],
  [["validate", "-c", "missing.yaml"], 1, /config file not found/],
  [["validate", "-c", "typo.yaml"], 1, /unknown key "worksapce" \(did you mean "workspace"\?\)/],
  [["validate", "-c", "model.yaml"], 1, /claude\.default_model: Unknown model "gpt-4"/],
  [["validate", "-c", "open.yaml"], 1, /serve would refuse to start: refusing to serve http on 0\.0\.0\.0 without keys/],
  [["validate", "--root", "x"], 2, /unknown option --root/],
  [["info", "--json", "-c", "ro.yaml"], 0, /"tools": \[\s+"echo",\s+"read_file",\s+"list_directory",\s+"search_files",\s+"system_info",\s+"claude_conversation"\s+\]/],
  [["info", "--json", "-c", "nocmd.yaml"], 0, /"write_file",\s+"edit_file",\s+"list_directory",\s+"search_files",\s+"system_info"/],
  [["info"], 0, /roots: +.*\(the current folder \(no --root given\)\)\ntools: .*\n.*\n.*\nClaude key: +not set\nstorage: +memory/],
  [["init-config", "--output", "nope/x.yaml"], 1, /the folder .*nope does not exist; create it first/],
  [["trust"], 1, /no \.\/tfo-mcp\.yaml or \.\/configs\/tfo-mcp\.yaml here/],
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
  const base = { client: "claude-desktop" as const, dryRun: false, file, roots: [dir.path], launcher: ["/bin/tfo-mcp"] };
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

test("trust records the project file; a changed file is untrusted again", async () => {
  writeFileSync(join(dir.path, "tfo-mcp.yaml"), "claude:\n  base_url: http://gateway.internal\n");
  let r = await runCaptured(["info", "--json"]);
  expect(JSON.parse(r.printed)).toMatchObject({ config_origin: "project", config_trusted: false, config_ignored_keys: ["claude.base_url"] });
  r = await runCaptured(["trust"]);
  expect(r.code).toBe(0);
  expect(r.printed).toMatch(/^Trusted .*tfo-mcp\.yaml \(sha256 [0-9a-f]{16}…\), recorded in .*trusted-configs\.json/);
  r = await runCaptured(["info", "--json"]);
  expect(JSON.parse(r.printed)).toMatchObject({ config_trusted: true, config: { claude: { base_url: "http://gateway.internal" } } });
  writeFileSync(join(dir.path, "tfo-mcp.yaml"), "claude:\n  base_url: http://attacker.example\n");
  r = await runCaptured(["validate"]);
  expect(r.printed).toContain("is not trusted, so these keys in it were ignored: claude.base_url");
  expect(r.printed).toContain("Untrusted project file: ignored claude.base_url");
});

test.each([
  ["storage.backend", "postgres", "database.postgres_url", "mysql://db/x", "postgres://… or postgresql://…"],
  ["cache.backend", "redis", "cache.redis_url", "localhost:6379", "redis://… or rediss://…"],
  ["queue.backend", "nats", "queue.nats_url", "tcp://nats:4222", "nats://…"],
  ["analytics.backend", "clickhouse", "analytics.clickhouse_url", "ftp://ch/x", "http://… or https://… or clickhouse://…"],
])("%s: %s with a URL of another kind stops start-up, naming the key and what is accepted", async (key, value, urlKey, url, accepted) => {
  const env = (k: string) => `TELEMETRYFLOW_MCP_${k.replace(".", "__").toUpperCase()}`;
  process.env[env(key)] = value;
  process.env[env(urlKey)] = url;
  try {
    const r = await runCaptured(["validate"]);
    expect(r.code).toBe(1);
    expect(r.printed).toContain(urlKey);
    expect(r.printed).toContain(`is not a URL this backend speaks; use ${accepted}`);
  } finally {
    delete process.env[env(key)];
    delete process.env[env(urlKey)];
  }
});

test("conversations show prints the tools Claude used in a turn", async () => {
  const db = join(dir.path, "tools-show.db");
  const { sqliteStore } = await import("../src/store/sqlite.ts");
  const store = sqliteStore(db);
  await store.createConversation({ id: "conv_tools", title: "t", system_prompt: null, model: "m" });
  const seq = await store.beginTurn("conv_tools", "what is in a.txt?", "m");
  const exchange = JSON.stringify([
    { role: "assistant", content: [{ type: "tool_use", id: "tu_1", name: "read_file", input: { path: "a.txt" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "tu_1", content: "hello" }] },
  ]);
  await store.finishTurn("conv_tools", seq, { ok: true, assistant: "It says hello.", model: "m", stop_reason: "end_turn", input_tokens: 1, output_tokens: 1, exchange });
  store.close();
  process.env.TELEMETRYFLOW_MCP_STORAGE__URL = `sqlite:${db}`;
  try {
    const r = await runCaptured(["conversations", "show", "conv_tools"]);
    expect(r.code).toBe(0);
    expect(r.printed).toContain('[1] [Tools used: read_file {"path":"a.txt"}]');
    expect(r.printed).toContain("It says hello.");
  } finally {
    process.env.TELEMETRYFLOW_MCP_STORAGE__URL = "memory:";
  }
});

test("with storage.backend postgres, info names the masked database URL and a store that cannot open is reported without the password", async () => {
  process.env.TELEMETRYFLOW_MCP_STORAGE__BACKEND = "postgres";
  // Nothing listens on port 1: the open fails at once.
  process.env.TELEMETRYFLOW_MCP_DATABASE__POSTGRES_URL = "postgres://tfo:hunter2-secret@127.0.0.1:1/tfo";
  try {
    const info = await runCaptured(["info"]);
    expect(info.code).toBe(0);
    expect(info.printed).toMatch(/storage: +postgres postgres:\/\/tfo:\*+@127\.0\.0\.1:1\/tfo/);
    const list = await runCaptured(["conversations", "list"]);
    expect(list.code).toBe(1);
    expect(list.printed).toContain("cannot open storage (database.postgres_url");
    for (const r of [info, list]) expect(r.printed).not.toContain("hunter2");
  } finally {
    delete process.env.TELEMETRYFLOW_MCP_STORAGE__BACKEND;
    delete process.env.TELEMETRYFLOW_MCP_DATABASE__POSTGRES_URL;
  }
});
