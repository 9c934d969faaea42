// API keys from the store as tenants of the http server: the pure rules (a tenant's roots
// within the server's), the session a key gets, the key lookup and admission with a real
// store, then the compiled binary serving two people (and a few more keys) through the SDK's
// Streamable HTTP client, keys added with `tfo-mcp keys add` into a temp store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { defaults } from "../src/config/schema.ts";
import type { Logger } from "../src/log.ts";
import { admission } from "../src/server/http-admission.ts";
import { keyDirectory } from "../src/server/http-keys.ts";
import { memoryStore } from "../src/store/memory.ts";
import type { Store } from "../src/store/port.ts";
import { type ApiKey, hashKey, KEY_CACHE_MS } from "../src/tenants/keys.ts";
import { serverSession, tenantRoots, tenantSession, type ServerScope } from "../src/tenants/session-scope.ts";
import { tools } from "../src/tools/index.ts";
import type { Workspace } from "../src/workspace/resolve.ts";
import { cleanEnv, runBinary } from "./helpers/binary.ts";
import { resourceText, textOf } from "./helpers/client.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { connectHttp, type HttpBinary, MCP_HEADERS, openSession, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

// Each end-to-end test starts clients of a real binary: a loaded machine needs more than 5 s.
const E2E_MS = 20_000;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function keyRecord(name: string, extra: Partial<ApiKey> = {}): ApiKey {
  return { name, hash: hashKey(`tfo_${name}`), roots: [], tools: [], read_only: false, rate_limit: 0, max_sessions: 0, created_at: "2026-11-26T00:00:00.000Z", last_used_at: null, revoked_at: null, ...extra };
}

function workspaceOf(roots: string[], extra: Partial<Workspace> = {}): Workspace {
  return { roots, readOnly: false, maxReadBytes: 1 << 20, maxWriteBytes: 1 << 20, maxResults: 1000, followSymlinks: false, allowHardlinks: false, explicit: true, why: "configured", ...extra };
}

describe("a tenant's roots within the server's (pure)", () => {
  test.each([
    ["inside: its own", true, ["/s/a"], [], ["/s/a"]],
    ["above the server's root: narrowed to it", true, ["/"], [], ["/s"]],
    ["one inside, one outside: the outside one left out", true, ["/s/a", "/o"], [], ["/s/a"]],
    ["server roots not explicit: the tenant's own", false, ["/o"], [], ["/o"]],
  ])("%s", (_name, explicit, real, missing, want) => {
    expect(tenantRoots({ roots: ["/s"], explicit }, "alice", real, missing).roots).toEqual(want);
  });
  test("what was left out, and why, is said", () => {
    const r = tenantRoots({ roots: ["/s"], explicit: true }, "alice", ["/s/a", "/o"], ["/gone"]);
    expect(r.why).toBe("the roots of API key alice; /gone no longer exists; /o lies outside this server's roots (/s) and was left out");
    expect(r.unavailable).toBeUndefined();
  });
  test("no usable root: no workspace, with a sentence every path tool answers", () => {
    const r = tenantRoots({ roots: ["/s"], explicit: true }, "alice", ["/o"], ["/gone"]);
    expect(r.roots).toEqual([]);
    expect(r.unavailable).toBe(
      "No workspace for API key alice: /gone no longer exists; /o lies outside this server's roots (/s) and was left out. Its roots must be folders inside this server's roots (/s); the server's operator can issue a key with such roots (tfo-mcp keys add NAME --root DIR).",
    );
  });
});

