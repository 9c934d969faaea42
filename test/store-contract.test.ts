// One contract for every storage adapter: the same cases against memory, SQLite (a file on
// disk) and PostgreSQL (its own database per test; skipped when TFO_TEST_POSTGRES_URL is unset).
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { defaults, storageUrl, type Config } from "../src/config/schema.ts";
import { nowIso, type AuditRecord } from "../src/sessions/records.ts";
import { memoryStore } from "../src/store/memory.ts";
import { storeTarget } from "../src/store/open.ts";
import type { Store } from "../src/store/port.ts";
import { postgresStore } from "../src/store/postgres.ts";
import { sqliteStore } from "../src/store/sqlite.ts";
import type { ApiKey } from "../src/tenants/keys.ts";
import { freshDatabase, postgresUrl } from "./helpers/postgres-db.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

if (!postgresUrl) console.log("skipped: store contract on PostgreSQL (TFO_TEST_POSTGRES_URL unset; scripts/services.sh start DIR, then . DIR/env)");

type Opened = { store: Store; cleanup(): Promise<void> | void };
const adapters: [string, () => Promise<Opened>][] = [
  ["memory", async () => ({ store: memoryStore(), cleanup() {} })],
  [
    "sqlite",
    async () => {
      const dir = tempDir();
      const store = sqliteStore(join(dir.path, "store.db"));
      return {
        store,
        cleanup() {
          store.close();
          dir.cleanup();
        },
      };
    },
  ],
];
if (postgresUrl) {
  adapters.push([
    "postgres",
    async () => {
      const db = await freshDatabase("tfo_contract");
      const store = await postgresStore(db.url, { max: 4 });
      return {
        store,
        async cleanup() {
          store.close();
          await db.drop();
        },
      };
    },
  ]);
}

/** Until the clock shows another millisecond: records ordered by time need times that differ. */
async function nextMillisecond() {
  const now = nowIso();
  expect(await until(() => nowIso() !== now, 1000, 1)).toBe(true);
}

const key = (name: string, over: Partial<ApiKey> = {}): ApiKey => ({
  name,
  hash: `hash-${name}`,
  roots: [`/srv/${name}`],
  tools: ["read_file", "echo"],
  read_only: true,
  rate_limit: 60,
  max_sessions: 2,
  created_at: "2025-01-01T00:00:00.000Z",
  last_used_at: null,
  revoked_at: null,
  ...over,
});

const audit = (n: number, tenant: string | null): AuditRecord => ({
  at: `2025-01-01T00:00:0${n}.000Z`,
  tenant,
  session_id: `s${n}`,
  kind: n % 2 ? "tool" : "resource",
  name: n % 2 ? "read_file" : "file",
  ms: n + 0.25,
  outcome: n === 3 ? "error" : "ok",
  args: JSON.stringify({ path: "string" }),
});

