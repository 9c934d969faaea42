// Limits shared through a real Redis (TFO_TEST_REDIS_URL): the token-bucket script (burst,
// refill on Redis's clock, Retry-After, expiry of idle buckets), buckets and counts seen by
// two connections as by two replicas, a dead replica's counts dropped after its liveness TTL,
// and admission (rates, failed-auth throttle) shared by two servers' admission functions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { defaults } from "../src/config/schema.ts";
import type { Logger } from "../src/log.ts";
import { admission } from "../src/server/http-admission.ts";
import { keyDirectory } from "../src/server/http-keys.ts";
import { callCounts, tokenBuckets } from "../src/server/http-limits.ts";
import { sharedBuckets, sharedCounts } from "../src/shared/redis-limits.ts";
import { connectRedis, type SharedRedis } from "../src/shared/redis.ts";
import { memoryStore } from "../src/store/memory.ts";
import { until } from "./helpers/wait.ts";

const url = process.env.TFO_TEST_REDIS_URL;
if (!url) console.log("skipped: shared limits in Redis, TFO_TEST_REDIS_URL unset (scripts/services.sh start DIR)");
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
// Keys of this run only: runs in parallel do not meet, and what is left is found and removed.
const prefix = `tfo-test:${process.pid}:${crypto.randomUUID().slice(0, 8)}:`;

const connected: SharedRedis[] = [];
async function connect(): Promise<SharedRedis> {
  const r = await connectRedis({ url: url!, log: quiet, prefix });
  if (!r.ok) throw new Error(r.error);
  connected.push(r.redis);
  return r.redis;
}
let a: SharedRedis;
let b: SharedRedis;