describe("the session a key gets", () => {
  const dir = tempDir("tfo-scope-");
  const srv = join(dir.path, "srv");
  mkdirSync(join(srv, "a"), { recursive: true });
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = { ...quiet, info: (message, fields) => lines.push({ message, fields }) };
  const store = memoryStore();
  const server: ServerScope = { config: defaults, workspace: workspaceOf([srv]), tools, log, openStore: async () => store };
  afterAll(() => dir.cleanup());

  test("a tenant: its roots (a missing one dropped), its tools, read-only in config and workspace, its name on log lines", async () => {
    const key = keyRecord("alice", { roots: [join(srv, "a"), join(srv, "gone")], tools: ["read_file", "write_file", "echo"], read_only: true });
    const s = await tenantSession(server, key);
    expect(s.workspace.roots).toEqual([join(srv, "a")]);
    expect(s.workspace.why).toContain("no longer exists");
    expect(s.workspace).toMatchObject({ explicit: true, readOnly: true });
    expect(s.config.workspace.read_only).toBe(true);
    expect(defaults.workspace.read_only).toBe(false);
    expect(s.tools.map((t) => t.name)).toEqual(["echo", "read_file", "write_file"]);
    s.log.info("tool call", { tool: "echo" });
    expect(lines.at(-1)).toEqual({ message: "tool call", fields: { principal: "alice", tool: "echo" } });
    expect(s.telemetryAttributes).toEqual({ "mcp.api_key.name": "alice", "tfo.tenant": "alice" });
  });
  test("a tenant's conversations are its own; the server's sessions see only the server's", async () => {
    const alice = await (await tenantSession(server, keyRecord("alice"))).openStore();
    const own = await serverSession(server, "key-1").openStore();
    await alice.createConversation({ id: "ca", title: "t", system_prompt: null, model: null });
    await own.createConversation({ id: "cs", title: "t", system_prompt: null, model: null });
    expect((await store.getConversation("ca"))?.owner).toBe("alice");
    expect((await store.getConversation("cs"))?.owner).toBeNull();
    expect((await alice.listConversations(10)).map((c) => c.id)).toEqual(["ca"]);
    expect(await own.getConversation("ca")).toBeUndefined();
  });
  test("with no server roots (started in home), a tenant's roots are its workspace", async () => {
    const none = { ...server, workspace: workspaceOf([], { explicit: false, unavailable: "No workspace: started in home" }) };
    const s = await tenantSession(none, keyRecord("alice", { roots: [join(srv, "a")] }));
    expect(s.workspace.roots).toEqual([join(srv, "a")]);
    expect(s.workspace.unavailable).toBeUndefined();
  });
  test("over http the server's roots are a ceiling the client can only narrow", () => {
    const s = serverSession({ ...server, workspace: workspaceOf([srv], { explicit: false }) }, "peer:127.0.0.1");
    expect(s.workspace.explicit).toBe(true);
  });
});

describe("keys looked up in the store", () => {
  test("a found key is remembered for KEY_CACHE_MS, then looked up again: revoked, it is refused", async () => {
    const store = memoryStore();
    let lookups = 0;
    const counted: Store = { ...store, keyByHash: (h) => (lookups++, store.keyByHash(h)) };
    let t = 1_000_000;
    const keys = keyDirectory(async () => counted, quiet, () => t);
    await store.addKey(keyRecord("alice"));
    expect((await keys.find("tfo_alice"))?.name).toBe("alice");
    await store.revokeKey("alice", "2026-11-26T00:00:01.000Z");
    t += KEY_CACHE_MS - 1;
    expect((await keys.find("tfo_alice"))?.name).toBe("alice");
    expect(lookups).toBe(1);
    t += 1;
    expect(await keys.find("tfo_alice")).toBeUndefined();
    // A wrong key is never remembered, so it cannot fill memory: each is looked up.
    await keys.find("tfo_nobody");
    await keys.find("tfo_nobody");
    expect(lookups).toBe(4);
  });
  test("a store key named like an http.api_keys key (key-1) is never a tenant", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("key-1"));
    expect(await keyDirectory(async () => store, quiet).find("tfo_key-1")).toBeUndefined();
  });
  test("last use is recorded at most once a minute per key", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("alice"));
    const stamps: string[] = [];
    const recorded: Store = { ...store, touchKey: (name, at) => (stamps.push(at), store.touchKey(name, at)) };
    let t = Date.parse("2026-11-26T10:00:00.000Z");
    const keys = keyDirectory(async () => recorded, quiet, () => t);
    const alice = (await keys.find("tfo_alice"))!;
    for (const step of [0, 59_000, 2_000]) {
      t += step;
      keys.used(alice);
    }
    expect(await until(() => stamps.length === 2)).toBe(true);
    expect(stamps).toEqual(["2026-11-26T10:00:00.000Z", "2026-11-26T10:01:01.000Z"]);
    expect((await store.listKeys())[0]!.last_used_at).toBe("2026-11-26T10:01:01.000Z");
  });
});

