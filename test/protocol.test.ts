// Resources, prompts, completions, logging and protocol errors through the SDK Client, in-process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resourceText } from "./helpers/client.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const base = tempDir();
const root = join(base.path, "ws");
let s: Awaited<ReturnType<typeof inProcess>>;
const logged: unknown[] = [];

beforeAll(async () => {
  mkdirSync(join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "docs", "guide.md"), "# Guide\n");
  writeFileSync(join(root, "data.bin"), Buffer.from([1, 2, 0, 3]));
  writeFileSync(join(root, "note.json"), '{"a":1}');
  writeFileSync(join(base.path, "outside.txt"), "no");
  const client = new Client({ name: "proto", version: "2" }, { capabilities: {} });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logged.push(n.params);
  });
  s = await inProcess({ roots: [root], client, config: { claude: { api_key: "sk-ant-secret-value" } } });
});
afterAll(async () => {
  await s.close();
  base.cleanup();
});

const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as { code: number; message: string };
  }
  throw new Error("expected a JSON-RPC error");
};

describe("tools/list", () => {
  test("all nine tools with schemas, annotations and output schemas", async () => {
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["echo", "read_file", "write_file", "edit_file", "list_directory", "search_files", "execute_command", "system_info", "claude_conversation"]);
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object");
      expect(t.annotations).toHaveProperty("readOnlyHint");
      expect(t.annotations).toHaveProperty("destructiveHint");
      expect(t.description!.length).toBeGreaterThan(20);
      expect(t).not.toHaveProperty("inputSchema.$schema");
    }
    const read = tools.find((t) => t.name === "read_file")!;
    expect(read.inputSchema.required).toEqual(["path"]);
    expect((read.inputSchema.properties as any).encoding.default).toBe("utf-8");
    expect(tools.find((t) => t.name === "write_file")!.annotations!.destructiveHint).toBe(true);
    // append writes twice when called twice: not idempotent
    expect(tools.find((t) => t.name === "write_file")!.annotations!.idempotentHint).toBe(false);
    // Text to read has no output schema (Claude Code would show the model escaped JSON); data does.
    const withSchema = tools.filter((t) => t.outputSchema).map((t) => t.name);
    expect(withSchema).toEqual(["write_file", "edit_file", "list_directory", "search_files", "execute_command", "system_info"]);
  });
});

describe("protocol errors", () => {
  test("unknown tool is -32602 naming the tools", async () => {
    const e = await errorOf(s.client.callTool({ name: "nope", arguments: {} }));
    expect(e.code).toBe(-32602);
    expect(e.message).toContain('Unknown tool: "nope". Available tools: echo, read_file');
  });
  test("params of the wrong shape are -32602 with what was wrong", async () => {
    const e = await errorOf(s.client.request({ method: "resources/read", params: { uri: 5 } } as never, (await import("@modelcontextprotocol/sdk/types.js")).ReadResourceResultSchema));
    expect(e.code).toBe(-32602);
    expect(e.message).toContain("Invalid params for resources/read: uri: expected string, got 5");
  });
  test("unknown method is -32601", async () => {
    const { EmptyResultSchema } = await import("@modelcontextprotocol/sdk/types.js");
    const e = await errorOf(s.client.request({ method: "tools/destroy" } as never, EmptyResultSchema));
    expect(e.code).toBe(-32601);
  });
  test("ping works", async () => {
    expect(await s.client.ping()).toEqual({});
  });
});