describe.each(adapters)("store contract: %s", (_name, open) => {
  let opened: Opened | undefined;
  const fresh = async () => (opened = await open()).store;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });

  test("a conversation is created, read, listed newest first and deleted with its turns", async () => {
    const store = await fresh();
    const a = await store.createConversation({ id: "c_a", title: "first", system_prompt: "be brief", model: "m1" });
    expect(a).toEqual({ id: "c_a", title: "first", system_prompt: "be brief", model: "m1", owner: null, created_at: a.created_at, updated_at: a.created_at, turns: 0 });
    expect(new Date(a.created_at).toISOString()).toBe(a.created_at);
    await nextMillisecond();
    await store.createConversation({ id: "c_b", title: "second", system_prompt: null, model: null });
    expect(await store.getConversation("c_a")).toEqual(a);
    expect(await store.getConversation("c_missing")).toBeUndefined();
    expect((await store.listConversations(10)).map((c) => c.id)).toEqual(["c_b", "c_a"]);
    expect((await store.listConversations(1)).map((c) => c.id)).toEqual(["c_b"]);
    // A new turn makes a conversation the newest.
    await nextMillisecond();
    await store.beginTurn("c_a", "hello", "m1");
    expect((await store.listConversations(10)).map((c) => [c.id, c.turns])).toEqual([
      ["c_a", 1],
      ["c_b", 0],
    ]);
    expect(await store.deleteConversation("c_a")).toBe(true);
    expect(await store.deleteConversation("c_a")).toBe(false);
    expect(await store.getConversation("c_a")).toBeUndefined();
    expect(await store.turns("c_a")).toEqual([]);
    expect((await store.counts()).conversations).toBe(1);
  });

  test("an owner sees only its own conversations; null is the server's own and matches only null", async () => {
    const store = await fresh();
    await store.createConversation({ id: "c_own", title: "server", system_prompt: null, model: null });
    await store.createConversation({ id: "c_alice", title: "alice", system_prompt: null, model: null, owner: "alice" });
    await store.createConversation({ id: "c_bob", title: "bob", system_prompt: null, model: null, owner: "bob" });
    expect((await store.getConversation("c_alice", "alice"))?.owner).toBe("alice");
    expect(await store.getConversation("c_alice", "bob")).toBeUndefined();
    expect(await store.getConversation("c_alice", null)).toBeUndefined();
    expect((await store.getConversation("c_own", null))?.owner).toBeNull();
    expect(await store.getConversation("c_own", "alice")).toBeUndefined();
    expect((await store.getConversation("c_bob"))?.owner).toBe("bob");
    expect((await store.listConversations(10, null)).map((c) => c.id)).toEqual(["c_own"]);
    expect((await store.listConversations(10, "alice")).map((c) => c.id)).toEqual(["c_alice"]);
    expect((await store.listConversations(10)).map((c) => c.id).sort()).toEqual(["c_alice", "c_bob", "c_own"]);
    expect(await store.deleteConversation("c_alice", "bob")).toBe(false);
    expect(await store.deleteConversation("c_alice", null)).toBe(false);
    expect(await store.getConversation("c_alice")).toBeDefined();
    expect(await store.counts("alice")).toEqual({ conversations: 1, sessions: 0 });
    expect(await store.counts(null)).toEqual({ conversations: 1, sessions: 0 });
    expect(await store.counts("carol")).toEqual({ conversations: 0, sessions: 0 });
    expect(await store.counts()).toEqual({ conversations: 3, sessions: 0 });
    expect(await store.deleteConversation("c_alice", "alice")).toBe(true);
    expect(await store.deleteConversation("c_own", null)).toBe(true);
    expect(await store.counts()).toEqual({ conversations: 1, sessions: 0 });
  });

  test("a NUL in a message, a reply or an error never fails the turn (PostgreSQL stores it as U+FFFD)", async () => {
    const store = await fresh();
    await store.createConversation({ id: "c_nul", title: "a\0b", system_prompt: "s\0", model: "m" });
    const one = await store.beginTurn("c_nul", "user\0said", "m");
    await store.finishTurn("c_nul", one, { ok: true, assistant: "re\0ply", model: "m", stop_reason: "end_turn", input_tokens: 1, output_tokens: 1, exchange: "[\"\0\"]" });
    const two = await store.beginTurn("c_nul", "again", "m");
    await store.finishTurn("c_nul", two, { ok: false, error: "bro\0ke" });
    const turns = await store.turns("c_nul");
    const same = (stored: string | null, given: string) => expect([given, given.replaceAll("\0", "\uFFFD")]).toContain(stored!);
    expect(turns.map((t) => t.status)).toEqual(["done", "failed"]);
    same(turns[0]!.user, "user\0said");
    same(turns[0]!.assistant, "re\0ply");
    same(turns[1]!.error, "bro\0ke");
    same((await store.getConversation("c_nul"))!.title, "a\0b");
  });

  test("turns are numbered in order, stored pending, then finished done (with the exchange) or failed", async () => {
    const store = await fresh();
    const c = await store.createConversation({ id: "c_t", title: "t", system_prompt: null, model: "m0" });
    await nextMillisecond();
    expect(await store.beginTurn("c_t", "one", "m1")).toBe(1);
    expect(await store.beginTurn("c_t", "two", "m1")).toBe(2);
    expect(await store.beginTurn("c_t", "three", "m1")).toBe(3);
    const pending = await store.turns("c_t");
    expect(pending.map((t) => [t.seq, t.user, t.status])).toEqual([
      [1, "one", "pending"],
      [2, "two", "pending"],
      [3, "three", "pending"],
    ]);
    expect(pending[0]).toEqual({
      seq: 1,
      user: "one",
      assistant: null,
      status: "pending",
      model: "m1",
      stop_reason: null,
      input_tokens: 0,
      output_tokens: 0,
      error: null,
      created_at: pending[0]!.created_at,
      exchange: null,
    });
    const exchange = JSON.stringify([{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "read_file", input: { path: "a" } }] }]);
    await store.finishTurn("c_t", 1, { ok: true, assistant: "uno", model: "m1-2025", stop_reason: "end_turn", input_tokens: 12, output_tokens: 34, exchange });
    await store.finishTurn("c_t", 2, { ok: false, error: "overloaded" });
    await nextMillisecond();
    const before = (await store.getConversation("c_t"))!.updated_at;
    await nextMillisecond();
    await store.finishTurn("c_t", 3, { ok: true, assistant: "tres", model: "m1", stop_reason: null, input_tokens: 1, output_tokens: 2 });
    const turns = await store.turns("c_t");
    expect(turns[0]).toEqual({ ...pending[0]!, status: "done", assistant: "uno", model: "m1-2025", stop_reason: "end_turn", input_tokens: 12, output_tokens: 34, exchange });
    expect(turns[1]).toEqual({ ...pending[1]!, status: "failed", error: "overloaded" });
    expect(turns[2]).toMatchObject({ status: "done", assistant: "tres", exchange: null, stop_reason: null });
    const after = (await store.getConversation("c_t"))!;
    expect(after.turns).toBe(3);
    expect(after.updated_at > before).toBe(true);
    expect(after.created_at).toBe(c.created_at);
    await expect(store.beginTurn("c_missing", "x", "m")).rejects.toThrow();
    // Another conversation numbers its own turns from 1.
    await store.createConversation({ id: "c_u", title: "u", system_prompt: null, model: null });
    expect(await store.beginTurn("c_u", "x", "m")).toBe(1);
  });

  test("sessions are started, updated field by field, listed newest first and counted", async () => {
    const store = await fresh();
    const s = (id: string, started_at: string) => ({ id, client_name: "claude", client_version: "1.0", protocol_version: "2025-06-18", started_at });
    await store.startSession(s("s1", "2025-01-01T00:00:01.000Z"));
    await store.startSession(s("s2", "2025-01-01T00:00:03.000Z"));
    await store.startSession(s("s3", "2025-01-01T00:00:02.000Z"));
    await store.updateSession("s1", { calls: 5 });
    await store.updateSession("s1", { ended_at: "2025-01-01T00:01:00.000Z" });
    await store.updateSession("s_missing", { calls: 1 });
    const listed = await store.listSessions(10);
    expect(listed.map((x) => x.id)).toEqual(["s2", "s3", "s1"]);
    expect(listed[2]).toEqual({ ...s("s1", "2025-01-01T00:00:01.000Z"), ended_at: "2025-01-01T00:01:00.000Z", calls: 5 });
    expect(listed[0]).toEqual({ ...s("s2", "2025-01-01T00:00:03.000Z"), ended_at: null, calls: 0 });
    expect((await store.listSessions(1)).map((x) => x.id)).toEqual(["s2"]);
    // Starting an id again starts it afresh.
    await store.startSession(s("s1", "2025-01-01T00:00:09.000Z"));
    expect((await store.listSessions(1))[0]).toEqual({ ...s("s1", "2025-01-01T00:00:09.000Z"), ended_at: null, calls: 0 });
    expect(await store.counts()).toEqual({ conversations: 0, sessions: 3 });
  });

  test("keys: added, unique by name and by hash, found by hash while active, revoked, rotated, touched", async () => {
    const store = await fresh();
    await store.addKey(key("bob"));
    await store.addKey(key("alice", { read_only: false, roots: [], tools: [], rate_limit: 0, max_sessions: 0 }));
    expect(await store.listKeys()).toEqual([key("alice", { read_only: false, roots: [], tools: [], rate_limit: 0, max_sessions: 0 }), key("bob")]);
    await expect(store.addKey(key("bob", { hash: "another" }))).rejects.toThrow();
    await expect(store.addKey(key("carol", { hash: "hash-bob" }))).rejects.toThrow();
    expect((await store.listKeys()).map((k) => k.name)).toEqual(["alice", "bob"]);
    expect(await store.keyByHash("hash-bob")).toEqual(key("bob"));
    expect(await store.keyByHash("nope")).toBeUndefined();

    await store.touchKey("bob", "2025-02-01T00:00:00.000Z");
    expect((await store.keyByHash("hash-bob"))?.last_used_at).toBe("2025-02-01T00:00:00.000Z");

    expect(await store.replaceKeyHash("bob", "hash-bob-2")).toBe(true);
    expect(await store.keyByHash("hash-bob")).toBeUndefined();
    expect((await store.keyByHash("hash-bob-2"))?.name).toBe("bob");
    expect(await store.replaceKeyHash("nobody", "x")).toBe(false);

    expect(await store.revokeKey("bob", "2025-03-01T00:00:00.000Z")).toBe(true);
    expect(await store.revokeKey("bob", "2025-03-02T00:00:00.000Z")).toBe(false);
    expect(await store.revokeKey("nobody", "2025-03-02T00:00:00.000Z")).toBe(false);
    expect(await store.keyByHash("hash-bob-2")).toBeUndefined();
    expect(await store.replaceKeyHash("bob", "hash-bob-3")).toBe(false);
    // A revoked key stays on record, with when.
    expect((await store.listKeys()).find((k) => k.name === "bob")).toEqual(key("bob", { hash: "hash-bob-2", last_used_at: "2025-02-01T00:00:00.000Z", revoked_at: "2025-03-01T00:00:00.000Z" }));
  });

  test("audit records are listed newest first, limited, and filtered by tenant (null: the server's own)", async () => {
    const store = await fresh();
    const records = [audit(1, "alice"), audit(2, null), audit(3, "alice"), audit(4, "bob"), audit(5, null)];
    for (const r of records) await store.addAudit(r);
    expect(await store.listAudit(10)).toEqual([...records].reverse());
    expect(await store.listAudit(2)).toEqual([records[4]!, records[3]!]);
    expect(await store.listAudit(10, "alice")).toEqual([records[2]!, records[0]!]);
    expect(await store.listAudit(1, "alice")).toEqual([records[2]!]);
    expect(await store.listAudit(10, null)).toEqual([records[4]!, records[1]!]);
    expect(await store.listAudit(10, "carol")).toEqual([]);
  });

  test("serialize runs one key at a time in call order, other keys meanwhile, and survives a failure", async () => {
    const store = await fresh();
    await store.createConversation({ id: "c_s", title: "s", system_prompt: null, model: null });
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = store.serialize("c_s", async () => {
      events.push("a+");
      await held;
      events.push("a-");
      return "a";
    });
    const second = store.serialize("c_s", async () => {
      events.push("b+");
      return store.beginTurn("c_s", "b", "m");
    });
    const other = store.serialize("c_other", async () => {
      events.push("other");
      return "other";
    });
    expect(await other).toBe("other");
    expect(await until(() => events.includes("a+"))).toBe(true);
    expect(events).not.toContain("b+");
    release();
    expect(await first).toBe("a");
    expect(await second).toBe(1);
    expect(events.filter((e) => e !== "other")).toEqual(["a+", "a-", "b+"]);
    await expect(store.serialize("c_s", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await store.serialize("c_s", async () => 42)).toBe(42);
  });
});