beforeAll(async () => {
  if (!url) return;
  a = await connect();
  b = await connect();
});
afterAll(async () => {
  if (!url) return;
  let cursor = "0";
  do {
    const [at, keys] = (await a.send("SCAN", [cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [string, string[]];
    if (keys.length) await a.send("DEL", keys);
    cursor = at;
  } while (cursor !== "0");
  for (const r of connected) r.close();
});

const ask = (key: string, perMinute: number, take = true) => ({ key, perMinute, take });

describe.skipIf(!url)("the token-bucket script", () => {
  test("a burst of perMinute, then a refusal with the Retry-After of the local bucket", async () => {
    const buckets = sharedBuckets(a);
    const local = tokenBuckets(2, () => 0);
    for (let i = 0; i < 2; i++) {
      expect(await buckets.take([ask("burst", 2)])).toEqual({ ok: true });
      expect(local.take("x").ok).toBe(true);
    }
    const refused = await buckets.take([ask("burst", 2)]);
    // 2 a minute: one token every 30 s, the same answer as the local bucket.
    expect(refused).toEqual({ ok: false, index: 0, retryAfterSeconds: 30 });
    expect(local.take("x")).toEqual({ ok: false, retryAfterSeconds: 30 });
  });

  test("tokens come back with Redis's clock: at 120 a minute, one every 500 ms", async () => {
    const buckets = sharedBuckets(a);
    const all = await Promise.all(Array.from({ length: 121 }, () => buckets.take([ask("refill", 120)])));
    expect(all.filter((v) => v.ok).length).toBe(120);
    expect(all[120]).toEqual({ ok: false, index: 0, retryAfterSeconds: 1 });
    const started = performance.now();
    expect(await until(async () => (await buckets.take([ask("refill", 120)])).ok, 3000, 50)).toBe(true);
    // Not at once: the refused take left less than one token, and one takes 500 ms to come back.
    expect(performance.now() - started).toBeGreaterThan(100);
  });

  test("a bucket is shared by two connections, as by two replicas", async () => {
    const [ba, bb] = [sharedBuckets(a), sharedBuckets(b)];
    expect((await ba.take([ask("shared", 3)])).ok).toBe(true);
    expect((await bb.take([ask("shared", 3)])).ok).toBe(true);
    expect((await ba.take([ask("shared", 3)])).ok).toBe(true);
    expect((await bb.take([ask("shared", 3)])).ok).toBe(false);
  });

  test("all or nothing: a check that refuses takes nothing from the other buckets; a check alone takes nothing", async () => {
    const buckets = sharedBuckets(a);
    expect((await buckets.take([ask("empty", 1)])).ok).toBe(true);
    const refused = await buckets.take([ask("full", 5), ask("empty", 1, false)]);
    expect(refused.ok || refused.index).toBe(1);
    for (let i = 0; i < 5; i++) expect((await buckets.take([ask("full", 5)])).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await buckets.take([ask("looked-at", 1, false)])).ok).toBe(true);
    // A limit of 0 is no limit, and asks Redis nothing.
    expect(await buckets.take([ask("none", 0)])).toEqual({ ok: true });
    expect(await a.send("EXISTS", [`${prefix}bucket:none`])).toBe(0);
  });

  test("an idle bucket expires once it would be full again", async () => {
    const buckets = sharedBuckets(a);
    // 6000 a minute refills one token in 10 ms: the key goes about a second later.
    await buckets.take([ask("idle", 6000)]);
    const ttl = (await a.send("PTTL", [`${prefix}bucket:idle`])) as number;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1010);
    expect(await until(async () => (await a.send("EXISTS", [`${prefix}bucket:idle`])) === 0, 3000, 50)).toBe(true);
  });

  test("a script Redis forgot (SCRIPT FLUSH) is sent again with EVAL", async () => {
    const buckets = sharedBuckets(a);
    await a.send("SCRIPT", ["FLUSH"]);
    expect((await buckets.take([ask("flushed", 5)])).ok).toBe(true);
  });
});

describe.skipIf(!url)("counts per principal across replicas", () => {
  const replicaOf = (redis: SharedRedis, id: string, max: number, livenessMs = 15_000) => {
    const local = callCounts(max, (p) => shared.lowered(p));
    const shared = sharedCounts(redis, { kind: "calls", replica: id, local: { count: local.of, principals: local.principals }, livenessMs });
    // What http.ts does: this replica's count first, then the sum over all.
    const begin = async (principal: string, n: number) => {
      if (!local.begin(principal, n)) return false;
      const all = await shared.admit(principal, local.of(principal), max);
      if (!all.ok) local.end(principal, n);
      return all.ok;
    };
    return { local, shared, begin };
  };

  test("two replicas share one cap, all or nothing per batch, and an end on one frees a place for the other", async () => {
    const r1 = replicaOf(a, "r1", 4);
    const r2 = replicaOf(b, "r2", 4);
    await Promise.all([r1.shared.heartbeat(), r2.shared.heartbeat()]);
    expect(await r1.begin("alice", 3)).toBe(true);
    // A batch of 2 would make 5: refused whole, and nothing of it stays counted.
    expect(await r2.begin("alice", 2)).toBe(false);
    expect(r2.local.of("alice")).toBe(0);
    expect(await r2.begin("alice", 1)).toBe(true);
    expect(await r2.shared.total("alice")).toBe(4);
    expect(await r1.begin("alice", 1)).toBe(false);
    r2.local.end("alice");
    expect(await until(async () => (await r1.shared.total("alice")) === 3, 2000)).toBe(true);
    expect(await r1.begin("alice", 1)).toBe(true);
    // Another principal counts on its own.
    expect(await r2.begin("bob", 4)).toBe(true);
    await r1.shared.leave();
    await r2.shared.leave();
  });

  test("a replica that dies stops counting once its liveness key expires", async () => {
    const dead = replicaOf(a, "dead", 3, 400);
    const alive = replicaOf(b, "alive", 3, 400);
    expect(await dead.begin("carol", 2)).toBe(true);
    expect(await alive.begin("carol", 1)).toBe(true);
    // `alive` beats (and so keeps the hash with both fields); `dead` never beats again, nor says goodbye.
    const beating = setInterval(() => void alive.shared.heartbeat(), 100);
    try {
      expect(await alive.begin("carol", 1)).toBe(false);
      const started = performance.now();
      expect(await until(() => alive.begin("carol", 1), 3000, 50)).toBe(true);
      expect(performance.now() - started).toBeGreaterThan(200);
      // Its field went with it.
      expect(await a.send("HEXISTS", [`${prefix}calls:carol`, "dead"])).toBe(0);
      expect(await a.send("HGET", [`${prefix}calls:carol`, "alive"])).toBe("2");
    } finally {
      clearInterval(beating);
    }
  });

  test("a heartbeat writes this replica's counts again (after Redis lost them)", async () => {
    const r1 = replicaOf(a, "beat", 3);
    expect(await r1.begin("dave", 2)).toBe(true);
    await a.send("DEL", [`${prefix}calls:dave`]);
    const other = replicaOf(b, "other", 3);
    expect(await other.begin("dave", 2)).toBe(true);
    other.local.end("dave", 2);
    await r1.shared.heartbeat();
    expect(await other.begin("dave", 2)).toBe(false);
    await r1.shared.leave();
    await other.shared.leave();
  });
});

describe.skipIf(!url)("admission on two replicas sharing Redis", () => {
  const at = (key?: string) => new Request("http://127.0.0.1:9/mcp", { headers: { host: "127.0.0.1:9", ...(key ? { authorization: `Bearer ${key}` } : {}) } });
  const key = `shared-key-${crypto.randomUUID()}`;
  const replica = (redis: SharedRedis, http: Partial<typeof defaults.http>) =>
    admission({ ...defaults.http, api_keys: [key], ...http }, "127.0.0.1", keyDirectory(async () => memoryStore(), quiet), quiet, sharedBuckets(redis));

  test("a rate spent on one replica is refused on the other with Retry-After", async () => {
    const [one, two] = [replica(a, { rate_limit: 3 }), replica(b, { rate_limit: 3 })];
    for (const admit of [one, two, one]) expect((await admit(at(key), "10.0.0.1")).ok).toBe(true);
    const refused = await two(at(key), "10.0.0.1");
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.response.status).toBe(429);
    expect(Number(refused.response.headers.get("retry-after"))).toBe(20);
    expect(await refused.response.text()).toContain("Rate limit of 3 requests per minute");
  });

  test("wrong keys guessed on one replica throttle the peer on the other, even with the right key", async () => {
    const peer = `10.9.${Math.floor(Math.random() * 250)}.1`;
    const [one, two] = [replica(a, { max_auth_failures: 2 }), replica(b, { max_auth_failures: 2 })];
    expect(((await one(at("tfo_wrong-guess-1"), peer)) as { response: Response }).response.status).toBe(401);
    expect(((await two(at("tfo_wrong-guess-2"), peer)) as { response: Response }).response.status).toBe(401);
    // Each replica saw only one guess: locally neither would throttle yet.
    const third = await one(at("tfo_wrong-guess-3"), peer);
    expect(!third.ok && third.response.status).toBe(429);
    const right = await two(at(key), peer);
    expect(!right.ok && right.response.status).toBe(429);
    expect(!right.ok && (await right.response.text())).toContain("Too many failed authentications");
  });
});