describe("resources", () => {
  test("list and templates", async () => {
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(["config://server", "status://health"]);
    // upstream's names, our titles
    expect(resources.map((r) => [r.name, r.title])).toEqual([
      ["Server Configuration", "Server configuration"],
      ["Health Status", "Health"],
    ]);
    const { resourceTemplates } = await s.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["file:///{path}", "conversation://{id}"]);
  });
  test("config://server is the effective config with secrets masked", async () => {
    const r = await s.client.readResource({ uri: "config://server" });
    const text = (r.contents[0] as { text: string }).text;
    expect(text).not.toContain("sk-ant-secret-value");
    const config = JSON.parse(text);
    expect(config.claude.api_key).toBe("********");
    expect(config.workspace.roots).toEqual([root]);
    // upstream's fields beside ours
    expect(config.server.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(config.mcp).toMatchObject({ protocolVersion: expect.stringMatching(/^20\d\d-/), enableTools: true, enableResources: true, enablePrompts: true });
  });
  test("status://health reports status, session and counters", async () => {
    await s.client.callTool({ name: "echo", arguments: { message: "x" } });
    const health = JSON.parse(resourceText(await s.client.readResource({ uri: "status://health" })));
    expect(health.status).toBe("healthy");
    expect(health.session.client).toEqual({ name: "proto", version: "2" });
    expect(health.session).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), state: "ready", toolCount: 9, resourceCount: 4, promptCount: 3 });
    expect(health.counters.tool_calls).toBeGreaterThan(0);
  });
  test("a malformed conversation:// URI is -32602 with a sentence, not an internal error", async () => {
    const e = (await errorOf(s.client.readResource({ uri: "conversation://%E0%A4%A" }))) as { code: number; message: string };
    expect(e.code).toBe(-32602);
    expect(e.message).toContain("its percent-encoding is broken");
  });
  test("file:/// template: text with MIME type, blob for binary", async () => {
    const md = await s.client.readResource({ uri: `file://${root}/docs/guide.md` });
    expect(md.contents[0]).toEqual({ uri: `file://${root}/docs/guide.md`, mimeType: "text/markdown", text: "# Guide\n" });
    const json = await s.client.readResource({ uri: `file://${root}/note.json` });
    expect(json.contents[0]!.mimeType).toBe("application/json");
    const bin = await s.client.readResource({ uri: `file://${root}/data.bin` });
    expect(bin.contents[0]).toMatchObject({ blob: "AQIAAw==" });
  });
  test("file:/// outside, missing, a folder, unknown scheme", async () => {
    expect((await errorOf(s.client.readResource({ uri: `file://${base.path}/outside.txt` }))).message).toContain("outside the workspace");
    const missing = await errorOf(s.client.readResource({ uri: `file://${root}/nope.txt` }));
    expect(missing.code).toBe(-32002);
    expect((await errorOf(s.client.readResource({ uri: `file://${root}/docs` }))).message).toContain("not a regular file");
    const unknown = await errorOf(s.client.readResource({ uri: "weird://x" }));
    expect(unknown.code).toBe(-32002);
    expect(unknown.message).toContain("Resource not found: weird://x");
  });
});

describe("prompts", () => {
  test("list with upstream arguments", async () => {
    const { prompts } = await s.client.listPrompts();
    expect(prompts.map((p) => [p.name, p.arguments!.map((a) => `${a.name}${a.required ? "*" : ""}`)])).toEqual([
      ["code_review", ["code*", "language"]],
      ["explain_code", ["code*", "language", "detail_level"]],
      ["debug_help", ["code*", "error*", "language"]],
    ]);
  });
  test("each says exactly what the Python server's said", async () => {
    const textOf = async (name: string, args: Record<string, string>) => ((await s.client.getPrompt({ name, arguments: args })).messages[0]!.content as { text: string }).text;
    expect(await textOf("code_review", { code: "let x = 1", language: "typescript" })).toBe(
      "Please review the following typescript code and provide feedback on:\n1. Code quality and best practices\n2. Potential bugs or issues\n3. Performance considerations\n4. Security concerns\n5. Suggestions for improvement\n\nCode to review:\n```typescript\nlet x = 1\n```\n\nPlease provide a thorough code review with specific recommendations.",
    );
    expect(await textOf("explain_code", { code: "x", language: "python", detail_level: "brief" })).toBe(
      "Please explain the following python code.\n\nProvide a brief, high-level explanation.\n\nCode to explain:\n```python\nx\n```\n\nInclude:\n- What the code does overall\n- Key functions and their purposes\n- Important data structures\n- Any notable patterns or techniques used",
    );
    expect(await textOf("debug_help", { code: "x()", error: "x is not defined", language: "js" })).toBe(
      "I need help debugging this js code.\n\nThe code:\n```js\nx()\n```\n\nThe error/issue:\nx is not defined\n\nPlease help me:\n1. Understand what's causing the error\n2. Identify the root cause\n3. Suggest a fix with explanation\n4. Recommend any preventive measures for similar issues",
    );
  });
  test("as upstream: an unknown detail_level is medium, undeclared arguments are ignored, an empty required one is accepted", async () => {
    const explain = await s.client.getPrompt({ name: "explain_code", arguments: { code: "x", detail_level: "epic" } });
    expect((explain.messages[0]!.content as { text: string }).text).toContain("Provide a balanced explanation with key details.");
    const extra = await s.client.getPrompt({ name: "code_review", arguments: { code: "x", colour: "red" } });
    expect((extra.messages[0]!.content as { text: string }).text).not.toContain("red");
    const empty = await s.client.getPrompt({ name: "debug_help", arguments: { code: "", error: "" } });
    expect(empty.messages).toHaveLength(1);
  });
  test("code containing backticks keeps its fence intact", async () => {
    const r = await s.client.getPrompt({ name: "code_review", arguments: { code: "```\ninner\n```" } });
    expect((r.messages[0]!.content as { text: string }).text).toContain("````\n```\ninner\n```\n````");
  });
  test("bad prompt requests are -32602 with the reason", async () => {
    expect((await errorOf(s.client.getPrompt({ name: "nope" }))).message).toContain('Unknown prompt: "nope". Available prompts: code_review, explain_code, debug_help.');
    expect((await errorOf(s.client.getPrompt({ name: "debug_help", arguments: { code: "x" } }))).message).toContain("Missing required argument: error (prompt debug_help takes code, error, language)");
  });
});

