// The Streamable HTTP transport: pure gatekeeping rules in tables, then the binary serving
// real SDK clients. Attacks: http-attacks.test.ts; lifecycle: http-lifecycle.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { defaults } from "../src/config/schema.ts";
import { httpExposureProblem } from "../src/server/exposure.ts";
import { bearerToken, keyRing, peerAddress } from "../src/server/http-auth.ts";
import { readJsonBody } from "../src/server/http-body.ts";
import { hostAllowed, originAllowed } from "../src/server/http-gate.ts";
import { byteBudget, tokenBuckets } from "../src/server/http-limits.ts";
import { watchResponse } from "../src/server/http-response.ts";
import { sessionTable } from "../src/server/http-sessions.ts";
import { inRanges, isLoopback, parseIpRange } from "../src/server/ip.ts";
import { binary, runBinary } from "./helpers/binary.ts";
import { resourceText, textOf } from "./helpers/client.ts";
import { connectHttp, type HttpBinary, MCP_HEADERS, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";

describe("addresses (pure)", () => {
  test.each([
    ["localhost", true],
    ["LOCALHOST", true],
    ["127.0.0.1", true],
    ["127.255.0.9", true],
    ["::1", true],
    ["[::1]", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["127.0.0.1.attacker.example", false],
    ["127.attacker.example", false],
    ["localhost.attacker.example", false],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["127.0.0.256", false],
    ["", false],
  ])("isLoopback(%p) → %p", (host, want) => {
    expect(isLoopback(host)).toBe(want);
  });

  test.each([
    ["10.1.2.3", ["10.0.0.0/8"], true],
    ["11.1.2.3", ["10.0.0.0/8"], false],
    ["192.168.1.77", ["192.168.1.64/26"], true],
    ["192.168.1.130", ["192.168.1.64/26"], false],
    ["::ffff:10.0.0.5", ["10.0.0.5"], true],
    ["fd12::1", ["fd00::/8"], true],
    ["fe80::1", ["fd00::/8"], false],
    ["10.0.0.1", ["fd00::/8"], false],
    ["not an ip", ["0.0.0.0/0"], false],
  ])("%p in %p → %p", (address, ranges, want) => {
    expect(inRanges(address, ranges.map((r) => parseIpRange(r)!))).toBe(want);
  });

  test.each(["10.0.0.0/33", "fd00::/129", "example.com", "10.0.0/8", "1.2.3.4/x", ""])("%p is not a range", (text) => {
    expect(parseIpRange(text)).toBeUndefined();
  });
});

describe("Origin and Host (pure)", () => {
  test.each([
    [null, [], "127.0.0.1", true],
    ["http://localhost:5173", [], "127.0.0.1", true],
    ["http://127.0.0.1:3000", [], "127.0.0.1", true],
    ["http://[::1]:3000", [], "127.0.0.1", true],
    ["http://127.0.0.1.attacker.example:8080", [], "127.0.0.1", false],
    ["http://localhost.attacker.example", [], "127.0.0.1", false],
    ["null", [], "127.0.0.1", false],
    ["https://evil.example", [], "127.0.0.1", false],
    ["https://app.example", ["https://app.example"], "0.0.0.0", true],
    ["http://localhost:5173", [], "0.0.0.0", false],
    ["https://any.example", ["*"], "0.0.0.0", true],
    ["not a url", [], "127.0.0.1", false],
  ] as const)("origin %p, allowed %p, bound to %p → %p", (origin, allowed, host, want) => {
    expect(originAllowed(origin, [...allowed], host)).toBe(want);
  });

  test.each([
    ["127.0.0.1:8080", "127.0.0.1", true],
    ["localhost:8080", "127.0.0.1", true],
    ["[::1]:8080", "::1", true],
    ["localhost", "localhost", true],
    ["127.0.0.1.attacker.example:8080", "127.0.0.1", false],
    ["attacker.example", "127.0.0.1", false],
    ["evil.example@127.0.0.1", "127.0.0.1", false],
    ["127.0.0.1/x", "127.0.0.1", false],
    [null, "127.0.0.1", false],
    ["mcp.team.example", "0.0.0.0", true],
  ] as const)("Host %p, bound to %p → %p", (hostHeader, bind, want) => {
    expect(hostAllowed(hostHeader, bind)).toBe(want);
  });
});

describe("keys and peers (pure)", () => {
  const ring = keyRing(["first-key-0123456789", "second-key-0123456789", "first-key-0123456789"]);
  test.each([
    ["first-key-0123456789", "key-1"],
    ["second-key-0123456789", "key-2"],
    ["first-key-012345678", undefined],
    ["first-key-01234567890", undefined],
    ["", undefined],
    ["FIRST-KEY-0123456789", undefined],
  ])("key %p → %p", (given, want) => {
    expect(ring(given)).toBe(want);
  });
  test("no keys: nothing matches, not even the empty key", () => {
    expect(keyRing([])("")).toBeUndefined();
  });
  test.each([
    ["Bearer abc", "abc"],
    ["bearer abc ", "abc"],
    ["Basic abc", ""],
    ["Bearer", ""],
    [null, ""],
  ])("Authorization %p → token %p", (header, want) => {
    expect(bearerToken(header)).toBe(want);
  });

  const proxies = ["10.0.0.0/8", "127.0.0.1"].map((r) => parseIpRange(r)!);
  test.each([
    ["203.0.113.5", "198.51.100.1", [], { address: "203.0.113.5", viaProxy: false }],
    ["203.0.113.5", "198.51.100.1", proxies, { address: "203.0.113.5", viaProxy: false }],
    ["127.0.0.1", null, proxies, { address: "127.0.0.1", viaProxy: true }],
    ["127.0.0.1", "198.51.100.1", proxies, { address: "198.51.100.1", viaProxy: true }],
    ["::ffff:127.0.0.1", "198.51.100.1", proxies, { address: "198.51.100.1", viaProxy: true }],
    // The client's own claim (leftmost) is not believed past the first untrusted hop.
    ["127.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", proxies, { address: "198.51.100.1", viaProxy: true }],
    ["127.0.0.1", "garbage, 10.0.0.2", proxies, { address: "10.0.0.2", viaProxy: true }],
    ["127.0.0.1", "10.0.0.3, 10.0.0.2", proxies, { address: "10.0.0.3", viaProxy: true }],
  ] as const)("socket %p, X-Forwarded-For %p → %p", (socket, xff, trusted, want) => {
    expect(peerAddress(socket, xff, trusted)).toEqual(want);
  });
});

describe("limits (pure)", () => {
  test("a token bucket per id: a burst of the limit, then Retry-After until a token refills", () => {
    let t = 0;
    const limit = tokenBuckets(2, () => t);
    expect([limit.take("a").ok, limit.take("a").ok, limit.take("a").ok, limit.take("b").ok]).toEqual([true, true, false, true]);
    expect(limit.take("a")).toEqual({ ok: false, retryAfterSeconds: 30 });
    t = 29_000;
    expect(limit.take("a")).toEqual({ ok: false, retryAfterSeconds: 1 });
    t = 30_000;
    expect(limit.take("a").ok).toBe(true);
    expect(limit.take("a").ok).toBe(false);
    expect(tokenBuckets(0).take("x").ok).toBe(true);
  });
  test("check looks without spending", () => {
    const limit = tokenBuckets(1, () => 0);
    expect(limit.check("a").ok).toBe(true);
    expect(limit.check("a").ok).toBe(true);
    limit.take("a");
    expect(limit.check("a").ok).toBe(false);
  });
  test("a flood of new ids does not grow the table without bound", () => {
    const limit = tokenBuckets(5, () => 0);
    for (let i = 0; i < 25_000; i++) limit.take(`peer-${i}`);
    expect(limit.size).toBeLessThanOrEqual(10_000);
  });
  test("a byte budget", () => {
    const budget = byteBudget(10);
    expect([budget.reserve(6), budget.reserve(5), budget.reserve(4)]).toEqual([true, false, true]);
    budget.release(6);
    expect(budget.used).toBe(4);
  });
});

describe("the session table (pure)", () => {
  const make = () => {
    let t = 0;
    const table = sessionTable<string>({ maxTotal: 3, maxPerPrincipal: 2, idleMs: 1000 }, () => t);
    return { table, at: (ms: number) => (t = ms) };
  };
  const open = (table: ReturnType<typeof make>["table"], principal: string, id: string) => {
    const place = table.reserve(principal);
    if ("status" in place) return place.status;
    table.add(id, place, id);
    return 200;
  };
  test("caps per principal (429) and in total (503), counting places held for sessions being opened", () => {
    const { table } = make();
    expect([open(table, "key-1", "a"), open(table, "key-1", "b"), open(table, "key-1", "c")]).toEqual([200, 200, 429]);
    const held = table.reserve("key-2");
    expect(open(table, "key-3", "d")).toBe(503);
    if (!("status" in held)) table.release(held);
    expect(open(table, "key-3", "d")).toBe(200);
    table.remove("a");
    expect(open(table, "key-1", "e")).toBe(200);
  });
  test("a session is found only by its own principal", () => {
    const { table } = make();
    open(table, "key-1", "a");
    expect(table.get("a", "key-1")?.value).toBe("a");
    expect(table.get("a", "key-2")).toBeUndefined();
    expect(table.get("zzz", "key-1")).toBeUndefined();
  });
  test("idle: nothing open and quiet for the timeout", () => {
    const { table, at } = make();
    open(table, "key-1", "a");
    open(table, "key-1", "b");
    const b = table.get("b", "key-1")!;
    table.opened(b);
    at(999);
    expect(table.idle()).toEqual([]);
    at(1000);
    expect(table.idle().map((e) => e.id)).toEqual(["a"]);
    table.closed(b);
    at(1999);
    expect(table.idle().map((e) => e.id)).toEqual(["a"]);
    at(2000);
    expect(table.idle().map((e) => e.id)).toEqual(["a", "b"]);
  });
});

describe("bodies and responses (in-process)", () => {
  const limits = (budget = byteBudget(1000)) => ({ maxBytes: 100, timeoutMs: 200, budget });
  const post = (body: string | ReadableStream, headers: Record<string, string> = {}) => new Request("http://127.0.0.1/mcp", { method: "POST", body, headers });
  test("a JSON body is parsed and its bytes given back", async () => {
    const budget = byteBudget(1000);
    expect(await readJsonBody(post('{"a":1}', { "content-length": "7" }), limits(budget))).toEqual({ ok: true, body: { a: 1 } });
    expect(budget.used).toBe(0);
  });
  test.each([
    ["over the cap", post("x".repeat(101), { "content-length": "101" }), 413],
    ["not JSON", post("{nope"), 400],
  ])("%s → %p", async (_what, req, status) => {
    const r = await readJsonBody(req, limits());
    expect(!r.ok && r.response.status).toBe(status);
  });
  test("a body that never finishes → 408, closing the connection", async () => {
    const never = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("{")) });
    const r = await readJsonBody(post(never), limits());
    expect(!r.ok && [r.response.status, r.response.headers.get("connection")]).toEqual([408, "close"]);
  });
  test("past the budget → 503 with Retry-After", async () => {
    const budget = byteBudget(150);
    budget.reserve(100);
    const r = await readJsonBody(post("{}"), limits(budget));
    expect(!r.ok && [r.response.status, r.response.headers.get("retry-after")]).toEqual([503, "1"]);
  });
  test("a watched event stream reports when it is over, and sends its prelude first", async () => {
    let done = 0;
    const res = new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("data: x\n\n")), c.close()) }), { headers: { "content-type": "text/event-stream" } });
    const watched = watchResponse(res, () => done++, ": open\n\n");
    expect(done).toBe(0);
    expect(await watched.text()).toBe(": open\n\ndata: x\n\n");
    expect(done).toBe(1);
    const json = watchResponse(Response.json({}), () => done++);
    expect(done).toBe(2);
    expect(await json.json()).toEqual({});
  });
  test("a watched stream the client walks away from reports too", async () => {
    let done = 0;
    const res = new Response(new ReadableStream({ pull: () => {} }), { headers: { "content-type": "text/event-stream" } });
    await watchResponse(res, () => done++).body!.cancel();
    expect(done).toBe(1);
  });
});

