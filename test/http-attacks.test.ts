// What an attack on the http transport found (issue 13, a–h), each replayed against the
// compiled binary: every test here failed on the transport before these fixes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binary, cleanEnv } from "./helpers/binary.ts";
import { textOf } from "./helpers/client.ts";
import { connectHttp, type HttpBinary, initializeBody, MCP_HEADERS, openSession, rawRequest, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const KEY_A = "key-a-0123456789abcdef";
const KEY_B = "key-b-0123456789abcdef";
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const answer = async (r: Response) => ({ status: r.status, body: await r.text() });

// The first build of the binary takes longer than a hook's default 5 s.
beforeAll(() => binary(), 120_000);

describe("(a) DNS rebinding: a page on a name that resolves to 127.0.0.1", () => {
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary();
  });
  afterAll(() => s.stop());

  test("its Origin is refused: a name that starts with 127. is not loopback", async () => {
    const evil = `http://127.0.0.1.attacker.example:${s.port}`;
    const r = await fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, Origin: evil }, body: initializeBody() });
    expect(r.status).toBe(403);
    // The user's own loopback pages still get in.
    const own = await fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, Origin: `http://localhost:${s.port}` }, body: initializeBody() });
    expect(own.status).toBe(200);
  });

  test("its Host is refused, with or without an Origin (a same-origin GET carries none)", async () => {
    const body = initializeBody();
    const head = (host: string) =>
      [`POST /mcp HTTP/1.1`, `Host: ${host}`, `Content-Type: application/json`, `Accept: application/json, text/event-stream`, `Content-Length: ${body.length}`, "Connection: close"].join("\r\n");
    const evil = await rawRequest(s.port, head(`127.0.0.1.attacker.example:${s.port}`), { body: [body] });
    expect(evil.response).toStartWith("HTTP/1.1 403");
    const own = await rawRequest(s.port, head(`127.0.0.1:${s.port}`), { body: [body] });
    expect(own.response).toStartWith("HTTP/1.1 200");
  });
});

describe("(b) a session belongs to the key that opened it", () => {
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A, KEY_B]) } });
  });
  afterAll(() => s.stop());

  test("used with another key, or with none, it is answered exactly as a made-up session id; DELETE too", async () => {
    const { client, transport } = await connectHttp(s.url, bearer(KEY_A));
    const stolen = transport.sessionId!;
    const madeUp = crypto.randomUUID();
    const call = JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "echo", arguments: { message: "as B" } } });
    const as = (key: string | undefined, id: string, method: string) =>
      fetch(s.url, {
        method,
        headers: { ...MCP_HEADERS, "mcp-protocol-version": "2025-06-18", "mcp-session-id": id, ...(key ? bearer(key) : {}) },
        body: method === "POST" ? call : undefined,
      }).then(answer);
    for (const method of ["POST", "GET", "DELETE"]) {
      expect(await as(KEY_B, stolen, method)).toEqual(await as(KEY_B, madeUp, method));
      expect(await as(undefined, stolen, method)).toEqual(await as(undefined, madeUp, method));
    }
    expect((await as(KEY_B, stolen, "POST")).status).toBe(404);
    // B's DELETE ended nothing: A's session still answers.
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "still mine" } }))).toBe("Echo: still mine");
    await client.close();
  });
});

describe("(c) sessions are capped per key and in total", () => {
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary({
      env: {
        TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A, KEY_B]),
        TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS_PER_KEY: "3",
        TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS: "5",
        TELEMETRYFLOW_MCP_LOGGING__LEVEL: "warn",
      },
    });
  });
  afterAll(() => s.stop());

  test("a key past its cap gets 429, the server past its total 503, and an ended session frees its place", async () => {
    const a = [];
    for (let i = 0; i < 3; i++) a.push(await openSession(s.url, bearer(KEY_A)));
    expect(a.map((x) => x.status)).toEqual([200, 200, 200]);
    expect((await openSession(s.url, bearer(KEY_A))).status).toBe(429);
    expect((await openSession(s.url, bearer(KEY_B))).status).toBe(200);
    expect((await openSession(s.url, bearer(KEY_B))).status).toBe(200);
    expect((await openSession(s.url, bearer(KEY_B))).status).toBe(503);
    expect((await fetch(s.url, { method: "DELETE", headers: a[0]!.headers })).status).toBe(200);
    expect((await openSession(s.url, bearer(KEY_A))).status).toBe(200);
  });

  test("a flood of never-closed sessions is refused past the cap and the server keeps answering", async () => {
    const statuses = await Promise.all(Array.from({ length: 200 }, () => openSession(s.url, bearer(KEY_B)).then((x) => x.status)));
    expect(statuses.filter((x) => x !== 429 && x !== 503)).toEqual([]);
    expect((await fetch(`${s.origin}/healthz`)).status).toBe(200);
  }, 20_000);
});