describe("completions", () => {
  test("prompt arguments", async () => {
    const r = await s.client.complete({ ref: { type: "ref/prompt", name: "code_review" }, argument: { name: "language", value: "ty" } });
    expect(r.completion.values).toEqual(["typescript"]);
    const d = await s.client.complete({ ref: { type: "ref/prompt", name: "explain_code" }, argument: { name: "detail_level", value: "" } });
    expect(d.completion.values).toEqual(["brief", "medium", "detailed"]);
  });
  test("file template paths", async () => {
    const r = await s.client.complete({ ref: { type: "ref/resource", uri: "file:///{path}" }, argument: { name: "path", value: `${root}/d` } });
    expect(r.completion.values).toEqual([`${root}/data.bin`, `${root}/docs/`]);
    const outside = await s.client.complete({ ref: { type: "ref/resource", uri: "file:///{path}" }, argument: { name: "path", value: "/etc/pa" } });
    expect(outside.completion.values).toEqual([]);
  });
});

describe("logging", () => {
  test("after logging/setLevel the client receives audit lines without argument contents", async () => {
    await s.client.setLoggingLevel("info");
    const first = logged.length;
    await s.client.callTool({ name: "echo", arguments: { message: "private words" } });
    await until(() => logged.length > first, 2000);
    const last = logged.at(-1) as { level: string; data: { tool: string; args: Record<string, string> } };
    expect(last.level).toBe("info");
    expect(last.data.tool).toBe("echo");
    expect(last.data.args).toEqual({ message: "string(13)" });
    expect(JSON.stringify(logged)).not.toContain("private words");
    await s.client.setLoggingLevel("error");
    const before = logged.length;
    await s.client.callTool({ name: "echo", arguments: { message: "x" } });
    // A fence instead of a sleep: messages arrive in order, so an audit of the call above
    // would be here before the audit of this one.
    await s.client.setLoggingLevel("info");
    await s.client.callTool({ name: "echo", arguments: { message: "fence" } });
    await until(() => logged.length > before, 2000);
    expect(logged.slice(before).map((l) => (l as { data: { args: unknown } }).data.args)).toEqual([{ message: "string(5)" }]);
    await s.client.setLoggingLevel("error");
  });
  test("the server log has one audit line per call and never the contents", () => {
    const audits = s.logs.filter((l) => JSON.parse(l).event === "tool call");
    expect(audits.length).toBeGreaterThan(1);
    expect(s.logs.join("\n")).not.toContain("private words");
  });
  test("a bad level is -32602", async () => {
    expect((await errorOf(s.client.setLoggingLevel("loud" as never))).code).toBe(-32602);
  });
});

