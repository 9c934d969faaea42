// The command line of the compiled binary: output, exit codes, and nothing on stdout when serve fails.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import pkg from "../package.json" with { type: "json" };
import { cleanEnv, runBinary } from "./helpers/binary.ts";
import { tempDir } from "./helpers/tmp.ts";

const dir = tempDir("tfo-cli-");
afterAll(() => dir.cleanup());
const env = cleanEnv({ HOME: dir.path, XDG_CONFIG_HOME: join(dir.path, "xdg") });

describe("--version and --help", () => {
  test("--version prints version, commit and target", async () => {
    const r = await runBinary(["--version"], { env });
    expect(r.code).toBe(0);
    // click's shape, as the Python server printed it, then ours; `awk '{print $3}'` still gives the version.
    expect(r.stdout).toMatch(new RegExp(`^tfo-mcp, version ${pkg.version.replaceAll(".", "\\.")} \\(\\S+, bun-${process.platform}-${process.arch}\\)\\n$`));
    expect(r.stdout.split(" ")[2]).toBe(pkg.version);
    expect(Bun.semver.order(pkg.version, "1.1.2")).toBe(1);
  });
  test("--help lists the commands and examples, without colour codes when piped", async () => {
    const r = await runBinary(["--help"], { env });
    expect(r.code).toBe(0);
    for (const word of ["serve", "validate", "info", "init-config", "Examples:", "ANTHROPIC_API_KEY"]) expect(r.stdout).toContain(word);
    expect(r.stdout).not.toContain("\x1b[");
  });
  test("serve --help shows its flags", async () => {
    const r = await runBinary(["serve", "--help"], { env });
    for (const flag of ["--config", "--debug", "--root", "--transport"]) expect(r.stdout).toContain(flag);
  });
  test("an unknown command is exit 2 with the list of commands", async () => {
    const r = await runBinary(["frobnicate"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate". Commands: serve, validate, info, init-config');
  });
});

describe("a strict command line", () => {
  test("serve --roots (a typo) stops with exit 2 and a did-you-mean, instead of serving the current folder", async () => {
    const r = await runBinary(["serve", "--roots", dir.path], { env, stdin: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --roots (did you mean --root?)");
    expect(r.stdout).toBe("");
  });
  test("serve -c names a config file (the Python server's spelling); a missing one stops start-up", async () => {
    const r = await runBinary(["serve", "-c", join(dir.path, "nope.yaml")], { env, stdin: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`config file not found: ${join(dir.path, "nope.yaml")}`);
    writeFileSync(join(dir.path, "named.yaml"), "server:\n  name: FromCfg\n");
    const init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n';
    const ok = await runBinary(["serve", "-c", join(dir.path, "named.yaml"), "--root", dir.path], { env, stdin: init });
    expect(ok.stdout).toContain('"name":"FromCfg"');
  });
});

describe("init-config, validate, info", () => {
  test("init-config writes every default, refuses to overwrite without --force", async () => {
    const r = await runBinary(["init-config"], { cwd: dir.path, env });
    expect(r.code).toBe(0);
    const file = join(dir.path, "tfo-mcp.yaml");
    expect(parse(readFileSync(file, "utf8")).claude.max_tokens).toBe(4096);
    const again = await runBinary(["init-config"], { cwd: dir.path, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists; pass --force");
    expect((await runBinary(["init-config", "--force"], { cwd: dir.path, env })).code).toBe(0);
    const other = await runBinary(["init-config", "--output", "custom.yaml"], { cwd: dir.path, env });
    expect(other.code).toBe(0);
    expect(existsSync(join(dir.path, "custom.yaml"))).toBe(true);
  });
  test("validate: exit 0 with a one-line summary", async () => {
    const r = await runBinary(["validate"], { cwd: dir.path, env });
    expect(r.code).toBe(0);
    // Started in the home folder without --root: no workspace, and validate says why.
    expect(r.stdout).toStartWith(`Configuration OK (${join(dir.path, "tfo-mcp.yaml")}): transport stdio, roots none (none: started in ${dir.path} without --root)`);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
  });
  test("validate: exit 1 with each problem and its key path", async () => {
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "claude:\n  max_tokens: many\n  temperature: -1\nlogging:\n  format: xml\n");
    const r = await runBinary(["validate", "--config", bad], { cwd: dir.path, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('claude.max_tokens: got the string "many"; expected number');
    expect(r.stderr).toContain("claude.temperature: got number -1; expected >=0");
    expect(r.stderr).toContain('logging.format: got the string "xml"; expected ("json" | "text")');
  });
  test("serve with a bad env value: exit 1, message on stderr, nothing on stdout", async () => {
    const r = await runBinary(["serve"], { cwd: dir.path, env: { ...env, TELEMETRYFLOW_MCP_MCP__TOOL_TIMEOUT: "soon" }, stdin: "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("mcp.tool_timeout: got the string \"soon\"; expected number (from TELEMETRYFLOW_MCP_MCP__TOOL_TIMEOUT)");
  });
  test("serve with a missing root: exit 1 naming it", async () => {
    const r = await runBinary(["serve", "--root", join(dir.path, "nope")], { cwd: dir.path, env, stdin: "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`workspace root does not exist or cannot be read: ${join(dir.path, "nope")}`);
  });
  test("info --json masks secrets and lists tools, resources, prompts", async () => {
    const r = await runBinary(["info", "--json"], { cwd: dir.path, env: { ...env, ANTHROPIC_API_KEY: "sk-ant-do-not-print" } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("sk-ant-do-not-print");
    const info = JSON.parse(r.stdout);
    expect(info.version).toBe(pkg.version);
    expect(info.config.claude.api_key).toBe("********");
    expect(info.tools).toHaveLength(9);
    expect(info.resources).toEqual(["config://server", "status://health", "file:///{path}", "conversation://{id}"]);
    expect(info.prompts).toEqual(["code_review", "explain_code", "debug_help"]);
  });
  test("info as text", async () => {
    const r = await runBinary(["info"], { cwd: dir.path, env });
    expect(r.stdout).toContain("tools:       echo, read_file");
  });
  test("logging.output to a file in JSON: lines land there, stderr stays quiet, secrets redacted", async () => {
    const logFile = join(dir.path, "tfo.log");
    const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    const call = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "sk-ant-logged-key" } } });
    const r = await runBinary(["serve"], {
      cwd: dir.path,
      env: { ...env, TELEMETRYFLOW_MCP_LOGGING__OUTPUT: logFile, TELEMETRYFLOW_MCP_LOGGING__FORMAT: "json", ANTHROPIC_API_KEY: "sk-ant-logged-key" },
      stdin: `${init}\n${call}\n`,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const lines = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toContain("tool call");
    expect(lines.find((l) => l.event === "tool call")).toMatchObject({ level: "info", tool: "echo", args: { message: "string(17)" }, outcome: "ok" });
    expect(readFileSync(logFile, "utf8")).not.toContain("sk-ant-logged-key");
  });
  test("bare tfo-mcp with piped stdin serves (for clients configured without 'serve')", async () => {
    const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    const r = await runBinary([], { cwd: dir.path, env, stdin: `${init}\n` });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).result.protocolVersion).toBe("2025-06-18");
  });
});
