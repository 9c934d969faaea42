// Claude with tools inside claude_conversation: the loop against the local fake Messages API
// (and through MCP sampling with tools), Claude's calls going through the server's own call
// path, the exchange stored, shown and sent back; and the binary end to end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { ChatMessage } from "../src/claude/client.ts";
import { cutToBytes, runToolLoop } from "../src/claude/tool-loop.ts";
import { configSchema } from "../src/config/schema.ts";
import { createLogger } from "../src/log.ts";
import { prompts } from "../src/prompts/index.ts";
import { resources, resourceTemplates } from "../src/resources/index.ts";
import { createServer } from "../src/server/create.ts";
import { exchangeRounds, replayableExchange, storedExchange } from "../src/sessions/exchange.ts";
import { historyMessages, type Turn } from "../src/sessions/records.ts";
import { memoryStore } from "../src/store/memory.ts";
import { hashKey } from "../src/tenants/keys.ts";
import { tenantSession } from "../src/tenants/session-scope.ts";
import { tools } from "../src/tools/index.ts";
import { connectBinary, listToolsFirst, resourceText, textOf } from "./helpers/client.ts";
import { refusedByApi, startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const fake = startFakeAnthropic();
const dir = tempDir("tfo-claude-tools-");
const APP = "export const answer = 42; // TODO: explain why\n";
mkdirSync(join(dir.path, "src"));
writeFileSync(join(dir.path, "src", "app.ts"), APP);
writeFileSync(join(dir.path, "notes.md"), "# notes\n");
const outside = tempDir("tfo-claude-outside-");
writeFileSync(join(outside.path, "secret.txt"), "not for Claude\n");
afterAll(() => {
  fake.stop();
  dir.cleanup();
  outside.cleanup();
});

const apiConfig = (claude: Record<string, unknown> = {}, more: Record<string, Record<string, unknown>> = {}) => ({
  claude: { api_key: "sk-ant-tools", base_url: fake.url, max_retries: 0, ...claude },
  ...more,
});
type Result = { content: { type: string; text: string }[]; isError?: boolean; _meta?: Record<string, any> };
const ask = (client: Client, args: Record<string, unknown>, options?: Parameters<Client["callTool"]>[2]) =>
  client.callTool({ name: "claude_conversation", arguments: args }, undefined, options) as Promise<Result>;
/** The messages of the n-th request since `from`. */
const sent = (from: number, n = 0) => fake.requests[from + n]!.body.messages as { role: string; content: any }[];
const lastToolResults = (messages: { role: string; content: any }[]) => messages.at(-1)!.content as { type: string; tool_use_id: string; content: string; is_error?: boolean }[];
const toolNames = (from: number, n = 0) => ((fake.requests[from + n]!.body.tools ?? []) as { name: string }[]).map((t) => t.name);

describe("the loop against the Messages API", () => {
  let conversationId = "";

  test("tool_use → read_file → tool_result → search → final answer; the requests carry the real results", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig() });
    const before = fake.requests.length;
    fake.queue(
      { kind: "tool_use", text: "Let me look.", calls: [{ name: "read_file", input: { path: "src/app.ts" } }] },
      { kind: "tool_use", calls: [{ name: "search_files", input: { pattern: "*.ts", content: "TODO" } }] },
      { kind: "reply", text: "The answer is 42." },
    );
    const progress: string[] = [];
    const r = await ask(s.client, { message: "what is the answer?", tools: "read" }, { onprogress: (p) => progress.push(p.message ?? "") });
    expect(textOf(r)).toBe("The answer is 42.");
    expect(r._meta).toMatchObject({ tool_rounds: 2, tool_calls: 2, ended: "end_turn", stop_reason: "end_turn", via: "api", tools: ["read_file", "list_directory", "search_files", "system_info"] });
    conversationId = r._meta!.conversation_id;
    expect(fake.requests.length - before).toBe(3);
    expect(fake.refused).toEqual([]);

    // The tools as tools/list shows them: same names, descriptions and JSON Schema.
    const listed = (await s.client.listTools()).tools;
    const offered = fake.requests[before]!.body.tools as { name: string; description: string; input_schema: unknown }[];
    for (const t of offered) {
      const l = listed.find((x) => x.name === t.name)!;
      expect(t).toEqual({ name: l.name, description: l.description!, input_schema: l.inputSchema });
    }

    const second = sent(before, 1);
    expect(second.slice(0, 2)).toEqual([
      { role: "user", content: "what is the answer?" },
      { role: "assistant", content: [{ type: "text", text: "Let me look." }, { type: "tool_use", id: expect.any(String), name: "read_file", input: { path: "src/app.ts" } }] },
    ]);
    const [read] = lastToolResults(second);
    expect(read).toEqual({ type: "tool_result", tool_use_id: second[1]!.content[1].id, content: APP });
    const [search] = lastToolResults(sent(before, 2));
    expect(JSON.parse(search!.content)).toMatchObject({ matches: ["src/app.ts"], count: 1 });

    expect(progress).toContain("reading src/app.ts");
    expect(progress).toContain("searching *.ts for TODO");
    expect(progress.indexOf("asking Claude (round 2)")).toBeGreaterThan(progress.indexOf("reading src/app.ts"));

    // The same audit line as a client's call, marked as Claude's.
    const audit = s.logs.map((l) => JSON.parse(l)).filter((l) => l.event === "tool call");
    expect(audit.map((l) => [l.tool, l.via])).toEqual([
      ["read_file", "claude_conversation"],
      ["search_files", "claude_conversation"],
      ["claude_conversation", undefined],
    ]);
    expect(audit[0]).toMatchObject({ args: { path: "string(10)" }, outcome: "ok" });
    expect(JSON.stringify(audit)).not.toContain("answer = 42");
    expect(s.stats.toolCalls).toBe(3);

    // conversation:// shows the calls and their results round by round.
    const doc = JSON.parse(resourceText(await s.client.readResource({ uri: `conversation://${conversationId}` })));
    expect(doc.history[0].tool_rounds).toEqual([
      { round: 1, said: "Let me look.", calls: [{ tool: "read_file", input: { path: "src/app.ts" }, result: APP, is_error: false }] },
      { round: 2, calls: [{ tool: "search_files", input: { pattern: "*.ts", content: "TODO" }, result: expect.stringContaining('"src/app.ts"'), is_error: false }] },
    ]);
    expect(doc.history[0].exchange).toBeUndefined();

    // Continued with tools: the stored exchange goes back as tool blocks the API accepts.
    const next = fake.requests.length;
    await ask(s.client, { message: "and why?", conversation_id: conversationId, tools: ["read_file"] });
    expect(fake.refused).toEqual([]);
    const replay = sent(next);
    expect(replay.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user", "assistant", "user"]);
    expect(replay[2]!.content[0]).toMatchObject({ type: "tool_result", content: APP });
    expect(replay[5]).toEqual({ role: "assistant", content: "The answer is 42." });
    expect(toolNames(next)).toEqual(["read_file"]);

    // Continued without tools: the API would refuse tool blocks, so the calls are told as text.
    const plain = fake.requests.length;
    await ask(s.client, { message: "thanks", conversation_id: conversationId });
    expect(fake.refused).toEqual([]);
    const told = sent(plain);
    expect(told.every((m) => typeof m.content === "string")).toBe(true);
    expect(told[1]!.content).toBe('[Tools used: read_file {"path":"src/app.ts"}; search_files {"pattern":"*.ts","content":"TODO"}]\n\nThe answer is 42.');
    expect(fake.requests[plain]!.body.tools).toBeUndefined();
    await s.close();
  });

  test("the round limit: the answer says so, _meta says why it ended, and the turn can be continued", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig({ max_tool_rounds: 2 }) });
    const before = fake.requests.length;
    const again = { kind: "tool_use" as const, calls: [{ name: "list_directory", input: {} }] };
    fake.queue(again, again, { ...again, text: "Still looking." });
    const r = await ask(s.client, { message: "look around", tools: "read" });
    expect(fake.requests.length - before).toBe(3);
    expect(textOf(r)).toBe(
      "Still looking.\n\n[Stopped after 2 rounds of tool use (claude.max_tool_rounds): Claude still wanted to call list_directory. Continue the conversation to let it go on, or raise claude.max_tool_rounds.]",
    );
    expect(r._meta).toMatchObject({ tool_rounds: 2, tool_calls: 2, ended: "round_limit" });
    const next = fake.requests.length;
    await ask(s.client, { message: "go on", conversation_id: r._meta!.conversation_id, tools: "read" });
    expect(fake.refused).toEqual([]);
    const replay = sent(next);
    expect(replay).toHaveLength(1 + 6 + 1 + 1);
    expect(replay[6]!.content).toEqual([{ type: "tool_result", tool_use_id: expect.any(String), content: "Not run: the limit of 2 tool rounds (claude.max_tool_rounds) was reached.", is_error: true }]);
    await s.close();
  });

  test("a cancel mid-loop stops the running command and the loop; the turn is stored as cancelled", async () => {
    const store = memoryStore();
    const s = await inProcess({ roots: [dir.path], config: apiConfig(), store });
    const before = fake.requests.length;
    const pidFile = join(dir.path, "sleeper.pid");
    fake.queue({ kind: "tool_use", calls: [{ name: "execute_command", input: { command: `echo $$ > ${pidFile}; exec sleep 30` } }] });
    const controller = new AbortController();
    const call = ask(s.client, { message: "run it", tools: ["execute_command"] }, { signal: controller.signal });
    const settled = call.then(
      () => "answered",
      (error: Error) => `${error.name}: ${error.message}`,
    );
    expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", 10_000)).toBe(true);
    const pid = Number(readFileSync(pidFile, "utf8"));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    controller.abort();
    expect(await settled).toContain("AbortError");
    expect(await until(() => !alive(), 10_000)).toBe(true);
    const [conversation] = await store.listConversations(10);
    expect(await until(async () => (await store.turns(conversation!.id))[0]?.status === "failed", 10_000)).toBe(true);
    expect((await store.turns(conversation!.id))[0]).toMatchObject({ user: "run it", status: "failed", error: "Cancelled.", exchange: null });
    // The loop stopped: nothing was sent after the tool_use reply.
    expect(fake.requests.length - before).toBe(1);
    await s.close();
  }, 30_000);

  test("a path outside the workspace is refused inside the loop with the same words as from a client", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig() });
    const path = join(outside.path, "secret.txt");
    const direct = (await s.client.callTool({ name: "read_file", arguments: { path } })) as Result;
    expect(direct.isError).toBe(true);
    const before = fake.requests.length;
    fake.queue({ kind: "tool_use", calls: [{ name: "read_file", input: { path } }] }, { kind: "reply", text: "I cannot read it." });
    const r = await ask(s.client, { message: "read the secret", tools: "read" });
    expect(textOf(r)).toBe("I cannot read it.");
    const [result] = lastToolResults(sent(before, 1));
    expect(result).toMatchObject({ is_error: true, content: textOf(direct) });
    expect(result!.content).not.toContain("not for Claude");
    await s.close();
  });

  test("the server's secrets are scrubbed from what Claude is handed, as from a client's result", async () => {
    writeFileSync(join(dir.path, "leak.txt"), "key=sk-ant-tools\n");
    const s = await inProcess({ roots: [dir.path], config: apiConfig() });
    const before = fake.requests.length;
    fake.queue({ kind: "tool_use", calls: [{ name: "read_file", input: { path: "leak.txt" } }] }, { kind: "reply", text: "seen" });
    await ask(s.client, { message: "read leak", tools: "read" });
    expect(lastToolResults(sent(before, 1))[0]!.content).toBe("key=***\n");
    await s.close();
  });

  test("a tool result is cut to 100 KB on its way to Claude", async () => {
    writeFileSync(join(dir.path, "big.txt"), "x".repeat(150 * 1024));
    const s = await inProcess({ roots: [dir.path], config: apiConfig() });
    const before = fake.requests.length;
    fake.queue({ kind: "tool_use", calls: [{ name: "read_file", input: { path: "big.txt" } }] }, { kind: "reply", text: "big" });
    await ask(s.client, { message: "read big", tools: "read" });
    const [result] = lastToolResults(sent(before, 1));
    expect(result!.content).toStartWith("x".repeat(100 * 1024));
    expect(result!.content).toEndWith("\n[… 51200 more bytes cut: a tool result sent to Claude is limited to 100 KB]");
    await s.close();
  });

  test("names: unknown, not offered, or claude_conversation itself are refused before the API, saying what is accepted", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig({}, { commands: { enabled: false } }) });
    const before = fake.requests.length;
    const unknown = await ask(s.client, { message: "x", tools: ["read_file", "rm_rf"] });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toBe(
      'tools: "rm_rf" is not among this session\'s tools. Accepted: "read" (read_file, list_directory, search_files, system_info) or a list of this session\'s tools: echo, read_file, write_file, edit_file, list_directory, search_files, system_info.',
    );
    const commands = await ask(s.client, { message: "x", tools: ["execute_command"] });
    expect(textOf(commands)).toStartWith("tools: execute_command is not offered: commands are disabled on this server (commands.enabled is false). Accepted:");
    const self = await ask(s.client, { message: "x", tools: ["claude_conversation"] });
    expect(textOf(self)).toStartWith("tools: claude_conversation cannot be offered to Claude (it would call itself). Accepted:");
    expect(fake.requests.length).toBe(before);
    await s.close();
  });

  test("only the named tools are offered: echo and the writers are not part of \"read\", and a call to one is refused", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig() });
    const before = fake.requests.length;
    fake.queue({ kind: "tool_use", calls: [{ name: "write_file", input: { path: "pwned.txt", content: "pwned" } }] }, { kind: "reply", text: "ok" });
    await ask(s.client, { message: "write", tools: "read" });
    expect(toolNames(before)).toEqual(["read_file", "list_directory", "search_files", "system_info"]);
    const [result] = lastToolResults(sent(before, 1));
    expect(result).toMatchObject({ is_error: true, content: "write_file is not among the tools offered in this conversation: read_file, list_directory, search_files, system_info." });
    expect(existsSync(join(dir.path, "pwned.txt"))).toBe(false);

    const named = fake.requests.length;
    fake.queue({ kind: "tool_use", calls: [{ name: "write_file", input: { path: "made.txt", content: "made by Claude" } }] }, { kind: "reply", text: "written" });
    await ask(s.client, { message: "write", tools: ["read", "write_file", "echo"] });
    expect(toolNames(named)).toEqual(["echo", "read_file", "write_file", "list_directory", "search_files", "system_info"]);
    expect(readFileSync(join(dir.path, "made.txt"), "utf8")).toBe("made by Claude");
    await s.close();
  });

  test("read-only: the writers cannot be named, and the server's refusal holds inside the loop", async () => {
    const s = await inProcess({ roots: [dir.path], config: apiConfig({}, { workspace: { read_only: true } }) });
    const before = fake.requests.length;
    const r = await ask(s.client, { message: "x", tools: ["edit_file"] });
    expect(textOf(r)).toStartWith("tools: edit_file is not offered: the workspace is read-only (workspace.read_only is true). Accepted:");
    expect(fake.requests.length).toBe(before);
    await s.close();
  });
});

