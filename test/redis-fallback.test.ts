// Redis going away and coming back, with a redis-server of this test's own (the shared one
// must not be stopped): calls go on with each replica's local limits and one warning, the
// limits are shared again once it returns, a Redis that stops answering counts as away, and
// an unreachable Redis at start-up is an error naming the URL (password masked).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Subprocess } from "bun";
import { defaults } from "../src/config/schema.ts";
import type { Logger } from "../src/log.ts";
import { admission } from "../src/server/http-admission.ts";
import { serveHttp } from "../src/server/http.ts";
import { keyDirectory } from "../src/server/http-keys.ts";
import { workspaceFor } from "../src/server/serve.ts";
import { redisSessionEvents } from "../src/shared/redis-events.ts";
import { sharedBuckets } from "../src/shared/redis-limits.ts";
import { connectRedis, type SharedRedis } from "../src/shared/redis.ts";
import { memoryStore } from "../src/store/memory.ts";
import { openSession } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const REDIS_SERVER = "/usr/bin/redis-server";
const have = existsSync(REDIS_SERVER);
if (!have) console.log(`skipped: Redis outages, no ${REDIS_SERVER} to start a server of the test's own`);

const freePort = () => {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
};

let port = 0;
let server: Subprocess | undefined;
async function startRedis() {
  server = Bun.spawn([REDIS_SERVER, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
  const up = await until(async () => {
    const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log: quiet, connectTimeoutMs: 200 });
    if (c.ok) c.redis.close();
    return c.ok;
  }, 10_000, 50);
  if (!up) throw new Error(`redis-server did not start on port ${port}`);
}
async function stopRedis(signal: NodeJS.Signals = "SIGKILL") {
  server?.kill(signal);
  await server?.exited;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const note = (n: number) => ({ jsonrpc: "2.0" as const, method: "notifications/progress", params: { progressToken: 1, progress: n } });
const replayed = async (store: ReturnType<typeof redisSessionEvents>, after: string) => {
  const out: number[] = [];
  await store.replayEventsAfter(after, { send: async (_id, m) => void out.push((m as ReturnType<typeof note>).params.progress) });
  return out;
};
const recording = () => {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = {
    debug: (message, fields) => void lines.push({ level: "debug", message, fields }),
    info: (message, fields) => void lines.push({ level: "info", message, fields }),
    warn: (message, fields) => void lines.push({ level: "warn", message, fields }),
    error: (message, fields) => void lines.push({ level: "error", message, fields }),
  };
  return { log, lines, count: (level: string, text: string) => lines.filter((l) => l.level === level && l.message.includes(text)).length };
};

beforeAll(async () => {
  if (!have) return;
  port = freePort();
  await startRedis();
});
afterAll(() => stopRedis());

describe.skipIf(!have)("Redis away and back", () => {
  test(
    "limits go local with one warning while Redis is away, and shared again when it returns",
    async () => {
      const logs = [recording(), recording()];
      const connections: SharedRedis[] = [];
      for (const { log } of logs) {
        const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log, backoff: { firstMs: 50, maxMs: 200 } });
        if (!c.ok) throw new Error(c.error);
        connections.push(c.redis);
      }
      const [ra, rb] = connections as [SharedRedis, SharedRedis];
      const keys = ["outage-key-one-0123456789", "outage-key-two-0123456789"];
      const replica = (redis: SharedRedis, log: Logger) =>
        admission({ ...defaults.http, api_keys: keys, rate_limit: 4 }, "127.0.0.1", keyDirectory(async () => memoryStore(), quiet), log, sharedBuckets(redis));
      const [one, two] = [replica(ra, logs[0]!.log), replica(rb, logs[1]!.log)];
      const at = (key: string) => new Request("http://127.0.0.1:9/mcp", { headers: { host: "127.0.0.1:9", authorization: `Bearer ${key}` } });
      const admitted = async (admit: typeof one, key: string, n: number) => {
        let ok = 0;
        for (let i = 0; i < n; i++) if ((await admit(at(key), "127.0.0.1")).ok) ok++;
        return ok;
      };

      // Shared: 4 a minute between both replicas.
      expect(await admitted(one, keys[0]!, 2)).toBe(2);
      expect(await admitted(two, keys[0]!, 3)).toBe(2);

      await stopRedis();
      // Each replica now has its own 4 a minute (less what it spent itself), and says so once.
      expect(await admitted(one, keys[0]!, 10)).toBe(2);
      expect(await admitted(two, keys[0]!, 10)).toBe(2);
      expect(await admitted(one, keys[1]!, 10)).toBe(4);
      expect(await admitted(two, keys[1]!, 10)).toBe(4);
      expect(ra.up).toBe(false);
      for (const l of logs) expect(l.count("warn", "redis unreachable")).toBe(1);
      expect(ra.state()).toMatchObject({ status: "unreachable", url: `redis://127.0.0.1:${port}` });

      await startRedis();
      expect(await until(() => ra.up && rb.up, 10_000, 20)).toBe(true);
      for (const l of logs) {
        expect(l.count("warn", "redis unreachable")).toBe(1);
        expect(l.count("info", "redis reachable again")).toBe(1);
      }
      // A fresh key: shared between both again.
      const third = "outage-key-three-0123456789";
      const [one3, two3] = [
        admission({ ...defaults.http, api_keys: [third], rate_limit: 4 }, "127.0.0.1", keyDirectory(async () => memoryStore(), quiet), quiet, sharedBuckets(ra)),
        admission({ ...defaults.http, api_keys: [third], rate_limit: 4 }, "127.0.0.1", keyDirectory(async () => memoryStore(), quiet), quiet, sharedBuckets(rb)),
      ];
      expect(await admitted(one3, third, 3)).toBe(3);
      expect(await admitted(two3, third, 3)).toBe(1);
      for (const r of connections) r.close();
    },
    30_000,
  );

  test(
    "a Redis that stops answering counts as away after the command timeout, and is back when it answers again",
    async () => {
      const { log, count, lines } = recording();
      const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log, commandTimeoutMs: 200, connectTimeoutMs: 200, backoff: { firstMs: 50, maxMs: 100 } });
      if (!c.ok) throw new Error(c.error);
      const redis = c.redis;
      let returns = 0;
      redis.onReturn(() => returns++);
      const key = "hung-redis-key-0123456789";
      const admit = admission({ ...defaults.http, api_keys: [key], rate_limit: 4 }, "127.0.0.1", keyDirectory(async () => memoryStore(), quiet), quiet, sharedBuckets(redis));
      const request = new Request("http://127.0.0.1:9/mcp", { headers: { host: "127.0.0.1:9", authorization: `Bearer ${key}` } });
      server!.kill("SIGSTOP");
      try {
        // A request caught by the hang waits out the command timeout, then the local limit decides.
        const started = performance.now();
        expect((await admit(request, "127.0.0.1")).ok).toBe(true);
        expect(performance.now() - started).toBeGreaterThanOrEqual(190);
        expect(performance.now() - started).toBeLessThan(1000);
        expect(redis.up).toBe(false);
        expect(lines.find((l) => l.level === "warn")?.fields?.error).toContain("no answer within 200 ms");
        // While away, commands fail at once.
        const quick = performance.now();
        await expect(redis.send("PING", [])).rejects.toThrow("unreachable");
        expect(performance.now() - quick).toBeLessThan(50);
      } finally {
        server!.kill("SIGCONT");
      }
      expect(await until(() => redis.up, 10_000, 20)).toBe(true);
      expect(await redis.send("PING", [])).toBe("PONG");
      expect(returns).toBe(1);
      expect(count("warn", "redis unreachable")).toBe(1);
      redis.close();
    },
    30_000,
  );

  test(
    "events stored while Redis was away are a gap: resumes across them are refused, later ones work",
    async () => {
      const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log: quiet, backoff: { firstMs: 50, maxMs: 200 } });
      if (!c.ok) throw new Error(c.error);
      const redis = c.redis;
      const store = redisSessionEvents(redis, { ttlMs: 60_000 });
      const before = await store.storeEvent("s", note(1));
      await stopRedis();
      await expect(redis.send("PING", [])).rejects.toThrow();
      const during = await store.storeEvent("s", note(2));
      expect(store.canResume(before)).toBe(false);
      await startRedis();
      expect(await until(() => redis.up, 10_000, 20)).toBe(true);
      expect(store.canResume(before)).toBe(false);
      // Nothing was sent after `during`: a resume from it misses nothing.
      expect(store.canResume(during)).toBe(true);
      const after = await store.storeEvent("s", note(3));
      await store.storeEvent("s", note(4));
      expect(await replayed(store, after)).toEqual([4]);
      redis.close();
    },
    30_000,
  );

  test(
    "a Redis that came back may have come back empty: resumes from before the outage are refused, even with nothing stored during it",
    async () => {
      const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log: quiet, backoff: { firstMs: 50, maxMs: 200 } });
      if (!c.ok) throw new Error(c.error);
      const redis = c.redis;
      const store = redisSessionEvents(redis, { ttlMs: 60_000 });
      const before = await store.storeEvent("s", note(1));
      await store.storeEvent("s", note(2));
      expect(await replayed(store, before)).toEqual([2]);
      await stopRedis();
      await startRedis();
      expect(await until(() => redis.up, 10_000, 20)).toBe(true);
      expect(store.canResume(before)).toBe(false);
      redis.close();
    },
    30_000,
  );

  test(
    "an http server goes on answering calls while Redis is away, stays ready, and says so once",
    async () => {
      const dir = tempDir("tfo-redis-away-");
      const { log, count } = recording();
      const config = {
        ...defaults,
        cache: { ...defaults.cache, backend: "redis" as const, redis_url: `redis://127.0.0.1:${port}` },
        server: { ...defaults.server, port: 0 },
        storage: { ...defaults.storage, url: "memory:" },
        workspace: { ...defaults.workspace, roots: [dir.path] },
        http: { ...defaults.http, rate_limit: 1000 },
      };
      const ws = await workspaceFor(config, dir.path);
      if (!ws.ok) throw new Error(ws.error);
      const served = await serveHttp(config, log, ws.workspace);
      if ("error" in served) throw new Error(served.error);
      const readyz = served.url.replace("/mcp", "/readyz");
      try {
        const { headers } = await openSession(served.url);
        const echo = async (n: number) => {
          const r = await fetch(served.url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: n, method: "tools/call", params: { name: "echo", arguments: { message: `m${n}` } } }) });
          return r.status === 200 && (await r.text()).includes(`Echo: m${n}`);
        };
        expect(await echo(1)).toBe(true);
        await stopRedis();
        for (let n = 2; n < 12; n++) expect(await echo(n)).toBe(true);
        const away = await fetch(readyz);
        expect(away.status).toBe(200);
        expect(await away.json()).toEqual({ status: "ready", redis: "unreachable: this replica limits on its own until it returns" });
        expect(count("warn", "redis unreachable")).toBe(1);
        await startRedis();
        expect(await until(async () => ((await (await fetch(readyz)).json()) as { redis: string }).redis.startsWith("connected"), 10_000, 50)).toBe(true);
        expect(await echo(12)).toBe(true);
        expect(count("warn", "redis unreachable")).toBe(1);
      } finally {
        await served.stop();
        dir.cleanup();
      }
    },
    30_000,
  );

  test("a script Redis forgot (SCRIPT FLUSH) is sent again with EVAL", async () => {
    const c = await connectRedis({ url: `redis://127.0.0.1:${port}`, log: quiet });
    if (!c.ok) throw new Error(c.error);
    const buckets = sharedBuckets(c.redis);
    expect((await buckets.take([{ key: "flushed", perMinute: 5, take: true }])).ok).toBe(true);
    await c.redis.send("SCRIPT", ["FLUSH"]);
    expect((await buckets.take([{ key: "flushed", perMinute: 5, take: true }])).ok).toBe(true);
    expect(c.redis.up).toBe(true);
    c.redis.close();
  });
});

describe("Redis unreachable at start-up", () => {
  test("serve refuses to start, naming the URL with its password masked", async () => {
    const dir = tempDir("tfo-redis-down-");
    const closed = freePort();
    const config = {
      ...defaults,
      cache: { ...defaults.cache, backend: "redis" as const, redis_url: `redis://tfo:s3cret-pass@127.0.0.1:${closed}/0` },
      server: { ...defaults.server, port: 0 },
      storage: { ...defaults.storage, url: "memory:" },
      workspace: { ...defaults.workspace, roots: [dir.path] },
    };
    const ws = await workspaceFor(config, dir.path);
    if (!ws.ok) throw new Error(ws.error);
    const served = await serveHttp(config, quiet, ws.workspace);
    dir.cleanup();
    if (!("error" in served)) {
      await served.stop();
      throw new Error("served without Redis");
    }
    expect(served.error).toContain(`cache.backend is redis, but Redis at redis://tfo:********@127.0.0.1:${closed}/0 did not answer`);
    expect(served.error).toContain("cache.backend: memory");
    expect(served.error).not.toContain("s3cret-pass");
  });
});