describe("admission with store keys", () => {
  const at = (key?: string) => new Request("http://127.0.0.1:9/mcp", { headers: { host: "127.0.0.1:9", ...(key ? { authorization: `Bearer ${key}` } : {}) } });
  const admitWith = (store: Store, http: Partial<typeof defaults.http> = {}) => admission({ ...defaults.http, ...http }, "127.0.0.1", keyDirectory(async () => store, quiet), quiet);

  test("a store key is its tenant; with any key in the store, no key and a wrong key are 401", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("alice"));
    const admit = admitWith(store);
    const ok = await admit(at("tfo_alice"), "127.0.0.1");
    expect(ok.ok && [ok.principal, ok.tenant?.name]).toEqual(["alice", "alice"]);
    for (const key of [undefined, "tfo_wrong"]) {
      const r = await admit(at(key), "127.0.0.1");
      expect(!r.ok && r.response.status).toBe(401);
    }
  });
  test("only revoked keys in the store: still every request needs a key", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("alice", { revoked_at: "2026-11-26T00:00:00.000Z" }));
    const r = await admitWith(store)(at(), "127.0.0.1");
    expect(!r.ok && r.response.status).toBe(401);
  });
  test("no keys anywhere: the peer's, as before", async () => {
    const r = await admitWith(memoryStore())(at(), "127.0.0.1");
    expect(r.ok && r.principal).toBe("peer:127.0.0.1");
  });
  test("beside http.api_keys: both kinds are accepted", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("alice"));
    const admit = admitWith(store, { api_keys: ["configured-key-0123456789"] });
    const [a, b] = [await admit(at("configured-key-0123456789"), "127.0.0.1"), await admit(at("tfo_alice"), "127.0.0.1")];
    expect([a.ok && a.principal, b.ok && b.principal]).toEqual(["key-1", "alice"]);
  });
  test("a tenant's own rate limit replaces http.rate_limit", async () => {
    const store = memoryStore();
    await store.addKey(keyRecord("alice", { rate_limit: 2 }));
    await store.addKey(keyRecord("bob"));
    const admit = admitWith(store, { rate_limit: 100 });
    const statuses = async (key: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = await admit(at(key), "127.0.0.1");
        out.push(r.ok ? 200 : r.response.status);
      }
      return out;
    };
    expect(await statuses("tfo_alice", 3)).toEqual([200, 200, 429]);
    expect(await statuses("tfo_bob", 3)).toEqual([200, 200, 200]);
    const refused = await admit(at("tfo_alice"), "127.0.0.1");
    expect(!refused.ok && ((await refused.response.json()) as { error: { message: string } }).error.message).toBe("Rate limit of 2 requests per minute reached (API key alice's --rate-limit)");
  });
  test("storage unreachable: refused (503), never let in", async () => {
    const admit = admission({ ...defaults.http }, "127.0.0.1", keyDirectory(() => Promise.reject(new Error("disk gone")), quiet), quiet);
    for (const key of [undefined, "tfo_alice"]) {
      const r = await admit(at(key), "127.0.0.1");
      expect(!r.ok && r.response.status).toBe(503);
    }
  });
});