describe("a tenant's session", () => {
  test("an API key's tools and read-only flag bound what Claude is offered and may call", async () => {
    const store = memoryStore();
    const config = v.parse(configSchema, apiConfig());
    const lines: string[] = [];
    const log = createLogger({ level: "debug", format: "json", output: "stderr", write: (l) => lines.push(l) });
    const workspace = { roots: [dir.path], explicit: true, why: "test", readOnly: false, maxReadBytes: 1 << 20, maxWriteBytes: 1 << 20, maxResults: 1000, followSymlinks: true, allowHardlinks: false };
    const key = {
      name: "alice",
      hash: hashKey("tfo_alice"),
      roots: [],
      tools: ["read_file", "write_file", "edit_file", "claude_conversation"],
      read_only: true,
      rate_limit: 0,
      max_sessions: 0,
      created_at: "2026-01-01T00:00:00.000Z",
      last_used_at: null,
      revoked_at: null,
    };
    const scope = await tenantSession({ config, workspace, tools, log, openStore: async () => store }, key);
    const { server } = createServer({ ...scope, resources, resourceTemplates, prompts });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "tenant", version: "1" });
    await client.connect(clientSide);
    await listToolsFirst(client);

    const before = fake.requests.length;
    const write = await ask(client, { message: "x", tools: ["write_file"] });
    expect(textOf(write)).toBe(
      'tools: write_file is not offered: the workspace is read-only (workspace.read_only is true). Accepted: "read" (read_file, list_directory, search_files, system_info) or a list of this session\'s tools: read_file.',
    );
    const run = await ask(client, { message: "x", tools: ["execute_command"] });
    expect(textOf(run)).toStartWith('tools: "execute_command" is not among this session\'s tools.');
    expect(fake.requests.length).toBe(before);

    fake.queue({ kind: "tool_use", calls: [{ name: "edit_file", input: { path: "src/app.ts", edits: [{ old_text: "42", new_text: "43" }] } }] }, { kind: "reply", text: "no" });
    await ask(client, { message: "edit", tools: "read" });
    expect(toolNames(before)).toEqual(["read_file"]);
    expect(lastToolResults(sent(before, 1))[0]).toMatchObject({ is_error: true, content: "edit_file is not among the tools offered in this conversation: read_file." });
    expect(readFileSync(join(dir.path, "src", "app.ts"), "utf8")).toBe(APP);
    // The tenant's own log lines, with its name on them.
    expect(lines.some((l) => l.includes('"tool call"') && l.includes('"alice"'))).toBe(true);
    await client.close();
  });
});

