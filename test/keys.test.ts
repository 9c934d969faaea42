// API keys as tenants: the store (memory and SQLite, the same cases) and the keys command.
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { memoryStore } from "../src/store/memory.ts";
import type { Store } from "../src/store/port.ts";
import { sqliteStore } from "../src/store/sqlite.ts";
import { hashKey, newKey, parseRate } from "../src/tenants/keys.ts";
import { runKeys } from "../src/tenants/keys-command.ts";
import { tempDir } from "./helpers/tmp.ts";

const TOOLS = ["echo", "read_file", "write_file", "edit_file", "list_directory", "search_files", "execute_command", "system_info", "claude_conversation"];

describe("keys (pure)", () => {
  test("a new key: tfo_ and 32 random bytes; only its hash is kept", () => {
    const a = newKey();
    expect(a).toMatch(/^tfo_[A-Za-z0-9_-]{43}$/);
    expect(newKey()).not.toBe(a);
    expect(hashKey(a)).toMatch(/^[0-9a-f]{64}$/);
  });
  test.each([
    ["60", 60],
    ["60/min", 60],
    ["2/s", 120],
    ["600/h", 10],
  ])("rate %p → %p per minute", (text, want) => {
    expect(parseRate(text)).toEqual({ ok: true, perMinute: want });
  });
  test("a bad rate says what is accepted", () => {
    expect(parseRate("fast")).toEqual({ ok: false, error: 'rate limit "fast" is not N, N/s, N/min or N/h' });
  });
});

for (const [kind, open] of [
  ["memory", () => memoryStore()],
  ["sqlite", (dir: string) => sqliteStore(join(dir, "k.db"))],
] as const) {
  describe(`keys command on ${kind}`, () => {
    const run = async (store: Store, action: string, extra: Partial<Parameters<typeof runKeys>[0]> = {}) => {
      const lines: string[] = [];
      const code = await runKeys({ action, roots: [], readOnly: false, json: false, cwd: "/", toolNames: TOOLS, ...extra }, { out: (t) => lines.push(t), err: (t) => lines.push(`ERR ${t}`), store, now: () => new Date("2026-11-26T00:00:00Z") });
      return { code, text: lines.join("\n") };
    };
    test("add prints the key once and stores only its hash; list never shows keys; rotate and revoke", async () => {
      const dir = tempDir("tfo-keys-");
      mkdirSync(join(dir.path, "app"));
      const store = open(dir.path);
      try {
        const added = await run(store, "add", { name: "alice", roots: [join(dir.path, "app")], tools: "read,echo", readOnly: true, rateLimit: "30/min", maxSessions: "3" });
        expect(added.code).toBe(0);
        const key = /tfo_[\w-]{43}/.exec(added.text)![0];
        const stored = await store.keyByHash(hashKey(key));
        expect(stored).toMatchObject({ name: "alice", roots: [join(dir.path, "app")], tools: ["read_file", "list_directory", "search_files", "system_info", "echo"], read_only: true, rate_limit: 30, max_sessions: 3 });
        expect(JSON.stringify(await store.listKeys())).not.toContain(key);
        const listed = await run(store, "list");
        expect(listed.text).toContain("alice  active");
        expect(listed.text).not.toContain(key);
        const rotated = await run(store, "rotate", { name: "alice" });
        const second = /tfo_[\w-]{43}/.exec(rotated.text)![0];
        expect(await store.keyByHash(hashKey(key))).toBeUndefined();
        expect((await store.keyByHash(hashKey(second)))?.name).toBe("alice");
        expect((await run(store, "revoke", { name: "alice" })).code).toBe(0);
        expect(await store.keyByHash(hashKey(second))).toBeUndefined();
        expect((await run(store, "list")).text).toContain("alice  revoked 2026-11-26");
        expect((await run(store, "revoke", { name: "alice" })).text).toContain('no active key named "alice"');
      } finally {
        store.close();
        dir.cleanup();
      }
    });
    test("bad input is refused with what is accepted, and nothing is stored", async () => {
      const dir = tempDir("tfo-keys-");
      const store = open(dir.path);
      try {
        expect((await run(store, "add")).text).toContain("needs a NAME");
        expect((await run(store, "add", { name: "no spaces" })).text).toContain("a key name is 1-64 letters");
        expect((await run(store, "add", { name: "a", roots: [join(dir.path, "missing")] })).text).toContain("workspace root does not exist");
        expect((await run(store, "add", { name: "a", tools: "read_file,rm" })).text).toContain("unknown tool rm; tools are echo, read_file");
        expect((await run(store, "add", { name: "a", rateLimit: "lots" })).text).toContain('rate limit "lots" is not N');
        expect((await run(store, "add", { name: "a", maxSessions: "-1" })).text).toContain("--max-sessions");
        expect((await run(store, "frob")).text).toContain("unknown action; use add, list, revoke, rotate");
        expect(await store.listKeys()).toEqual([]);
        expect((await run(store, "add", { name: "a" })).code).toBe(0);
        expect((await run(store, "add", { name: "a" })).text).toContain('a key named "a" exists');
      } finally {
        store.close();
        dir.cleanup();
      }
    });
    test("names of http.api_keys (key-1…) are refused; a revoked name stays taken, and add says so", async () => {
      const dir = tempDir("tfo-keys-");
      const store = open(dir.path);
      try {
        expect((await run(store, "add", { name: "key-1" })).text).toContain("key-1, key-2… name the keys of http.api_keys; choose another name");
        expect((await run(store, "add", { name: "key-one" })).code).toBe(0);
        expect((await run(store, "revoke", { name: "key-one" })).code).toBe(0);
        const again = await run(store, "add", { name: "key-one" });
        expect(again.code).toBe(1);
        expect(again.text).toContain('a key named "key-one" was revoked and is kept on record; choose another name');
        expect((await store.listKeys()).map((k) => k.name)).toEqual(["key-one"]);
      } finally {
        store.close();
        dir.cleanup();
      }
    });
  });
}
