// The http server as a service: health and readiness, idle sessions expiring, memory coming
// back, GET streams that open at once, limits keyed on the key or the real client, and a
// SIGTERM that lets calls in flight finish. End to end on the compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./helpers/binary.ts";
import { textOf } from "./helpers/client.ts";
import { connectHttp, type HttpBinary, initializeBody, MCP_HEADERS, openSession, rawRequest, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const KEY_A = "key-a-0123456789abcdef";
const KEY_B = "key-b-0123456789abcdef";
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

// The first build of the binary takes longer than a hook's default 5 s.
beforeAll(() => binary(), 120_000);

describe("/healthz and /readyz", () => {
  test("alive and ready with a reachable store, without a key", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A]) } });
    try {
      const health = await fetch(`${s.origin}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
      const ready = await fetch(`${s.origin}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: "ready" }]);
    } finally {
      await s.stop();
    }
  }, 20_000);

  test("alive but not ready when the store cannot be opened", async () => {
    const dir = tempDir("tfo-http-store-");
    const blocked = join(dir.path, "not-a-folder");
    writeFileSync(blocked, "a file where the database folder should be");
    const broken = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_STORAGE__URL: `sqlite:${join(blocked, "db.sqlite")}` } });
    try {
      expect((await fetch(`${broken.origin}/healthz`)).status).toBe(200);
      const ready = await fetch(`${broken.origin}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([503, { status: "unavailable", reason: "storage unreachable" }]);
    } finally {
      await broken.stop();
      dir.cleanup();
    }
  }, 20_000);
});

describe("GET streams", () => {
  test("the response headers arrive at once, before any event", async () => {
    const s = await serveHttpBinary();
    try {
      const { headers } = await openSession(s.url);
      const got = await Promise.race([
        fetch(s.url, { headers: { ...headers, accept: "text/event-stream" } }),
        new Promise<"no headers within 2 s">((resolve) => setTimeout(() => resolve("no headers within 2 s"), 2000)),
      ]);
      expect(got instanceof Response ? [got.status, got.headers.get("content-type")] : got).toEqual([200, "text/event-stream"]);
      if (got instanceof Response) await got.body?.cancel();
    } finally {
      await s.stop();
    }
  }, 20_000);
});

describe("idle sessions expire", () => {
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__SESSION_IDLE_TIMEOUT: "1", TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS_PER_KEY: "2" } });
  });
  afterAll(() => s.stop());

  test("an abandoned session ends after http.session_idle_timeout and frees its place; a client that listens or calls keeps its own", async () => {
    const { client } = await connectHttp(s.url);
    const abandoned = await openSession(s.url);
    expect(abandoned.status).toBe(200);
    expect((await openSession(s.url)).status).toBe(429);
    // A call longer than the idle timeout keeps its session while it runs.
    const long = await client.callTool({ name: "execute_command", arguments: { command: "sleep 2; echo finished" } });
    expect(JSON.parse(textOf(long)).stdout.trim()).toBe("finished");
    const ping = () => fetch(s.url, { method: "POST", headers: abandoned.headers, body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ping" }) }).then((r) => r.status);
    expect(await until(async () => (await ping()) === 404, 10_000, 100)).toBe(true);
    expect(s.stderr()).toContain("idle for http.session_idle_timeout");
    // The SDK client holds a GET stream open: listening is not idle.
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "still here" } }))).toBe("Echo: still here");
    expect((await openSession(s.url)).status).toBe(200);
    await client.close();
  }, 30_000);
});

describe("memory comes back", () => {
  test("1,000 sessions opened, used and closed leave RSS within 10 MB of where it started, within seconds", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_LOGGING__LEVEL: "warn" } });
    try {
      const cycle = async (n: number) => {
        for (let i = 0; i < n; i += 50) {
          const opened = await Promise.all(
            Array.from({ length: Math.min(50, n - i) }, async () => {
              const { headers } = await openSession(s.url);
              const call = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "hi" } } });
              await (await fetch(s.url, { method: "POST", headers, body: call })).text();
              return headers;
            }),
          );
          if (opened.length !== new Set(opened.map((h) => h["mcp-session-id"])).size) throw new Error("a session was not opened");
          await Promise.all(opened.map((headers) => fetch(s.url, { method: "DELETE", headers }).then((r) => r.text())));
        }
      };
      // Warm up first: JIT code and the allocator's first pages are not per-session memory.
      await cycle(200);
      let start = 0;
      await until(() => {
        const now = s.rssMb();
        const settled = Math.abs(now - start) < 0.5;
        start = now;
        return settled;
      }, 10_000, 1500);
      await cycle(1000);
      const peak = s.rssMb();
      let end = peak;
      // Left to itself, a quiet server gives the memory back only after 10–20 s.
      await until(() => (end = s.rssMb()) - start < 10, 6000, 250);
      console.error(`RSS for 1,000 sessions: ${start.toFixed(1)} MB before, ${peak.toFixed(1)} MB just after, ${end.toFixed(1)} MB once quiet`);
      expect(end - start).toBeLessThan(10);
    } finally {
      await s.stop();
    }
  }, 120_000);
});

describe("limits are keyed on who is asking", () => {
  test("each key has its own rate limit", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A, KEY_B]), TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "3" } });
    try {
      const status = (key: string) => fetch(s.url, { headers: bearer(key) }).then((r) => r.status);
      expect([await status(KEY_A), await status(KEY_A), await status(KEY_A), await status(KEY_A)]).toEqual([400, 400, 400, 429]);
      expect(await status(KEY_B)).toBe(400);
    } finally {
      await s.stop();
    }
  }, 20_000);

  test("behind http.trusted_proxies, X-Forwarded-For names the client, and the proxy's Host is accepted", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "2", TELEMETRYFLOW_MCP_HTTP__TRUSTED_PROXIES: '["127.0.0.1"]' } });
    try {
      const from = (client: string) => fetch(s.url, { headers: { "X-Forwarded-For": client } }).then((r) => r.status);
      expect([await from("203.0.113.7"), await from("203.0.113.7"), await from("203.0.113.7")]).toEqual([400, 400, 429]);
      expect(await from("203.0.113.8")).toBe(400);
      const proxied = await rawRequest(s.port, [`GET /mcp HTTP/1.1`, "Host: mcp.team.example", "X-Forwarded-For: 203.0.113.9", "Connection: close"].join("\r\n"));
      expect(proxied.response).toStartWith("HTTP/1.1 400");
    } finally {
      await s.stop();
    }
  }, 20_000);
});

describe("SIGTERM drains", () => {
  test("a call in flight gets its answer, new work is refused meanwhile, and the server exits 0", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY_A]) } });
    const { client } = await connectHttp(s.url, bearer(KEY_A));
    const marker = join(s.dir, "started");
    const call = client.callTool({ name: "execute_command", arguments: { command: "touch started; sleep 1.5; echo answered" } });
    expect(await until(() => existsSync(marker), 10_000, 20)).toBe(true);
    s.proc.kill("SIGTERM");
    expect(await until(async () => (await fetch(`${s.origin}/readyz`).then((r) => r.status, () => 0)) === 503, 5000, 20)).toBe(true);
    const late = await fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, ...bearer(KEY_A) }, body: initializeBody() });
    expect(late.status).toBe(503);
    expect(JSON.parse(textOf(await call)).stdout.trim()).toBe("answered");
    expect(await s.stop()).toBe(0);
  }, 30_000);

  test("calls still running at http.drain_timeout are ended and the server still exits 0", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__DRAIN_TIMEOUT: "1" } });
    const { client } = await connectHttp(s.url);
    const marker = join(s.dir, "started");
    const call = client.callTool({ name: "execute_command", arguments: { command: "touch started; sleep 30" } }).then(
      () => "answered",
      () => "ended",
    );
    expect(await until(() => existsSync(marker), 10_000, 20)).toBe(true);
    const t = performance.now();
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(s.stderr()).toContain("drain timeout");
    expect(await call).toBe("ended");
    await s.stop();
  }, 30_000);
});

describe("GET /metrics (telemetry.prometheus)", () => {
  test("serves upstream's metric names as Prometheus text, behind the same keys as /mcp; 404 when off", async () => {
    const KEY = "metrics-test-key-0123456789";
    const on = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_TELEMETRY__PROMETHEUS: "true", TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY]) } });
    try {
      const { client } = await connectHttp(on.url, { Authorization: `Bearer ${KEY}` }, "metrics");
      await client.callTool({ name: "echo", arguments: { message: "x" } });
      expect((await fetch(`${on.origin}/metrics`)).status).toBe(401);
      const res = await fetch(`${on.origin}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toMatch(/^mcp_tools_calls(_total)?\{[^}]*tool_name="echo"[^}]*\} 1$/m);
      await client.close();
    } finally {
      await on.stop();
    }
    const off = await serveHttpBinary();
    try {
      expect((await fetch(`${off.origin}/metrics`)).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