describe("through MCP sampling, without an API key", () => {
  test("a client that samples with tools runs the same loop", async () => {
    const seen: any[] = [];
    const client = new Client({ name: "sampler", version: "1" }, { capabilities: { sampling: { tools: {} } } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seen.push(req.params);
      if (seen.length === 1) {
        return { model: "client-model", role: "assistant", stopReason: "toolUse", content: [{ type: "text", text: "Reading." }, { type: "tool_use", id: "call_1", name: "read_file", input: { path: "src/app.ts" } }] };
      }
      return { model: "client-model", role: "assistant", stopReason: "endTurn", content: { type: "text", text: "It is 42." } };
    });
    const s = await inProcess({ roots: [dir.path], client });
    const r = await ask(s.client, { message: "answer?", tools: ["read_file"] });
    expect(textOf(r)).toBe("It is 42.");
    expect(r._meta).toMatchObject({ via: "sampling", tool_rounds: 1, ended: "end_turn", model: "client-model" });
    expect(seen[0].tools.map((t: { name: string }) => t.name)).toEqual(["read_file"]);
    expect(seen[0].tools[0].inputSchema).toMatchObject({ type: "object", required: ["path"] });
    expect(seen[0].toolChoice).toEqual({ mode: "auto" });
    expect(seen[1].messages).toEqual([
      { role: "user", content: { type: "text", text: "answer?" } },
      { role: "assistant", content: [{ type: "text", text: "Reading." }, { type: "tool_use", id: "call_1", name: "read_file", input: { path: "src/app.ts" } }] },
      { role: "user", content: [{ type: "tool_result", toolUseId: "call_1", content: [{ type: "text", text: APP }] }] },
    ]);
    await s.close();
  });

  test("a client that samples without tools: tools are refused plainly, a plain question still works", async () => {
    const client = new Client({ name: "sampler", version: "1" }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: "m", role: "assistant", content: { type: "text", text: "plain" } }));
    const s = await inProcess({ roots: [dir.path], client });
    const r = await ask(s.client, { message: "x", tools: "read" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("need an Anthropic API key (ANTHROPIC_API_KEY or claude.api_key) or a client that supports MCP sampling with tools");
    expect(textOf(await ask(s.client, { message: "x" }))).toBe("plain");
    await s.close();
  });
});

