// The compiled binary, driven over stdio the way MCP clients drive it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectBinary, resourceText, textOf, type Connected } from "./helpers/client.ts";
import { initializedPeer, rawPeer } from "./helpers/raw.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";
import { binary, runBinary } from "./helpers/binary.ts";

const base = tempDir("tfo-e2e-");
const root = join(base.path, "project");
const sentinel = join(base.path, "sentinel");
let c: Connected;

beforeAll(async () => {
  await binary();
  mkdirSync(join(root, "src"), { recursive: true });
  mkdirSync(sentinel);
  writeFileSync(join(root, "README.md"), "# Project\n");
  writeFileSync(join(root, "src", "main.ts"), "console.log('hi');\n");
  writeFileSync(join(sentinel, "keep.txt"), "untouched");
  c = await connectBinary({ cwd: root });
});
afterAll(async () => {
  await c?.close();
  base.cleanup();
});

describe("initialize", () => {
  test.each(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])("negotiates %s", async (version) => {
    const { peer, init } = await initializedPeer({ cwd: root, protocolVersion: version });
    expect(init.result.protocolVersion).toBe(version);
    expect(init.result.serverInfo.name).toBe("TelemetryFlow-MCP");
    expect(Object.keys(init.result.capabilities).sort()).toEqual(["completions", "logging", "prompts", "resources", "tools"]);
    peer.request(1, "tools/list");
    const tools = (await peer.response(1)).result.tools as Record<string, unknown>[];
    expect(tools).toHaveLength(9);
    // Older clients get the tool shape they know; newer ones get titles and output schemas.
    expect(tools.some((t) => "outputSchema" in t)).toBe(version >= "2025-06-18");
    peer.request(2, "tools/call", { name: "list_directory", arguments: {} });
    const listed = (await peer.response(2)).result;
    expect("structuredContent" in listed).toBe(version >= "2025-06-18");
    expect(await peer.close()).toBe(0);
  });
  test("an unknown version gets the latest, as the spec says", async () => {
    const { peer, init } = await initializedPeer({ cwd: root, protocolVersion: "1999-01-01" });
    expect(init.result.protocolVersion).toBe("2025-11-25");
    await peer.close();
  });
  test("as upstream: initialize with no capabilities or clientInfo works; shutdown is answered {} and ends the session", async () => {
    const peer = await rawPeer({ cwd: root });
    peer.request(1, "initialize", { protocolVersion: "2024-11-05" });
    const init = await peer.response(1);
    expect(init.result.protocolVersion).toBe("2024-11-05");
    peer.request(2, "tools/list");
    expect((await peer.response(2)).result.tools).toHaveLength(9);
    peer.request(3, "logging/setLevel", { level: "warn" });
    expect((await peer.response(3)).result).toEqual({});
    peer.request(4, "logging/setLevel", { level: "WARNING" });
    expect((await peer.response(4)).result).toEqual({});
    peer.request(5, "logging/setLevel", { level: "loud" });
    expect((await peer.response(5)).error.message).toContain(`level: expected ("debug" | "info" | "notice" | "warning"`);
    peer.request(6, "shutdown");
    expect((await peer.response(6)).result).toEqual({});
    expect(await peer.proc.exited).toBe(0);
  });
  test("logging/setLevel on a server with logging off says why", async () => {
    const peer = await rawPeer({ cwd: root, env: { TELEMETRYFLOW_MCP_MCP__ENABLE_LOGGING: "false" } });
    peer.request(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } });
    await peer.response(1);
    peer.request(2, "logging/setLevel", { level: "info" });
    expect((await peer.response(2)).error).toEqual({ code: -32601, message: "Method not found: logging/setLevel: logging is disabled on this server (mcp.enable_logging is false)." });
    await peer.close();
  });
  test("requests before initialize are refused; ping is answered", async () => {
    const peer = await rawPeer({ cwd: root });
    peer.request(1, "tools/list");
    expect((await peer.response(1)).error).toEqual({ code: -32600, message: "Send initialize before tools/list." });
    peer.request(2, "ping");
    expect((await peer.response(2)).result).toEqual({});
    await peer.close();
  });
});

