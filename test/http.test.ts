// The Streamable HTTP transport: pure gatekeeping rules, then the binary serving real SDK clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Subprocess } from "bun";
import { keyMatches, originAllowed, rateLimiter } from "../src/server/http.ts";
import { binary, cleanEnv, runBinary } from "./helpers/binary.ts";
import { resourceText, textOf } from "./helpers/client.ts";
import { tempDir } from "./helpers/tmp.ts";

/** Reads the server's stderr until it says where it listens. */
async function listeningUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stderr) {
    text += decoder.decode(chunk);
    const m = text.match(/at (http:\/\/\S+\/mcp)/);
    if (m) return m[1]!;
  }
  throw new Error(`the server never said where it listens:\n${text}`);
}

describe("gatekeeping (pure)", () => {
  test.each([
    [null, [], "127.0.0.1", true],
    ["http://localhost:5173", [], "127.0.0.1", true],
    ["http://127.0.0.1:3000", [], "127.0.0.1", true],
    ["http://[::1]:3000", [], "127.0.0.1", true],
    ["https://evil.example", [], "127.0.0.1", false],
    ["https://app.example", ["https://app.example"], "0.0.0.0", true],
    ["http://localhost:5173", [], "0.0.0.0", false],
    ["https://any.example", ["*"], "0.0.0.0", true],
    ["not a url", [], "127.0.0.1", false],
  ] as const)("origin %p, allowed %p, bound to %p → %p", (origin, allowed, host, want) => {
    expect(originAllowed(origin, [...allowed], host)).toBe(want);
  });
  test("keys", () => {
    expect(keyMatches("k-123", ["other", "k-123"])).toBe(true);
    expect(keyMatches("k-12", ["k-123"])).toBe(false);
    expect(keyMatches("", ["k"])).toBe(false);
    expect(keyMatches("k-124", ["k-123"])).toBe(false);
  });
  test("rate limit: a fixed window per client", () => {
    let t = 0;
    const limit = rateLimiter(2, () => t);
    expect([limit("a").ok, limit("a").ok, limit("a").ok, limit("b").ok]).toEqual([true, true, false, true]);
    const refused = limit("a");
    expect(!refused.ok && refused.retryAfterSeconds).toBe(60);
    t = 60_000;
    expect(limit("a").ok).toBe(true);
    expect(rateLimiter(0)("x").ok).toBe(true);
  });
});

describe("tfo-mcp serve --transport http", () => {
  const dir = tempDir("tfo-http-");
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  let url = "";
  const KEY = "test-key-0123456789";
  beforeAll(async () => {
    proc = Bun.spawn([await binary(), "serve", "--transport", "http", "--port", "0"], {
      cwd: dir.path,
      env: cleanEnv({ TELEMETRYFLOW_MCP_HTTP__API_KEYS: `["${KEY}"]`, TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "200", TELEMETRYFLOW_MCP_STORAGE__URL: "memory:" }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    url = await listeningUrl(proc.stderr);
  });
  afterAll(() => {
    proc.kill();
    dir.cleanup();
  });
  const connect = async (headers: Record<string, string> = { Authorization: `Bearer ${KEY}` }) => {
    const client = new Client({ name: "http-e2e", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    return client;
  };

  test("an SDK client with the key lists and calls tools and reads resources", async () => {
    const client = await connect();
    expect((await client.listTools()).tools).toHaveLength(8);
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "over http" } }))).toBe("Echo: over http");
    const health = JSON.parse(resourceText(await client.readResource({ uri: "status://health" })));
    expect(health.session.client.name).toBe("http-e2e");
    await client.close();
  });
  test("two clients get two sessions", async () => {
    const a = await connect();
    const b = await connect();
    const [ra, rb] = await Promise.all([a.callTool({ name: "echo", arguments: { message: "a" } }), b.callTool({ name: "echo", arguments: { message: "b" } })]);
    expect([textOf(ra), textOf(rb)]).toEqual(["Echo: a", "Echo: b"]);
    await a.close();
    await b.close();
  });
  test("no key or a wrong key: 401", async () => {
    await expect(connect({})).rejects.toThrow();
    const r = await fetch(url, { method: "POST", headers: { Authorization: "Bearer nope", "content-type": "application/json" }, body: "{}" });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
  });
  test("a foreign Origin: 403; another path: 404; a request without a session: 400", async () => {
    const headers = { Authorization: `Bearer ${KEY}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    expect((await fetch(url, { method: "POST", headers: { ...headers, Origin: "https://evil.example" }, body: "{}" })).status).toBe(403);
    expect((await fetch(url.replace("/mcp", "/other"), { headers })).status).toBe(404);
    const noSession = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(noSession.status).toBe(400);
    const junk = await fetch(url, { method: "POST", headers, body: "{not json" });
    expect(((await junk.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const unknown = await fetch(url, { method: "POST", headers: { ...headers, "mcp-session-id": "nope" }, body: "{}" });
    expect(unknown.status).toBe(404);
  });
  test("serving beyond loopback without api keys is refused", async () => {
    const r = await runBinary(["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"], { cwd: dir.path, env: cleanEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to serve http on 0.0.0.0 without http.api_keys");
  });
});

describe("rate limit over http", () => {
  test("the limit answers 429 with Retry-After", async () => {
    const dir = tempDir("tfo-http-rl-");
    const proc = Bun.spawn([await binary(), "serve", "--transport", "http", "--port", "0"], {
      cwd: dir.path,
      env: cleanEnv({ TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "3", TELEMETRYFLOW_MCP_STORAGE__URL: "memory:" }),
      stdout: "ignore",
      stderr: "pipe",
    });
    const url = await listeningUrl(proc.stderr);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);
    expect(statuses).toEqual([400, 400, 400]);
    const r = await fetch(url);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    dir.cleanup();
  });
});