describe("start-up refusals (pure)", () => {
  const http = (keys: string[], host = "127.0.0.1") => httpExposureProblem({ ...defaults, server: { ...defaults.server, transport: "http", host }, http: { ...defaults.http, api_keys: keys } }, ["/w"]);
  test.each([
    [[], "127.0.0.1", undefined],
    [["k".repeat(16)], "0.0.0.0", undefined],
    [[], "0.0.0.0", "without keys"],
    [[""], "0.0.0.0", "http.api_keys.0 (empty)"],
    [["k".repeat(16), "short"], "127.0.0.1", "http.api_keys.1 (5 characters): every key must be at least 16 characters"],
  ] as const)("keys %p on %p", (keys, host, problem) => {
    const got = http([...keys], host);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });
  test.each(["sse", "websocket"] as const)("server.transport %p is the same http server: validate refuses what serve refuses", (transport) => {
    const config = { ...defaults, server: { ...defaults.server, transport, host: "0.0.0.0" } };
    expect(httpExposureProblem(config, ["/w"])).toContain("without keys");
    expect(httpExposureProblem({ ...config, server: { ...config.server, transport: "stdio" } }, ["/w"])).toBeUndefined();
  });
});

describe("tfo-mcp serve --transport http", () => {
  let s: HttpBinary;
  const KEY = "test-key-0123456789";
  beforeAll(async () => {
    await binary();
    s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: `["${KEY}"]`, TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "200" } });
  }, 120_000);
  afterAll(() => s.stop());
  const connect = (headers: Record<string, string> = { Authorization: `Bearer ${KEY}` }) => connectHttp(s.url, headers).then((c) => c.client);

  test("progress notifications arrive over Streamable HTTP (execute_command)", async () => {
    const client = await connect();
    const seen: string[] = [];
    const r = await client.callTool({ name: "execute_command", arguments: { command: "sleep 1.3; echo done" } }, undefined, { onprogress: (p) => seen.push(p.message ?? "") });
    expect(r.isError).toBeFalsy();
    expect(seen[0]).toMatch(/^running for 1 s, \d+ bytes of output so far$/);
    await client.close();
  });
  test("an SDK client with the key lists and calls tools and reads resources; the session is known by its Mcp-Session-Id everywhere", async () => {
    const { client, transport } = await connectHttp(s.url, { Authorization: `Bearer ${KEY}` });
    expect((await client.listTools()).tools).toHaveLength(9);
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "over http" } }))).toBe("Echo: over http");
    const health = JSON.parse(resourceText(await client.readResource({ uri: "status://health" })));
    expect(health.session.client.name).toBe("http-e2e");
    // The same id in health (and so in logs, spans, events and the stored session row) as on the wire.
    expect(health.session.id).toBe(transport.sessionId);
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
    const r = await fetch(s.url, { method: "POST", headers: { Authorization: "Bearer nope", "content-type": "application/json" }, body: "{}" });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
  });
  test("a foreign Origin: 403; another path: 404; a request without a session: 400", async () => {
    const headers = { Authorization: `Bearer ${KEY}`, ...MCP_HEADERS };
    expect((await fetch(s.url, { method: "POST", headers: { ...headers, Origin: "https://evil.example" }, body: "{}" })).status).toBe(403);
    expect((await fetch(s.url.replace("/mcp", "/other"), { headers })).status).toBe(404);
    const noSession = await fetch(s.url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(noSession.status).toBe(400);
    const junk = await fetch(s.url, { method: "POST", headers, body: "{not json" });
    expect(((await junk.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const unknown = await fetch(s.url, { method: "POST", headers: { ...headers, "mcp-session-id": "nope" }, body: "{}" });
    expect(unknown.status).toBe(404);
  });
  test("serving beyond loopback without api keys is refused", async () => {
    const dir = tempDir("tfo-http-open-");
    const r = await runBinary(["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"], { cwd: dir.path });
    dir.cleanup();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to serve http on 0.0.0.0 without keys");
  });
});

describe("rate limit over http", () => {
  test("the limit answers 429 with Retry-After", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "3" } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(s.url)).status);
    expect(statuses).toEqual([400, 400, 400]);
    const r = await fetch(s.url);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await s.stop()).toBe(0);
  }, 20_000);
});