describe("(d) without keys, requests are limited per peer address, whatever they claim", () => {
  test("a made-up bearer key or X-Forwarded-For per request does not buy a fresh bucket", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "5" } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const forged = { Authorization: `Bearer ${crypto.randomUUID()}`, "X-Forwarded-For": `203.0.113.${i}` };
        statuses.push((await fetch(s.url, { headers: forged })).status);
      }
      expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
      expect(statuses.slice(5)).toEqual(Array(7).fill(429));
    } finally {
      await s.stop();
    }
  }, 20_000);
});

describe("(e) guessing keys is throttled per peer", () => {
  test("after http.max_auth_failures wrong keys the peer gets 429 with Retry-After, even with a right key", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A]), TELEMETRYFLOW_MCP_HTTP__MAX_AUTH_FAILURES: "10" } });
    try {
      const statuses: number[] = [];
      let retryAfter = "";
      for (let i = 0; i < 15; i++) {
        const r = await fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, ...bearer(`guess-${i}-0123456789abcdef`) }, body: initializeBody() });
        statuses.push(r.status);
        retryAfter = r.headers.get("retry-after") ?? "";
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual(Array(5).fill(429));
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect((await fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, ...bearer(KEY_A) }, body: initializeBody() })).status).toBe(429);
    } finally {
      await s.stop();
    }
  }, 20_000);
});

/** Runs `serve` and waits up to `ms` for it to exit; a server that keeps running is killed and reported as null. */
async function exitWithin(args: string[], env: Record<string, string>, ms = 10_000): Promise<{ code: number | null; stderr: string }> {
  const dir = tempDir("tfo-http-keys-");
  const proc = Bun.spawn([await binary(), "serve", "--transport", "http", "--port", "0", ...args], { cwd: dir.path, env: cleanEnv(env), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(proc.stderr).text();
  const exited = await until(() => proc.exitCode !== null, ms, 20);
  if (!exited) proc.kill("SIGKILL");
  await proc.exited;
  dir.cleanup();
  return { code: exited ? proc.exitCode : null, stderr: await stderr };
}

describe("(f) empty or short keys are refused at start-up", () => {
  test.each([
    ['[""]', ["--host", "0.0.0.0"], "http.api_keys.0 (empty)"],
    ['["short-key"]', [], "http.api_keys.0 (9 characters)"],
  ])("http.api_keys %s %p", async (keys, args, named) => {
    const r = await exitWithin(args, { TELEMETRYFLOW_MCP_HTTP__API_KEYS: keys });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(named);
    expect(r.stderr).toContain("at least 16 characters");
    expect(r.stderr).not.toContain("short-key");
  }, 15_000);
});

describe("(g) a body that trickles in is timed out", () => {
  test("twenty connections sending a byte every 300 ms all get 408 and are closed within http.body_timeout", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__BODY_TIMEOUT: "1" } });
    try {
      const head = [`POST /mcp HTTP/1.1`, `Host: 127.0.0.1:${s.port}`, `Content-Type: application/json`, `Accept: application/json, text/event-stream`, `Content-Length: 100`].join("\r\n");
      const drips = await Promise.all(Array.from({ length: 20 }, () => rawRequest(s.port, head, { body: Array(100).fill(" "), everyMs: 300, timeoutMs: 6000 })));
      for (const d of drips) {
        expect(d.closed).toBe(true);
        expect(d.response).toStartWith("HTTP/1.1 408");
      }
    } finally {
      await s.stop();
    }
  }, 20_000);
});

describe("(h) request bodies are bounded, each and all together", () => {
  test("eight concurrent 60 MiB bodies are refused without being held", async () => {
    const s = await serveHttpBinary();
    try {
      await fetch(`${s.origin}/healthz`);
      const before = s.rssMb();
      let peak = before;
      const sample = setInterval(() => {
        peak = Math.max(peak, s.rssMb());
      }, 20);
      const big = new Uint8Array(60 * 1024 * 1024).fill(32);
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(s.url, { method: "POST", headers: MCP_HEADERS, body: big }).then(
            (r) => r.status,
            () => "connection closed",
          ),
        ),
      );
      clearInterval(sample);
      expect(peak - before).toBeLessThan(100);
      for (const r of results) expect([413, "connection closed"]).toContain(r);
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("past the bytes all bodies may hold at once (4 × http.max_body_bytes), more bodies get 503", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__MAX_BODY_BYTES: "65536", TELEMETRYFLOW_MCP_HTTP__BODY_TIMEOUT: "2" } });
    try {
      // Chunked bodies of unknown length: each holds a whole max_body_bytes until it ends.
      const head = [`POST /mcp HTTP/1.1`, `Host: 127.0.0.1:${s.port}`, `Content-Type: application/json`, `Accept: application/json, text/event-stream`, "Transfer-Encoding: chunked"].join("\r\n");
      const held = await Promise.all(Array.from({ length: 8 }, () => rawRequest(s.port, head, { body: ["1\r\n \r\n"], timeoutMs: 6000 })));
      const statuses = held.map((h) => h.response.slice(9, 12)).sort();
      expect(statuses).toEqual(["408", "408", "408", "408", "503", "503", "503", "503"]);
    } finally {
      await s.stop();
    }
  }, 20_000);
});