describe("switches", () => {
  test("mcp.protocol_version pins the version; enable_* remove capabilities and their methods", async () => {
    const dir = tempDir();
    const s2 = await inProcess({ roots: [dir.path], config: { mcp: { protocol_version: "2025-03-26", enable_prompts: false, enable_resources: false } } });
    expect(s2.client.getServerCapabilities()?.prompts).toBeUndefined();
    expect(s2.client.getServerCapabilities()?.resources).toBeUndefined();
    expect(s2.stats.protocolVersion).toBe("2025-03-26");
    const { ListPromptsResultSchema } = await import("@modelcontextprotocol/sdk/types.js");
    expect((await errorOf(s2.client.request({ method: "prompts/list" } as never, ListPromptsResultSchema))).code).toBe(-32601);
    // 2025-03-26 predates output schemas: tools come without them
    expect((await s2.client.listTools()).tools.some((t) => t.outputSchema)).toBe(false);
    await s2.close();
    dir.cleanup();
  });
});

describe("mcp.tool_timeout", () => {
  test("a tool past the deadline is stopped with an error result and its signal aborted; tools with their own deadline are not", async () => {
    const { defineTool } = await import("../src/tools/define.ts");
    const v = await import("valibot");
    let aborted = false;
    const slow = defineTool({
      name: "slow",
      title: "Slow",
      description: "waits until aborted",
      input: v.object({}),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      run: (_args, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            resolve({ text: "aborted" });
          });
        }),
    });
    const patient = defineTool({ ...slow, name: "patient", ownTimeout: true, run: async () => (await Bun.sleep(300), { text: "done late" }) });
    const dir = tempDir();
    const s2 = await inProcess({ roots: [dir.path], tools: [slow, patient], config: { mcp: { tool_timeout: 0.1 } } });
    const r = (await s2.client.callTool({ name: "slow", arguments: {} })) as { isError?: boolean; content: { text: string }[] };
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toBe("slow took longer than 0.1 s (mcp.tool_timeout) and was stopped.");
    expect(aborted).toBe(true);
    const late = (await s2.client.callTool({ name: "patient", arguments: {} })) as { content: { text: string }[] };
    expect(late.content[0]!.text).toBe("done late");
    await s2.close();
    dir.cleanup();
  });
});

describe("error results and output schemas", () => {
  test("a failing call of a tool with an output schema carries no structuredContent, so a client that listed tools shows the error", async () => {
    const dir = tempDir();
    const s2 = await inProcess({ roots: [dir.path] });
    // inProcess lists the tools first; the SDK client validates structuredContent against them.
    const r = (await s2.client.callTool({ name: "execute_command", arguments: { command: "exit 3" } })) as { isError?: boolean; structuredContent?: unknown; _meta?: unknown };
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    expect(r._meta).toMatchObject({ exit_code: 3 });
    const missing = (await s2.client.callTool({ name: "list_directory", arguments: { path: "nope" } })) as { isError?: boolean; structuredContent?: unknown };
    expect(missing.isError).toBe(true);
    expect(missing.structuredContent).toBeUndefined();
    await s2.close();
    dir.cleanup();
  });
});

describe("redactDeep", () => {
  test("redacts every string in place, keeps untouched objects as they are, matches a secret holding a quote", async () => {
    const { redactDeep } = await import("../src/server/create.ts");
    const { redactor } = await import("../src/log.ts");
    const redact = redactor(['pa"ss-word', "sk-ant-xyz"]);
    const untouched = { content: [{ type: "text", text: "nothing here" }] };
    expect(redactDeep(untouched, redact)).toBe(untouched);
    const r = redactDeep({ content: [{ type: "text", text: 'key sk-ant-xyz and pa"ss-word' }], _meta: { n: 1 } }, redact) as { content: { text: string }[]; _meta: unknown };
    expect(r.content[0]!.text).toBe("key *** and ***");
    expect(r._meta).toEqual({ n: 1 });
  });
});
