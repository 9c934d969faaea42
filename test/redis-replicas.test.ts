// Two replicas of the compiled binary (`serve --transport http` on two ports) sharing one
// Redis (TFO_TEST_REDIS_URL) and one store: a key's rate limit spent on one is refused on the
// other with Retry-After, a key's session cap counts the sessions of both, a replica killed
// without goodbye stops counting after its liveness TTL, and a Redis that cannot be reached
// at start-up stops `serve` with the URL, password masked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RedisClient } from "bun";
import { LIVENESS_MS } from "../src/shared/redis-limits.ts";
import { cleanEnv, runBinary } from "./helpers/binary.ts";
import { type HttpBinary, MCP_HEADERS, openSession, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const url = process.env.TFO_TEST_REDIS_URL;
if (!url) console.log("skipped: replicas sharing Redis, TFO_TEST_REDIS_URL unset (scripts/services.sh start DIR)");
const E2E_MS = 60_000;

describe.skipIf(!url)("two replicas sharing Redis", () => {
  const dir = tempDir("tfo-redis-replicas-");
  const db = `sqlite:${join(dir.path, "store.db")}`;
  // Names of this run only: limits and counts are kept per key name in Redis.
  const run = crypto.randomUUID().slice(0, 8);
  const names = { slow: `slow-${run}`, few: `few-${run}`, busy: `busy-${run}` };
  const keys: Record<string, string> = {};
  const env = {
    TELEMETRYFLOW_MCP_STORAGE__URL: db,
    TELEMETRYFLOW_MCP_CACHE__BACKEND: "redis",
    TELEMETRYFLOW_MCP_CACHE__REDIS_URL: url ?? "",
    TELEMETRYFLOW_MCP_HTTP__MAX_CONCURRENT_CALLS_PER_KEY: "1",
  };
  let a: HttpBinary;
  let b: HttpBinary;
  let redis: RedisClient;

  const addKey = async (name: string, ...args: string[]) => {
    const r = await runBinary(["keys", "add", name, ...args], { env: cleanEnv(env), cwd: dir.path });
    if (r.code !== 0) throw new Error(r.stderr);
    return /tfo_[\w-]{43}/.exec(r.stdout)![0];
  };
  const bearer = (name: string) => ({ authorization: `Bearer ${keys[name]}` });

  beforeAll(async () => {
    keys.slow = await addKey(names.slow, "--rate-limit", "5/min");
    keys.few = await addKey(names.few, "--max-sessions", "1");
    keys.busy = await addKey(names.busy);
    redis = new RedisClient(url);
    [a, b] = await Promise.all([serveHttpBinary({ env, args: ["--root", dir.path] }), serveHttpBinary({ env, args: ["--root", dir.path] })]);
  }, E2E_MS);
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    redis?.close();
    dir.cleanup();
  });

  test("each replica says it shares its limits through Redis", async () => {
    for (const s of [a, b]) {
      const ready = (await (await fetch(`${s.origin}/readyz`)).json()) as { status: string; redis: string };
      expect(ready).toEqual({ status: "ready", redis: "connected: limits shared across replicas" });
      // Its liveness key, named after its port (both run on this host).
      expect(s.stderr()).toMatch(new RegExp(`"replica":"[^"]+:${s.port}"`));
    }
  });

  test(
    "a rate limit spent on replica A is refused on replica B with Retry-After",
    async () => {
      // Any request to /mcp is admitted (and counted) before it is looked at.
      const poke = (s: HttpBinary) => fetch(s.url, { method: "POST", headers: { ...MCP_HEADERS, ...bearer("slow") }, body: "{}" });
      for (let i = 0; i < 5; i++) expect((await poke(a)).status).toBe(400);
      const refused = await poke(b);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(11);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(`Rate limit of 5 requests per minute reached (API key ${names.slow}'s --rate-limit)`);
      expect((await poke(a)).status).toBe(429);
    },
    E2E_MS,
  );

  test(
    "a call in flight on replica A counts against the key's http.max_concurrent_calls_per_key on replica B",
    async () => {
      const [sa, sb] = await Promise.all([openSession(a.url, bearer("busy")), openSession(b.url, bearer("busy"))]);
      const call = (id: number, name: string, args: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
      const echoOnB = async () => {
        const r = await fetch(b.url, { method: "POST", headers: sb.headers, body: call(Math.floor(Math.random() * 1e9), "echo", { message: "hi" }) });
        return { status: r.status, text: await r.text() };
      };
      const slow = fetch(a.url, { method: "POST", headers: sa.headers, body: call(2, "execute_command", { command: "sleep 2; echo done" }) }).then((r) => r.text());
      // Admitted on A: its count is in Redis under A's replica id.
      const counted = async () => Object.entries((await redis.send("HGETALL", [`tfo-mcp:calls:${names.busy}`])) as Record<string, string>).some(([id, n]) => id.endsWith(`:${a.port}`) && n === "1");
      expect(await until(counted, 5000, 20)).toBe(true);
      const refused = await echoOnB();
      expect(refused.status).toBe(429);
      expect(refused.text).toContain(`${names.busy} already has 1 calls in flight across replicas (http.max_concurrent_calls_per_key: 1)`);
      expect(await slow).toContain("done");
      // The end of the call reaches Redis at once, not at the next heartbeat (5 s).
      expect(await until(async () => (await echoOnB()).status === 200, 2000, 20)).toBe(true);
    },
    E2E_MS,
  );

  test(
    "a key's session cap counts both replicas' sessions; a killed replica's stop counting after its liveness TTL",
    async () => {
      const onA = await openSession(a.url, bearer("few"));
      expect(onA.status).toBe(200);
      const onB = await fetch(b.url, {
        method: "POST",
        headers: { ...MCP_HEADERS, ...bearer("few") },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "b", version: "1" } } }),
      });
      expect(onB.status).toBe(429);
      expect(((await onB.json()) as { error: { message: string } }).error.message).toContain(`${names.few} already has 1 open sessions across replicas (API key ${names.few}'s --max-sessions: 1)`);
      // A dies without a word: its session stays in Redis until its liveness key expires.
      a.proc.kill("SIGKILL");
      await a.proc.exited;
      const killed = performance.now();
      expect(await until(async () => (await openSession(b.url, bearer("few"))).status === 200, LIVENESS_MS + 10_000, 250)).toBe(true);
      expect(performance.now() - killed).toBeGreaterThan(LIVENESS_MS - 5_500);
    },
    E2E_MS,
  );
});

describe("a Redis that cannot be reached at start-up", () => {
  test(
    "stops serve with the URL, password masked",
    async () => {
      const dir = tempDir("tfo-redis-nostart-");
      const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const port = probe.port;
      probe.stop(true);
      const r = await runBinary(["serve", "--transport", "http", "--port", "0", "--root", dir.path], {
        cwd: dir.path,
        env: cleanEnv({ TELEMETRYFLOW_MCP_STORAGE__URL: "memory:", TELEMETRYFLOW_MCP_CACHE__BACKEND: "redis", TELEMETRYFLOW_MCP_CACHE__REDIS_URL: `redis://:pa55-word-here@127.0.0.1:${port}` }),
      });
      dir.cleanup();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cache.backend is redis, but Redis at redis://:********@127.0.0.1:${port} did not answer`);
      expect(r.stderr).not.toContain("pa55-word-here");
    },
    E2E_MS,
  );
});
