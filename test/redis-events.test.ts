// A session's resumability events in a real Redis (TFO_TEST_REDIS_URL): the cases of the
// in-memory store (http-resume.test.ts) against the Redis one, its TTL and deletion with the
// session, a replay refused when Redis lost events, and a cut stream resumed end to end
// through an in-process http server whose event stores are in Redis.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { defaults } from "../src/config/schema.ts";
import type { Logger } from "../src/log.ts";
import { serveHttp } from "../src/server/http.ts";
import { redisSessionEvents } from "../src/shared/redis-events.ts";
import { connectRedis, type SharedRedis } from "../src/shared/redis.ts";
import { workspaceFor } from "../src/server/serve.ts";
import { openSession } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const url = process.env.TFO_TEST_REDIS_URL;
if (!url) console.log("skipped: session events in Redis, TFO_TEST_REDIS_URL unset (scripts/services.sh start DIR)");
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const prefix = `tfo-test:${process.pid}:${crypto.randomUUID().slice(0, 8)}:`;
let redis: SharedRedis;

beforeAll(async () => {
  if (!url) return;
  const r = await connectRedis({ url, log: quiet, prefix });
  if (!r.ok) throw new Error(r.error);
  redis = r.redis;
});
afterAll(async () => {
  if (!url) return;
  let cursor = "0";
  do {
    const [at, keys] = (await redis.send("SCAN", [cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [string, string[]];
    if (keys.length) await redis.send("DEL", keys);
    cursor = at;
  } while (cursor !== "0");
  redis.close();
});

const note = (n: number) => ({ jsonrpc: "2.0" as const, method: "notifications/progress", params: { progressToken: 1, progress: n } });
type Store = ReturnType<typeof redisSessionEvents>;
const replayed = async (store: Store, after: string) => {
  const out: number[] = [];
  await store.replayEventsAfter(after, { send: async (_id, m) => void out.push((m as ReturnType<typeof note>).params.progress) });
  return out;
};
const keyOf = (id: string) => `${prefix}events:${id}`;

describe.skipIf(!url)("a session's event store in Redis", () => {
  test("keeps the last maxEvents: a resume from before them is refused, one within them gets every later event of its stream", async () => {
    const id = crypto.randomUUID();
    const store = redisSessionEvents(redis, { ttlMs: 60_000, id, maxEvents: 3, maxBytes: 1 << 20 });
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await store.storeEvent(n % 2 === 0 ? "a" : "b", note(n)));
    expect(store.size).toBe(3);
    expect(store.canResume(ids[0]!)).toBe(false);
    expect(await store.getStreamIdForEventId!(ids[0]!)).toBeUndefined();
    // ids[1] itself is gone, but everything after it is kept.
    expect(store.canResume(ids[1]!)).toBe(true);
    expect(await replayed(store, ids[2]!)).toEqual([4]);
    expect(await replayed(store, ids[1]!)).toEqual([3]);
    // Redis holds what is kept, no more.
    expect(await redis.send("LLEN", [keyOf(id)])).toBe(3);
  });

  test("keeps at most maxBytes: the oldest go first, and an event larger than the whole budget breaks resumes across it", async () => {
    const size = JSON.stringify(note(0)).length;
    const id = crypto.randomUUID();
    const store = redisSessionEvents(redis, { ttlMs: 60_000, id, maxEvents: 1000, maxBytes: size * 2 });
    const ids = [];
    for (let n = 0; n < 4; n++) ids.push(await store.storeEvent("a", note(n)));
    expect(store.size).toBe(2);
    expect(store.bytes).toBeLessThanOrEqual(size * 2);
    expect(await replayed(store, ids[1]!)).toEqual([2, 3]);
    const huge = await store.storeEvent("a", { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x".repeat(size * 3) } });
    expect(store.canResume(ids[3]!)).toBe(false);
    expect(store.canResume(huge)).toBe(true);
    expect(await redis.send("LLEN", [keyOf(id)])).toBe(0);
  });

  test("ids of another stream, made up, or not yet handed out are not resumable; priming events are not resent", async () => {
    const store = redisSessionEvents(redis, { ttlMs: 60_000 });
    const prime = await store.storeEvent("s1", {} as ReturnType<typeof note>);
    const first = await store.storeEvent("s1", note(1));
    await store.storeEvent("s2", note(2));
    await store.storeEvent("s1", note(3));
    expect(await replayed(store, prime)).toEqual([1, 3]);
    expect(store.canResume("s2.1")).toBe(false);
    expect(store.canResume("s1.99")).toBe(false);
    expect(store.canResume("nonsense")).toBe(false);
    expect(await replayed(store, first)).toEqual([3]);
  });

  test("the list expires with the session's idle timeout and goes when the session ends", async () => {
    const id = crypto.randomUUID();
    const store = redisSessionEvents(redis, { ttlMs: 60_000, id });
    await store.storeEvent("s", note(1));
    const ttl = (await redis.send("PTTL", [keyOf(id)])) as number;
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    store.dispose!();
    expect(await until(async () => (await redis.send("EXISTS", [keyOf(id)])) === 0, 2000)).toBe(true);
  });

  test("events Redis lost behind the store's back are not replayed with a hole: the resume fails and later ones are refused", async () => {
    const id = crypto.randomUUID();
    const store = redisSessionEvents(redis, { ttlMs: 60_000, id });
    const from = await store.storeEvent("s", note(1));
    await store.storeEvent("s", note(2));
    await redis.send("DEL", [keyOf(id)]);
    await expect(replayed(store, from)).rejects.toThrow("no longer in Redis");
    expect(store.canResume(from)).toBe(false);
    const later = await store.storeEvent("s", note(3));
    await store.storeEvent("s", note(4));
    expect(await replayed(store, later)).toEqual([4]);
  });
});

describe.skipIf(!url)("a cut stream resumes through an http server whose event stores are in Redis", () => {
  test("progress sent while the client was away arrives on the resumed stream", async () => {
    const dir = tempDir("tfo-redis-resume-");
    const config = {
      ...defaults,
      cache: { ...defaults.cache, backend: "redis" as const, redis_url: url! },
      server: { ...defaults.server, port: 0 },
      storage: { ...defaults.storage, url: "memory:" },
      workspace: { ...defaults.workspace, roots: [dir.path] },
    };
    const ws = await workspaceFor(config, dir.path);
    if (!ws.ok) throw new Error(ws.error);
    const workspace = ws.workspace;
    const server = await serveHttp(config, quiet, workspace);
    if ("error" in server) throw new Error(server.error);
    try {
      const { headers } = await openSession(server.url);
      const key = `tfo-mcp:events:${headers["mcp-session-id"]}`;
      const call = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "execute_command", arguments: { command: "sleep 2.2; echo finished" }, _meta: { progressToken: "p" } } });
      const abort = new AbortController();
      const res = await fetch(server.url, { method: "POST", headers, body: call, signal: abort.signal });
      const reader = res.body!.getReader();
      let text = "";
      while (!/"progress":1\b/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      const lastId = [...text.matchAll(/^id: (.+)$/gm)].at(-1)![1]!;
      abort.abort();
      // The session's events are in Redis, not in this process.
      expect(await redis.send("LLEN", [key])).toBeGreaterThanOrEqual(2);
      // Progress 2 is sent (and stored) while nobody listens.
      const stored = (await redis.send("LLEN", [key])) as number;
      expect(await until(async () => ((await redis.send("LLEN", [key])) as number) > stored, 5000, 20)).toBe(true);
      const resumed = await fetch(server.url, { headers: { ...headers, accept: "text/event-stream", "last-event-id": lastId } });
      expect(resumed.status).toBe(200);
      const rest = resumed.body!.getReader();
      let more = "";
      while (!more.includes("finished")) more += new TextDecoder().decode((await rest.read()).value);
      await rest.cancel();
      const progress = [...more.matchAll(/"progress":(\d+)/g)].map((m) => Number(m[1]));
      expect(progress[0]).toBe(2);
      expect(more).toContain('"id":7');
      // DELETE ends the session and its events with it.
      await (await fetch(server.url, { method: "DELETE", headers })).text();
      expect(await until(async () => (await redis.send("EXISTS", [key])) === 0, 3000)).toBe(true);
    } finally {
      await server.stop();
      dir.cleanup();
    }
  }, 30_000);
});