describe("the loop alone", () => {
  test("a cancel does not wait for a tool that ignores it", async () => {
    const controller = new AbortController();
    let started = false;
    const loop = runToolLoop({
      messages: [{ role: "user", content: "go" }],
      ask: async () => ({ content: [{ type: "tool_use", id: "t1", name: "stuck", input: {} }], stopReason: "tool_use", model: "m", usage: { input_tokens: 0, output_tokens: 0 } }),
      call: () => {
        started = true;
        return new Promise(() => {});
      },
      offered: ["stuck"],
      maxRounds: 3,
      signal: controller.signal,
      progress() {},
      describe: (name) => name,
    });
    expect(await until(() => started)).toBe(true);
    controller.abort();
    await expect(loop).rejects.toThrow("Cancelled.");
  });
});

describe("the stored exchange (pure)", () => {
  const use = (id: string, input: Record<string, unknown> = { path: "a" }) => ({ type: "tool_use" as const, id, name: "read_file", input });
  const result = (id: string, content: string) => ({ type: "tool_result" as const, tool_use_id: id, content });
  const round = (id: string, content: string): ChatMessage[] => [
    { role: "assistant", content: [use(id)] },
    { role: "user", content: [result(id, content)] },
  ];

  test("each block is cut to a few KB; what is stored replays", () => {
    const json = storedExchange([{ role: "assistant", content: [use("a", { path: "p", content: "y".repeat(10_000) })] }, { role: "user", content: [result("a", "z".repeat(10_000))] }])!;
    const messages = replayableExchange(json)!;
    const stored = messages[1]!.content[0] as { content: string };
    expect(stored.content).toStartWith("z".repeat(4096));
    expect(stored.content).toEndWith("[… 5904 more bytes cut: the stored copy of a tool exchange keeps a few KB of each]");
    expect(((messages[0]!.content[0] as unknown as { input: { content: string } }).input.content).length).toBeLessThan(4300);
  });

  test("over the total, the oldest rounds go, with a note, and the rest still pairs up", () => {
    const many = Array.from({ length: 6 }, (_, i) => round(`t${i}`, "r".repeat(4000))).flat();
    const json = storedExchange(many, 12_000)!;
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(12_000);
    const messages = replayableExchange(json)!;
    expect(messages.length).toBeLessThan(many.length);
    expect(messages[0]!.content[0]).toMatchObject({ type: "text", text: expect.stringMatching(/^\[\d earlier rounds of tool use not stored/) });
    expect(refusedByApi({ messages: [{ role: "user", content: "q" }, ...messages, { role: "assistant", content: "a" }], tools: [{ name: "read_file" }] })).toBeUndefined();
  });

  test.each([
    ["not JSON", "{"],
    ["a tool_use without its result", JSON.stringify([{ role: "assistant", content: [use("a")] }, { role: "user", content: [result("b", "x")] }])],
    ["odd length", JSON.stringify([{ role: "assistant", content: [use("a")] }])],
    ["a result missing", JSON.stringify([{ role: "assistant", content: [use("a"), use("b")] }, { role: "user", content: [result("a", "x")] }])],
  ])("not replayable: %s", (_, json) => {
    expect(replayableExchange(json)).toBeUndefined();
  });

  const turn = (seq: number, exchange: string | null): Turn => ({
    seq,
    user: `q${seq}`,
    assistant: `a${seq}`,
    status: "done",
    model: "m",
    stop_reason: "end_turn",
    input_tokens: 0,
    output_tokens: 0,
    error: null,
    created_at: "",
    exchange,
  });

  test("history: tool blocks only when asked for and whole; a broken or oversized exchange is told as text", () => {
    const good = storedExchange(round("t1", "contents"));
    expect(historyMessages([turn(1, good)], 50, { toolBlocks: true })).toHaveLength(4);
    expect(historyMessages([turn(1, good)], 50)).toEqual([
      { role: "user", content: "q1" },
      { role: "assistant", content: '[Tools used: read_file {"path":"a"}]\n\na1' },
    ]);
    expect(historyMessages([turn(1, "[broken")], 50, { toolBlocks: true })).toEqual([
      { role: "user", content: "q1" },
      { role: "assistant", content: "[Tools were used in this turn; the record of the calls could not be read.]\n\na1" },
    ]);
    // Three messages of room: the newest turn told as text rather than dropped.
    expect(historyMessages([turn(1, null), turn(2, good)], 3, { toolBlocks: true })).toEqual([
      { role: "user", content: "q2" },
      { role: "assistant", content: '[Tools used: read_file {"path":"a"}]\n\na2' },
    ]);
  });

  test("conversation:// rounds pair each call with its result", () => {
    expect(exchangeRounds(storedExchange(round("t1", "contents")))).toEqual([{ round: 1, calls: [{ tool: "read_file", input: { path: "a" }, result: "contents", is_error: false }] }]);
  });

  test("cutToBytes never splits a character", () => {
    const cut = cutToBytes("é".repeat(10), 5, "why");
    expect(cut).toBe("éé\n[… 16 more bytes cut: why]");
  });
});

describe("the binary", () => {
  let c: Awaited<ReturnType<typeof connectBinary>>;
  beforeAll(async () => {
    c = await connectBinary({ cwd: dir.path, args: ["--root", dir.path], env: { ANTHROPIC_API_KEY: "sk-ant-binary", ANTHROPIC_BASE_URL: fake.url, TELEMETRYFLOW_MCP_CLAUDE__MAX_RETRIES: "0" } });
  }, 180_000);
  afterAll(() => c?.close());

  test("a multi-round conversation end to end", async () => {
    const before = fake.requests.length;
    fake.queue(
      { kind: "tool_use", calls: [{ name: "list_directory", input: { path: "src" } }] },
      { kind: "tool_use", calls: [{ name: "read_file", input: { path: "src/app.ts" } }] },
      { kind: "reply", text: "Done: 42." },
    );
    const progress: string[] = [];
    const r = await ask(c.client, { message: "explain src", tools: "read" }, { onprogress: (p) => progress.push(p.message ?? "") });
    expect(textOf(r)).toBe("Done: 42.");
    expect(r._meta).toMatchObject({ tool_rounds: 2, ended: "end_turn" });
    expect(fake.refused).toEqual([]);
    expect(JSON.parse(lastToolResults(sent(before, 1))[0]!.content)).toEqual([{ name: "app.ts", type: "file", size: APP.length }]);
    expect(lastToolResults(sent(before, 2))[0]).toMatchObject({ content: APP });
    expect(progress).toEqual(expect.arrayContaining(["listing src", "reading src/app.ts"]));
    const doc = JSON.parse(resourceText(await c.client.readResource({ uri: `conversation://${r._meta!.conversation_id}` })));
    expect(doc.history[0].tool_rounds.map((x: { calls: { tool: string }[] }) => x.calls[0]!.tool)).toEqual(["list_directory", "read_file"]);
    expect(await until(() => c.stderr().includes('"via":"claude_conversation"'))).toBe(true);
  });
});
