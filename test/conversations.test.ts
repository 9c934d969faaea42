// Multi-turn conversations: the pure history rules, both store adapters, and the binary
// holding a conversation across restarts against a local Messages API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { historyMessages, titleFrom, type Turn } from "../src/sessions/records.ts";
import { memoryStore } from "../src/store/memory.ts";
import { parseStorageUrl } from "../src/store/open.ts";
import { keyedQueue, type Store } from "../src/store/port.ts";
import { scopedStore } from "../src/store/scoped.ts";
import { MIGRATIONS, sqliteStore } from "../src/store/sqlite.ts";
import { binary, cleanEnv, runBinary } from "./helpers/binary.ts";
import { connectBinary, resourceText, textOf } from "./helpers/client.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { tempDir } from "./helpers/tmp.ts";

const turn = (seq: number, status: Turn["status"] = "done"): Turn => ({
  seq,
  user: `u${seq}`,
  assistant: status === "done" ? `a${seq}` : null,
  status,
  model: "m",
  stop_reason: null,
  input_tokens: 0,
  output_tokens: 0,
  error: null,
  created_at: "",
  exchange: null,
});

describe("history rules (pure)", () => {
  test("whole turns, newest kept, pending and failed turns left out", () => {
    const turns = [turn(1), turn(2, "failed"), turn(3), turn(4, "pending"), turn(5)];
    expect(historyMessages(turns, 50).map((m) => m.content)).toEqual(["u1", "a1", "u3", "a3", "u5", "a5"]);
    expect(historyMessages(turns, 4).map((m) => m.content)).toEqual(["u3", "a3", "u5", "a5"]);
    expect(historyMessages(turns, 3).map((m) => m.content)).toEqual(["u5", "a5"]);
    expect(historyMessages([], 10)).toEqual([]);
  });
  test("titles are the first line, cut", () => {
    expect(titleFrom("  hello\nworld")).toBe("hello");
    expect(titleFrom("x".repeat(100))).toHaveLength(60);
  });
  test("keyedQueue runs one key at a time, other keys freely", async () => {
    const serialize = keyedQueue();
    const order: string[] = [];
    const job = (name: string, ms: number) => async () => {
      order.push(`${name}+`);
      await Bun.sleep(ms);
      order.push(`${name}-`);
    };
    await Promise.all([serialize("a", job("a1", 30)), serialize("a", job("a2", 1)), serialize("b", job("b1", 1))]);
    expect(order.indexOf("a2+")).toBeGreaterThan(order.indexOf("a1-"));
    expect(order.indexOf("b1+")).toBeLessThan(order.indexOf("a1-"));
    await expect(serialize("a", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await serialize("a", async () => 42)).toBe(42);
  });
  test.each([
    ["", { ok: true, kind: "sqlite", path: "/default.db" }],
    ["memory:", { ok: true, kind: "memory" }],
    ["sqlite:/x/y.db", { ok: true, kind: "sqlite", path: "/x/y.db" }],
    ["sqlite:///x/y.db", { ok: true, kind: "sqlite", path: "/x/y.db" }],
    ["sqlite:rel.db", { ok: true, kind: "sqlite", path: "/cwd/rel.db" }],
  ])("storage.url %p", (url, want) => {
    expect(parseStorageUrl(url, "/cwd", "/default.db")).toEqual(want as never);
  });
  test.each(["postgres://db/x", "redis://x", "sqlite:"])("storage.url %p is refused with what is accepted", (url) => {
    const r = parseStorageUrl(url, "/cwd", "/d.db");
    expect(!r.ok && r.error).toMatch(/sqlite:|postgres/);
  });
});

describe.each([
  ["memory", () => memoryStore()],
  ["sqlite", () => sqliteStore(join(tempDir("tfo-store-").path, "t.db"))],
])("%s store", (_name, make) => {
  let store: Store;
  beforeAll(() => {
    store = make();
  });
  afterAll(() => store.close());
  test("conversations, turns, outcomes, delete", async () => {
    const c = await store.createConversation({ id: "c1", title: "t", system_prompt: "sys", model: "m" });
    expect(c).toMatchObject({ id: "c1", title: "t", system_prompt: "sys", turns: 0 });
    const s1 = await store.beginTurn("c1", "hello", "m");
    const s2 = await store.beginTurn("c1", "again", "m");
    expect([s1, s2]).toEqual([1, 2]);
    await store.finishTurn("c1", 1, { ok: true, assistant: "hi", model: "m2", stop_reason: "end_turn", input_tokens: 3, output_tokens: 4 });
    await store.finishTurn("c1", 2, { ok: false, error: "rate limited" });
    const turns = await store.turns("c1");
    expect(turns.map((t) => [t.seq, t.status, t.assistant, t.error])).toEqual([
      [1, "done", "hi", null],
      [2, "failed", null, "rate limited"],
    ]);
    expect(turns[0]).toMatchObject({ model: "m2", input_tokens: 3, output_tokens: 4 });
    expect((await store.getConversation("c1"))?.turns).toBe(2);
    expect((await store.listConversations(10)).map((x) => x.id)).toEqual(["c1"]);
    expect(await store.getConversation("nope")).toBeUndefined();
    expect(await store.deleteConversation("c1")).toBe(true);
    expect(await store.deleteConversation("c1")).toBe(false);
    expect(await store.turns("c1")).toEqual([]);
  });
  test("sessions", async () => {
    await store.startSession({ id: "s1", client_name: "c", client_version: "1", protocol_version: "2025-06-18", started_at: "2026-01-01T00:00:00.000Z" });
    await store.updateSession("s1", { calls: 5 });
    await store.updateSession("s1", { ended_at: "2026-01-01T01:00:00.000Z" });
    expect(await store.listSessions(5)).toEqual([
      { id: "s1", client_name: "c", client_version: "1", protocol_version: "2025-06-18", started_at: "2026-01-01T00:00:00.000Z", ended_at: "2026-01-01T01:00:00.000Z", calls: 5 },
    ]);
    expect(await store.counts()).toEqual({ conversations: 0, sessions: 1 });
  });
  test("owners: a tenant's conversations, the server's own (null), and everything for the command", async () => {
    await store.createConversation({ id: "oa", title: "a", system_prompt: null, model: null, owner: "alice" });
    await store.createConversation({ id: "ob", title: "b", system_prompt: null, model: null, owner: "bob" });
    expect((await store.createConversation({ id: "os", title: "s", system_prompt: null, model: null })).owner).toBeNull();
    expect((await store.getConversation("oa"))?.owner).toBe("alice");
    expect(await store.getConversation("ob", "alice")).toBeUndefined();
    expect((await store.getConversation("ob", "bob"))?.id).toBe("ob");
    expect(await store.getConversation("oa", null)).toBeUndefined();
    expect((await store.listConversations(10, "alice")).map((c) => c.id)).toEqual(["oa"]);
    expect((await store.listConversations(10, null)).map((c) => c.id)).toEqual(["os"]);
    expect((await store.listConversations(10)).map((c) => c.id).sort()).toEqual(["oa", "ob", "os"]);
    expect((await store.counts("alice")).conversations).toBe(1);
    expect((await store.counts()).conversations).toBe(3);
    expect(await store.deleteConversation("ob", "alice")).toBe(false);
    expect(await store.deleteConversation("ob", "bob")).toBe(true);
  });
  test("a scoped view: one owner's conversations, another's as unknown as a missing id, no keys", async () => {
    const alice = scopedStore(store, "alice");
    await store.createConversation({ id: "theirs", title: "t", system_prompt: null, model: null, owner: "bob" });
    await store.beginTurn("theirs", "bob's secret", "m");
    const mine = await alice.createConversation({ id: "mine", title: "t", system_prompt: null, model: null });
    expect(mine.owner).toBe("alice");
    expect(await alice.getConversation("theirs")).toBeUndefined();
    expect(await alice.turns("theirs")).toEqual([]);
    await expect(alice.beginTurn("theirs", "x", "m")).rejects.toThrow("no conversation theirs");
    await expect(alice.finishTurn("theirs", 1, { ok: false, error: "x" })).rejects.toThrow("no conversation theirs");
    expect(await alice.deleteConversation("theirs")).toBe(false);
    expect((await store.turns("theirs")).map((t) => [t.user, t.status])).toEqual([["bob's secret", "pending"]]);
    expect(await alice.beginTurn("mine", "hello", "m")).toBe(1);
    expect((await alice.listConversations(50)).map((c) => c.id).sort()).toEqual(["mine", "oa"]);
    expect((await alice.counts()).conversations).toBe(2);
    await expect(alice.listKeys()).rejects.toThrow("tfo-mcp keys");
    alice.close();
    // The view never closes the shared store.
    expect((await store.getConversation("mine"))?.turns).toBe(1);
  });
});

describe("sqlite file", () => {
  const dir = tempDir("tfo-sqlite-");
  afterAll(() => dir.cleanup());
  test("survives reopening, is WAL, and refuses a newer schema", async () => {
    const path = join(dir.path, "sub", "x.db");
    const a = sqliteStore(path);
    await a.createConversation({ id: "keep", title: "t", system_prompt: null, model: null });
    await a.beginTurn("keep", "m", "model");
    a.close();
    const b = sqliteStore(path);
    expect((await b.turns("keep")).map((t) => t.user)).toEqual(["m"]);
    b.close();
    const raw = new Database(path);
    expect((raw.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((raw.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(MIGRATIONS.length);
    raw.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => sqliteStore(path)).toThrow("written by a newer tfo-mcp");
  });
  test("a file of schema 2 gains owners: its conversations become the server's own", async () => {
    const path = join(dir.path, "v2.db");
    const raw = new Database(path);
    for (const sql of MIGRATIONS.slice(0, 2)) raw.exec(sql);
    raw.exec("PRAGMA user_version = 2");
    raw.exec("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('old', 't', '2026-01-01', '2026-01-01')");
    raw.close();
    const store = sqliteStore(path);
    expect((await store.getConversation("old", null))?.owner).toBeNull();
    expect(await store.getConversation("old", "alice")).toBeUndefined();
    store.close();
  });
});

describe("conversations through the binary", () => {
  const dir = tempDir("tfo-conv-");
  const db = join(dir.path, "conv.db");
  const fake = startFakeAnthropic();
  const env = { ANTHROPIC_API_KEY: "sk-ant-conv", ANTHROPIC_BASE_URL: fake.url, TELEMETRYFLOW_MCP_STORAGE__URL: `sqlite:${db}`, TELEMETRYFLOW_MCP_CLAUDE__MAX_RETRIES: "0" };
  afterAll(() => {
    fake.stop();
    dir.cleanup();
  });
  // The build is not the first test's to time: under load it takes longer than a test may.
  beforeAll(() => binary(), 120_000);
  let id = "";
  const say = async (c: Awaited<ReturnType<typeof connectBinary>>, args: Record<string, unknown>) => c.client.callTool({ name: "claude_conversation", arguments: args });

  test("two turns: the second request carries the first exchange and the system prompt", async () => {
    const c = await connectBinary({ cwd: dir.path, env });
    const first = await say(c, { message: "my name is Ada", system_prompt: "remember names" });
    const data = first._meta as { conversation_id: string; turn: number };
    id = data.conversation_id;
    expect(id).toMatch(/^conv_/);
    expect(data.turn).toBe(1);
    expect((first.content as { text: string }[])[1]!.text).toContain(id);
    const before = fake.requests.length;
    const second = await say(c, { message: "what is my name?", conversation_id: id });
    expect((second._meta as { turn: number }).turn).toBe(2);
    expect(fake.requests[before]!.body.messages).toEqual([
      { role: "user", content: "my name is Ada" },
      { role: "assistant", content: "You said: my name is Ada" },
      { role: "user", content: "what is my name?" },
    ]);
    expect(fake.requests[before]!.body.system).toBe("remember names");
    await c.close();
  });

  test("history survives a restart of the binary", async () => {
    const c = await connectBinary({ cwd: dir.path, env });
    const before = fake.requests.length;
    const third = await say(c, { message: "third", conversation_id: id });
    expect((third._meta as { turn: number }).turn).toBe(3);
    expect(fake.requests[before]!.body.messages).toHaveLength(5);
    const doc = JSON.parse(resourceText(await c.client.readResource({ uri: `conversation://${id}` })));
    expect(doc.history.map((t: Turn) => [t.seq, t.status])).toEqual([
      [1, "done"],
      [2, "done"],
      [3, "done"],
    ]);
    const health = JSON.parse(resourceText(await c.client.readResource({ uri: "status://health" })));
    expect(health.storage).toMatchObject({ url: `sqlite:${db}`, conversations: 1 });
    expect(health.storage.sessions).toBeGreaterThanOrEqual(2);
    await c.close();
  });

  test("a failed turn is kept as failed and left out of the next request; unknown ids are refused", async () => {
    const c = await connectBinary({ cwd: dir.path, env });
    fake.queue({ kind: "status", status: 529 });
    const failed = await say(c, { message: "this one fails", conversation_id: id });
    expect(failed.isError).toBe(true);
    const before = fake.requests.length;
    await say(c, { message: "after failure", conversation_id: id });
    const sent = fake.requests[before]!.body.messages as { content: string }[];
    expect(sent.map((m) => m.content)).not.toContain("this one fails");
    expect(sent).toHaveLength(7);
    const unknown = await say(c, { message: "x", conversation_id: "conv_nope" });
    expect(textOf(unknown)).toContain('Unknown conversation_id "conv_nope"');
    await c.close();
  });

  test("concurrent turns on one conversation are serialized", async () => {
    const c = await connectBinary({ cwd: dir.path, env });
    const start = await say(c, { message: "start" });
    const cid = (start._meta as { conversation_id: string }).conversation_id;
    fake.queue({ kind: "reply", text: "slow reply", chunks: 3, delayMs: 50 });
    const before = fake.requests.length;
    const [a, b] = await Promise.all([say(c, { message: "A", conversation_id: cid }), say(c, { message: "B", conversation_id: cid })]);
    expect([(a._meta as { turn: number }).turn, (b._meta as { turn: number }).turn]).toEqual([2, 3]);
    const secondRequest = fake.requests[before + 1]!.body.messages as { content: string }[];
    expect(secondRequest.map((m) => m.content)).toContain("slow reply");
    await c.close();
  });

  test("claude.max_history_messages trims to whole recent turns", async () => {
    const c = await connectBinary({ cwd: dir.path, env: { ...env, TELEMETRYFLOW_MCP_CLAUDE__MAX_HISTORY_MESSAGES: "2" } });
    const before = fake.requests.length;
    await say(c, { message: "trimmed", conversation_id: id });
    expect((fake.requests[before]!.body.messages as { content: string }[]).map((m) => m.content)).toEqual(["after failure", "You said: after failure", "trimmed"]);
    await c.close();
  });

  test("tfo-mcp conversations list, show, delete", async () => {
    const cliEnv = cleanEnv(env);
    const list = await runBinary(["conversations", "list"], { cwd: dir.path, env: cliEnv });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain("my name is Ada");
    const show = await runBinary(["conversations", "show", id], { cwd: dir.path, env: cliEnv });
    expect(show.stdout).toContain("[1] user");
    expect(show.stdout).toContain("failed: Claude API is overloaded (529)");
    const json = JSON.parse((await runBinary(["conversations", "show", id, "--json"], { cwd: dir.path, env: cliEnv })).stdout);
    expect(json.history.length).toBeGreaterThanOrEqual(5);
    const del = await runBinary(["conversations", "delete", id], { cwd: dir.path, env: cliEnv });
    expect(del.stdout).toStartWith(`Deleted ${id}`);
    const gone = await runBinary(["conversations", "show", id], { cwd: dir.path, env: cliEnv });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`no conversation "${id}"`);
  });

  test("memory: storage keeps a conversation for the life of the process only", async () => {
    const memEnv = { ...env, TELEMETRYFLOW_MCP_STORAGE__URL: "memory:" };
    const c = await connectBinary({ cwd: dir.path, env: memEnv });
    const r = await say(c, { message: "ephemeral" });
    const mid = (r._meta as { conversation_id: string }).conversation_id;
    expect((await say(c, { message: "again", conversation_id: mid })).isError).toBeFalsy();
    await c.close();
    const d = await connectBinary({ cwd: dir.path, env: memEnv });
    expect((await say(d, { message: "x", conversation_id: mid })).isError).toBe(true);
    await d.close();
  });

  test("sampling fallback keeps history too", async () => {
    const seen: { messages: unknown[] }[] = [];
    const client = new Client({ name: "sampler", version: "1" }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seen.push(req.params as never);
      return { model: "client-model", role: "assistant", content: { type: "text", text: `sampled ${seen.length}` } };
    });
    const noKey = { TELEMETRYFLOW_MCP_STORAGE__URL: `sqlite:${db}` };
    const c = await connectBinary({ cwd: dir.path, env: noKey, client });
    const first = await c.client.callTool({ name: "claude_conversation", arguments: { message: "one" } });
    const cid = (first._meta as { conversation_id: string }).conversation_id;
    await c.client.callTool({ name: "claude_conversation", arguments: { message: "two", conversation_id: cid } });
    expect(seen[1]!.messages).toEqual([
      { role: "user", content: { type: "text", text: "one" } },
      { role: "assistant", content: { type: "text", text: "sampled 1" } },
      { role: "user", content: { type: "text", text: "two" } },
    ]);
    await c.close();
  });
});