describe("tenants on the binary over Streamable HTTP", () => {
  const dir = tempDir("tfo-tenants-");
  const data = join(dir.path, "data");
  const srv = join(dir.path, "srv");
  const outside = join(dir.path, "outside");
  const db = `sqlite:${join(data, "tfo-mcp", "tfo-mcp.db")}`;
  const fake = startFakeAnthropic();
  const env = cleanEnv({ XDG_DATA_HOME: data });
  const keys: Record<string, string> = {};
  const clients: Client[] = [];
  let server: HttpBinary;

  async function keysCommand(...args: string[]) {
    const r = await runBinary(["keys", ...args], { env, cwd: dir.path });
    if (r.code !== 0) throw new Error(`keys ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  }
  async function addKey(name: string, ...args: string[]) {
    keys[name] = /tfo_[\w-]{43}/.exec(await keysCommand("add", name, ...args))![0];
  }
  async function connectAs(name: string) {
    const c = await connectHttp(server.url, { authorization: `Bearer ${keys[name]}` }, `${name}-client`);
    clients.push(c.client);
    return c;
  }
  const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean };
    return { isError: Boolean(r.isError), text: textOf(r) };
  };

  beforeAll(async () => {
    for (const d of ["alice", "bob", "shared"]) mkdirSync(join(srv, d), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(srv, "alice", "a.txt"), "alice's notes");
    writeFileSync(join(srv, "bob", "b.txt"), "bob's notes");
    await addKey("alice", "--root", join(srv, "alice"));
    await addKey("bob", "--root", join(srv, "bob"));
    await addKey("reader", "--root", join(srv, "shared"), "--read-only");
    await addKey("narrow", "--root", join(srv, "shared"), "--tools", "echo,read_file");
    await addKey("stray", "--root", outside);
    await addKey("slow", "--rate-limit", "3/min");
    server = await serveHttpBinary({
      args: ["--root", srv],
      env: { XDG_DATA_HOME: data, TELEMETRYFLOW_MCP_STORAGE__URL: db, ANTHROPIC_API_KEY: "sk-ant-tenants", ANTHROPIC_BASE_URL: fake.url, TELEMETRYFLOW_MCP_CLAUDE__MAX_RETRIES: "0" },
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server?.stop();
    fake.stop();
    dir.cleanup();
  }, E2E_MS);

  test("each key reads its own files and nobody else's", async () => {
    const { client: alice } = await connectAs("alice");
    const { client: bob } = await connectAs("bob");
    expect(await call(alice, "read_file", { path: "a.txt" })).toEqual({ isError: false, text: "alice's notes" });
    expect(await call(bob, "read_file", { path: "b.txt" })).toEqual({ isError: false, text: "bob's notes" });
    const stolen = await call(bob, "read_file", { path: join(srv, "alice", "a.txt") });
    expect(stolen.isError).toBe(true);
    expect(stolen.text).toContain(join(srv, "bob"));
    expect((await call(alice, "read_file", { path: "../bob/b.txt" })).isError).toBe(true);
    expect((await call(alice, "list_directory", { path: "." })).text).not.toContain("b.txt");
    expect((await call(alice, "search_files", { path: srv, pattern: "*.txt" })).isError).toBe(true);
    await expect(bob.readResource({ uri: `file://${join(srv, "alice", "a.txt")}` })).rejects.toThrow();
    // The tool-call audit names the tenant, never its key.
    const audited = (name: string) => server.stderr().includes(`"event":"tool call","principal":"${name}","tool":"read_file"`);
    expect(await until(() => audited("alice") && audited("bob"))).toBe(true);
    for (const key of Object.values(keys)) expect(server.stderr()).not.toContain(key);
  }, E2E_MS);

  test("conversations are each tenant's own: another's id is as unknown as a made-up one", async () => {
    const { client: alice } = await connectAs("alice");
    const { client: bob } = await connectAs("bob");
    const first = (await alice.callTool({ name: "claude_conversation", arguments: { message: "alice's secret plan" } })) as { _meta?: { conversation_id?: string } };
    const id = first._meta?.conversation_id;
    expect(id).toMatch(/\S/);
    expect(resourceText(await alice.readResource({ uri: `conversation://${id}` }))).toContain("alice's secret plan");
    const refusal = (uri: string) => bob.readResource({ uri }).then(() => "read", (e: Error) => e.message);
    const [asBob, madeUp] = [await refusal(`conversation://${id}`), await refusal("conversation://made-up-id")];
    expect(asBob).toContain("Resource not found");
    expect(asBob).toBe(madeUp.replace("made-up-id", id!));
    const cont = await call(bob, "claude_conversation", { message: "and then?", conversation_id: id });
    expect(cont.isError).toBe(true);
    expect(cont.text).toContain(`Unknown conversation_id "${id}"`);
    const completed = await bob.complete({ ref: { type: "ref/resource", uri: "conversation://{id}" }, argument: { name: "id", value: "" } });
    expect(completed.completion.values).not.toContain(id!);
    // The fake API saw one request: bob's attempt never reached Claude with alice's history.
    expect(fake.requests.length).toBe(1);
    // On disk the conversation is recorded as alice's.
    const listed = JSON.parse((await runBinary(["conversations", "list", "--json"], { env: { ...env, TELEMETRYFLOW_MCP_STORAGE__URL: db } })).stdout) as { id: string; owner: string | null }[];
    expect(listed.find((c) => c.id === id)?.owner).toBe("alice");
  }, E2E_MS);

  test("a read-only key is not shown the writing tools and is refused on them", async () => {
    const { client } = await connectAs("reader");
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("read_file");
    expect(names).not.toContain("write_file");
    expect(names).not.toContain("execute_command");
    const write = await call(client, "write_file", { path: "x.txt", content: "no" });
    expect(write.isError).toBe(true);
    expect(write.text).toContain("read-only");
    const run = await call(client, "execute_command", { command: "touch y.txt", working_dir: "." });
    expect(run.isError).toBe(true);
    expect(existsSync(join(srv, "shared", "x.txt")) || existsSync(join(srv, "shared", "y.txt"))).toBe(false);
  }, E2E_MS);

  test("a --tools list is what the key sees and all it may call", async () => {
    const { client } = await connectAs("narrow");
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "read_file"]);
    expect(await call(client, "echo", { message: "hi" })).toEqual({ isError: false, text: "Echo: hi" });
    await expect(client.callTool({ name: "list_directory", arguments: {} })).rejects.toThrow(/Unknown tool: "list_directory"/);
    await expect(client.callTool({ name: "execute_command", arguments: { command: "id" } })).rejects.toThrow(/Unknown tool/);
  }, E2E_MS);

  test("a key whose roots lie outside the server's has no workspace, and path tools say so", async () => {
    const { client } = await connectAs("stray");
    const r = await call(client, "list_directory", { path: "." });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("No workspace for API key stray");
    expect(r.text).toContain(`${outside} lies outside this server's roots (${srv})`);
  }, E2E_MS);

  test("no key, or a wrong one, is refused although http.api_keys is empty: the store holds keys", async () => {
    const alice = keys.alice!;
    const wrong = `${alice.slice(0, -1)}${alice.endsWith("x") ? "y" : "x"}`;
    for (const headers of [{}, { authorization: `Bearer ${wrong}` }] as Record<string, string>[]) {
      expect((await openSession(server.url, headers)).status).toBe(401);
    }
  }, E2E_MS);

  test("keys in the store let a server listen beyond loopback; with no key anywhere it refuses to start", async () => {
    const open = await serveHttpBinary({ args: ["--root", srv, "--host", "0.0.0.0"], env: { XDG_DATA_HOME: data, TELEMETRYFLOW_MCP_STORAGE__URL: db } });
    try {
      expect((await openSession(open.url, {})).status).toBe(401);
      expect((await openSession(open.url, { authorization: `Bearer ${keys.alice}` })).status).toBe(200);
    } finally {
      await open.stop();
    }
    const empty = tempDir("tfo-nokeys-");
    try {
      const r = await runBinary(["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--root", srv], { env: cleanEnv({ XDG_DATA_HOME: empty.path }) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("refusing to serve http on 0.0.0.0 without keys");
    } finally {
      empty.cleanup();
    }
  }, E2E_MS);

  test("a session id used with another key, or with none, is refused like an unknown one", async () => {
    const { transport } = await connectAs("alice");
    const sessionId = transport.sessionId!;
    const ping = (headers: Record<string, string>, method = "POST") =>
      fetch(server.url, { method, headers: { ...MCP_HEADERS, "mcp-protocol-version": "2025-06-18", "mcp-session-id": sessionId, ...headers }, body: method === "POST" ? JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" }) : undefined });
    const asBob = await ping({ authorization: `Bearer ${keys.bob}` });
    const unknown = await fetch(server.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: `Bearer ${keys.bob}`, "mcp-protocol-version": "2025-06-18", "mcp-session-id": crypto.randomUUID() },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" }),
    });
    expect([asBob.status, await asBob.text()]).toEqual([unknown.status, await unknown.text()]);
    expect(asBob.status).toBe(404);
    expect((await ping({})).status).toBe(401);
    expect((await ping({ authorization: `Bearer ${keys.bob}` }, "DELETE")).status).toBe(404);
    expect((await ping({ authorization: `Bearer ${keys.alice}` })).status).toBe(200);
  }, E2E_MS);

  test("a key's own rate limit: 429 with Retry-After", async () => {
    const auth = { authorization: `Bearer ${keys.slow}` };
    // 3 a minute: initialize and initialized are two, a ping the third, the next is refused.
    const session = await openSession(server.url, auth);
    expect(session.status).toBe(200);
    const ping = () => fetch(server.url, { method: "POST", headers: session.headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) });
    expect((await ping()).status).toBe(200);
    const limited = await ping();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await limited.text()).toContain("API key slow's --rate-limit");
  }, E2E_MS);

  test("--max-sessions caps a key's open sessions", async () => {
    await addKey("single", "--max-sessions", "1");
    const auth = { authorization: `Bearer ${keys.single}` };
    // Added while the server runs: a key not found before is not remembered as missing.
    expect((await openSession(server.url, auth)).status).toBe(200);
    const second = await fetch(server.url, { method: "POST", headers: { ...MCP_HEADERS, ...auth }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } }) });
    expect(second.status).toBe(429);
    expect(await second.text()).toContain("API key single's --max-sessions");
  }, E2E_MS);

  test("a revoked key is refused, on the sessions it opened too; its last use was recorded", async () => {
    await addKey("temp", "--root", join(srv, "shared"));
    const { client, transport } = await connectAs("temp");
    expect(await call(client, "echo", { message: "before" })).toEqual({ isError: false, text: "Echo: before" });
    const sessionId = transport.sessionId!;
    await keysCommand("revoke", "temp");
    const ping = () =>
      fetch(server.url, {
        method: "POST",
        headers: { ...MCP_HEADERS, authorization: `Bearer ${keys.temp}`, "mcp-protocol-version": "2025-06-18", "mcp-session-id": sessionId },
        body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }),
      });
    // Within the lookup cache (KEY_CACHE_MS) of the revocation, from another process.
    expect(await until(async () => (await ping()).status === 401, KEY_CACHE_MS * 3, 50)).toBe(true);
    expect((await openSession(server.url, { authorization: `Bearer ${keys.temp}` })).status).toBe(401);
    const listed = JSON.parse(await keysCommand("list", "--json")) as { name: string; last_used_at: string | null; status: string }[];
    expect(listed.find((k) => k.name === "temp")).toMatchObject({ status: expect.stringMatching(/^revoked /), last_used_at: expect.stringMatching(/^\d{4}-/) });
  }, E2E_MS);
});