describe("choosing a store from the config", () => {
  const config = (storage: Partial<Config["storage"]>, database: Partial<Config["database"]> = {}): Config => ({
    ...defaults,
    storage: { ...defaults.storage, ...storage },
    database: { ...defaults.database, ...database },
  });
  test.each([
    ["sqlite with its url", config({ backend: "sqlite", url: "sqlite:/x.db" }), "sqlite:/x.db"],
    ["memory wins over a url", config({ backend: "memory", url: "sqlite:/x.db" }), "memory:"],
    ["postgres opens database.postgres_url", config({ backend: "postgres", url: "sqlite:/x.db" }, { postgres_url: "postgres://u:p@db/app" }), "postgres://u:p@db/app"],
  ])("%s", (_name, c, want) => {
    expect(storageUrl(c)).toBe(want);
  });
  test.each([
    ["postgres://u:p@db/app", { ok: true, kind: "postgres", url: "postgres://u:p@db/app" }],
    ["postgresql://db/app", { ok: true, kind: "postgres", url: "postgresql://db/app" }],
    ["memory:", { ok: true, kind: "memory" }],
    ["sqlite:rel.db", { ok: true, kind: "sqlite", path: "/cwd/rel.db" }],
  ])("storeTarget %p", (url, want) => {
    expect(storeTarget(url, "/cwd", "/d.db")).toEqual(want as never);
  });
});