describe("every tool from an SDK client", () => {
  test("echo, system_info", async () => {
    expect(textOf(await c.client.callTool({ name: "echo", arguments: { message: "hello" } }))).toBe("Echo: hello");
    const info = await c.client.callTool({ name: "system_info", arguments: {} });
    expect((info.structuredContent as { cwd: string }).cwd).toBe(root);
  });
  test("system_info: the user comes from the OS when USER is unset; roots are absolute", async () => {
    const bare = await connectBinary({ cwd: root, env: { USER: "", LOGNAME: "" } });
    try {
      const data = (await bare.client.callTool({ name: "system_info", arguments: {} })).structuredContent as { user: string; workspace_roots: string[] };
      expect(data.user).toBe(Bun.spawnSync(["id", "-un"]).stdout.toString().trim());
      expect(data.workspace_roots).toEqual([root]);
    } finally {
      await bare.close();
    }
  });
  test("write_file, read_file, list_directory, search_files, execute_command", async () => {
    const w = await c.client.callTool({ name: "write_file", arguments: { path: "notes/todo.md", content: "- ship it\n", create_dirs: true } });
    expect(w.isError).toBeFalsy();
    expect(readFileSync(join(root, "notes/todo.md"), "utf8")).toBe("- ship it\n");
    expect(textOf(await c.client.callTool({ name: "read_file", arguments: { path: "notes/todo.md" } }))).toBe("- ship it\n");
    const list = JSON.parse(textOf(await c.client.callTool({ name: "list_directory", arguments: { path: "." } })));
    expect(list.map((e: { name: string }) => e.name)).toEqual(["README.md", "notes", "src"]);
    const found = JSON.parse(textOf(await c.client.callTool({ name: "search_files", arguments: { pattern: "*.md" } })));
    expect(found).toEqual({ matches: ["README.md", "notes/todo.md"], count: 2, truncated: false });
    const run = JSON.parse(textOf(await c.client.callTool({ name: "execute_command", arguments: { command: "cat README.md" } })));
    expect(run).toEqual({ exit_code: 0, stdout: "# Project\n", stderr: "" });
  });
  test("claude_conversation without a key or sampling: a clear error naming the variable", async () => {
    const r = await c.client.callTool({ name: "claude_conversation", arguments: { message: "hi" } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("ANTHROPIC_API_KEY");
  });
  test("resources and prompts", async () => {
    const health = await c.client.readResource({ uri: "status://health" });
    expect(JSON.parse(resourceText(health)).session.client.name).toBe("tfo-e2e");
    const file = await c.client.readResource({ uri: `file://${root}/README.md` });
    expect(resourceText(file)).toBe("# Project\n");
    const config = JSON.parse(resourceText(await c.client.readResource({ uri: "config://server" })));
    expect(config.workspace.roots).toEqual([root]);
    const prompt = await c.client.getPrompt({ name: "explain_code", arguments: { code: "1+1" } });
    expect(prompt.messages).toHaveLength(1);
  });
});

describe("hostile input on stdin", () => {
  test("junk lines are answered and the server keeps serving", async () => {
    const { peer } = await initializedPeer({ cwd: root });
    peer.send("this is not json\n");
    expect((await peer.response(null)).error.code).toBe(-32700);
    peer.send("[1,2,3]\n");
    expect((await peer.response(null)).error.code).toBe(-32600);
    peer.send('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"nope"}\n');
    expect((await peer.response(5)).error.code).toBe(-32600);
    peer.request(6, "tools/call", { name: 42 });
    expect((await peer.response(6)).error).toMatchObject({ code: -32602 });
    peer.request(7, "no/such/method");
    expect((await peer.response(7)).error.code).toBe(-32601);
    peer.send("\u0000\u0001\u0002\n");
    expect((await peer.response(null)).error.code).toBe(-32700);
    peer.request(8, "tools/call", { name: "echo", arguments: { message: "still here" } });
    expect((await peer.response(8)).result.content[0].text).toBe("Echo: still here");
    expect(await peer.close()).toBe(0);
  });

  test("a 70 MB line is refused and discarded, memory stays bounded, the next request works", async () => {
    const { peer } = await initializedPeer({ cwd: root });
    const chunk = "x".repeat(1024 * 1024);
    for (let i = 0; i < 70; i++) peer.send(chunk);
    peer.send("\n");
    const err = await peer.response(null, 30_000);
    expect(err.error.message).toContain("longer than");
    peer.request(9, "ping");
    expect((await peer.response(9)).result).toEqual({});
    const rss = Number(readFileSync(`/proc/${peer.proc.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)![1]) * 1024;
    expect(rss).toBeLessThan(250 * 1024 * 1024);
    await peer.close();
  });

  test("1,000 concurrent calls all get their own answer", async () => {
    const { peer } = await initializedPeer({ cwd: root });
    let batch = "";
    for (let i = 1; i <= 1000; i++) batch += `${JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "echo", arguments: { message: `m${i}` } } })}\n`;
    peer.send(batch);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => peer.response(i + 1, 30_000)));
    expect(answers.every((a, i) => a.result.content[0].text === `Echo: m${i + 1}`)).toBe(true);
    await peer.close();
  });

  test("path attacks are refused and nothing outside changes", async () => {
    const attacks = [
      ["read_file", { path: "../sentinel/keep.txt" }],
      ["read_file", { path: `${sentinel}/keep.txt` }],
      ["write_file", { path: "../sentinel/keep.txt", content: "pwned" }],
      ["write_file", { path: `${sentinel}/new.txt`, content: "pwned" }],
      ["write_file", { path: "../project-evil/x.txt", content: "pwned", create_dirs: true }],
      ["list_directory", { path: ".." }],
      ["search_files", { path: "..", pattern: "*" }],
      ["execute_command", { command: "ls", working_dir: ".." }],
      ["read_file", { path: "README.md\u0000../../etc/passwd" }],
    ] as const;
    for (const [name, args] of attacks) {
      const r = await c.client.callTool({ name, arguments: args as Record<string, unknown> });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/Access denied|Invalid path/);
    }
    expect(readdirSync(sentinel)).toEqual(["keep.txt"]);
    expect(readFileSync(join(sentinel, "keep.txt"), "utf8")).toBe("untouched");
    expect(existsSync(join(base.path, "project-evil"))).toBe(false);
  });

  test("a final request without a newline, then stdin closed: it is answered", async () => {
    const lines = [
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"script","version":"1"}}}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"last words"}}}',
    ];
    const r = await runBinary(["serve", "--root", root], { stdin: lines.join("\n") });
    expect(r.code).toBe(0);
    const answers = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(answers.find((a) => a.id === 2)?.result.content[0].text).toBe("Echo: last words");
  });

  test("stdin closed mid-call: the running call is answered, then a clean exit", async () => {
    const { peer } = await initializedPeer({ cwd: root });
    peer.request(3, "tools/call", { name: "execute_command", arguments: { command: "sleep 0.3; echo done" } });
    peer.proc.stdin.end();
    const r = await peer.response(3);
    expect(JSON.parse(r.result.content[0].text).stdout).toBe("done\n");
    expect(await peer.proc.exited).toBe(0);
  });

  test("execute_command reports progress while it runs: elapsed time and output so far", async () => {
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const r = await c.client.callTool({ name: "execute_command", arguments: { command: "printf abc; sleep 2.3", timeout: 10 } }, undefined, { onprogress: (p) => seen.push(p) });
    expect(r.isError).toBeFalsy();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]).toMatchObject({ progress: 1, total: 10 });
    expect(seen.at(-1)!.message).toMatch(/^running for 2 s, 3 bytes of output so far$/);
  });
  test("cancel kills the running command tree", async () => {
    const marker = `tfo-cancel-${Date.now() % 100000}`;
    const { peer } = await initializedPeer({ cwd: root });
    peer.request(4, "tools/call", { name: "execute_command", arguments: { command: `(exec -a ${marker} sleep 60) & sleep 60` } });
    const running = () => Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim();
    await until(() => running() !== "", 5000, 20);
    expect(running()).not.toBe("");
    peer.send(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 4, reason: "user" } })}\n`);
    await until(() => running() === "", 5000, 20);
    expect(running()).toBe("");
    peer.request(5, "ping");
    expect((await peer.response(5)).result).toEqual({});
    await peer.close();
  });

  test("stdout carries only JSON-RPC; logs go to stderr", async () => {
    const { peer } = await initializedPeer({ cwd: root, args: ["--debug"] });
    peer.request(1, "tools/call", { name: "echo", arguments: { message: "x" } });
    await peer.response(1);
    await peer.close();
    expect(peer.messages.every((m) => m.jsonrpc === "2.0")).toBe(true);
    expect(peer.stderr()).toContain("tool call");
  });
});
