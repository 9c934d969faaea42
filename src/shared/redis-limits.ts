// The http server's limits shared by every replica through Redis: token buckets (request
// rates, failed authentications) and counts per principal (calls in flight, open sessions).
// Each replica keeps its own local limits as well (http-limits.ts, http-sessions.ts): they
// decide alone while Redis is away, and they stay the truth about this replica's own counts,
// which Redis mirrors so that the others can add them up.
import { defineScript, type SharedRedis } from "./redis.ts";

// Buckets, all or nothing: every bucket must hold a token, then those with cost 1 give one.
// ARGV: per bucket, its size per minute and its cost (0: only look). Time is Redis's own, so
// replicas whose clocks disagree still agree on the refill; a bucket expires once it would be
// full again (a missing bucket is a full one), so idle ones vanish.
export const BUCKETS = defineScript(
  "buckets",
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[2 * i - 1])
  local perMs = cap / 60000
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local have = tonumber(b[1])
  local at = tonumber(b[2])
  if have == nil or at == nil then have = cap; at = now end
  have = math.min(cap, have + math.max(0, now - at) * perMs)
  if have < 1 then return {0, i, math.max(1, math.ceil((1 - have) / perMs / 1000))} end
  tokens[i] = have
end
for i, key in ipairs(KEYS) do
  if tonumber(ARGV[2 * i]) > 0 then
    local cap = tonumber(ARGV[2 * i - 1])
    local left = tokens[i] - 1
    redis.call('HSET', key, 'tokens', tostring(left), 'at', tostring(now))
    redis.call('PEXPIRE', key, math.ceil((cap - left) / (cap / 60000)) + 1000)
  end
end
return {1, 0, 0}`,
);

// A count per principal: a hash with one field per replica. KEYS[1] the hash; ARGV: this
// replica's id, its count if admitted, the cap, the prefix of liveness keys, the TTL of
// liveness and hashes. Fields of replicas whose liveness key has expired are dropped, not
// added. (The liveness keys are named from the fields: one Redis, not a cluster.)
export const COUNT_ADMIT = defineScript(
  "count-admit",
  `redis.call('SET', ARGV[4] .. ARGV[1], '1', 'PX', ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #fields, 2 do
  local id = fields[i]
  if id ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[4] .. id) == 1 then others = others + tonumber(fields[i + 1])
    else redis.call('HDEL', KEYS[1], id) end
  end
end
if others + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return {0, others} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, others}`,
);

// This replica's liveness, and its counts as they are now (0 deletes its field). KEYS[1] its
// liveness key, then one hash per principal; ARGV: id, TTL (ms), then one count per hash.
export const COUNT_WRITE = defineScript(
  "count-write",
  `redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
for i = 2, #KEYS do
  local n = tonumber(ARGV[i + 1])
  if n > 0 then
    redis.call('HSET', KEYS[i], ARGV[1], n)
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  else
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
return #KEYS - 1`,
);

export type BucketAsk = { key: string; perMinute: number; take: boolean };

/** `index`: which ask refused (0-based); its Retry-After says when it will hold a token. */
export type SharedVerdict = { ok: true } | { ok: false; index: number; retryAfterSeconds: number };

/** Token buckets in Redis with the semantics of http-limits.ts's tokenBuckets, shared by every replica. */
export function sharedBuckets(redis: SharedRedis) {
  return {
    get up() {
      return redis.up;
    },
    async take(asks: BucketAsk[]): Promise<SharedVerdict> {
      const live = asks.filter((a) => a.perMinute > 0);
      if (live.length === 0) return { ok: true };
      const reply = (await redis.run(
        BUCKETS,
        live.map((a) => `${redis.prefix}bucket:${a.key}`),
        live.flatMap((a) => [a.perMinute, a.take ? 1 : 0]),
      )) as [number, number, number];
      if (reply[0] === 1) return { ok: true };
      return { ok: false, index: asks.indexOf(live[reply[1] - 1]!), retryAfterSeconds: reply[2] };
    },
  };
}

export type SharedBuckets = ReturnType<typeof sharedBuckets>;

export const LIVENESS_MS = 15_000;
export const HEARTBEAT_MS = 5_000;
// A count that went down reaches Redis this much later, in one write with any others, unless
// an admit of the same principal (which writes the count as it is) goes first. Under load
// that saves a round trip per call; the others see a place freed up to this much late.
const LOWERED_DELAY_MS = 10;

/**
 * Counts per principal across replicas, for one kind of thing ("calls", "sessions"). The
 * replica's own count comes from `local` (its own bookkeeping, always right about itself);
 * Redis holds a copy per replica so that `admit` can add up the others'. A replica that dies
 * stops refreshing its liveness key, and its counts stop counting after `livenessMs`.
 */
export function sharedCounts(
  redis: SharedRedis,
  o: { kind: string; replica: string; local: { count(principal: string): number; principals(): Iterable<string> }; livenessMs?: number },
) {
  const { kind, replica } = o;
  const local = (principal: string) => o.local.count(principal);
  const livenessMs = o.livenessMs ?? LIVENESS_MS;
  const hash = (principal: string) => `${redis.prefix}${kind}:${principal}`;
  const live = `${redis.prefix}replica:`;
  // Principals whose count Redis may hold for this replica, or whose lower count it has not yet seen.
  const published = new Set<string>();
  const lowered = new Set<string>();
  let flushing = false;

  async function write(principals: string[]) {
    const counts = principals.map(local);
    await redis.run(COUNT_WRITE, [`${live}${replica}`, ...principals.map(hash)], [replica, livenessMs, ...counts]);
    principals.forEach((p, i) => {
      if (counts[i] === 0 && local(p) === 0) published.delete(p);
    });
  }

  return {
    /**
     * Whether `principal`'s count on this replica, already raised to `mine` locally, keeps the
     * sum over live replicas within `max`. Admitted: Redis records `mine` in the same step.
     */
    async admit(principal: string, mine: number, max: number): Promise<{ ok: true } | { ok: false; others: number }> {
      published.add(principal);
      lowered.delete(principal);
      const [ok, others] = (await redis.run(COUNT_ADMIT, [hash(principal)], [replica, mine, max, live, livenessMs])) as [number, number];
      return ok === 1 ? { ok: true } : { ok: false, others };
    },
    /** The local count went down: Redis learns it shortly, in one write with any others. */
    lowered(principal: string) {
      if (!published.has(principal)) return;
      lowered.add(principal);
      if (flushing) return;
      flushing = true;
      setTimeout(() => {
        flushing = false;
        const batch = [...lowered];
        lowered.clear();
        if (redis.up && batch.length) write(batch).catch(() => {});
      }, LOWERED_DELAY_MS);
    },
    /** Refreshes liveness and writes every count this replica holds: run every few seconds and when Redis returns. */
    async heartbeat() {
      lowered.clear();
      // Counts raised while Redis was away were never admitted there.
      for (const p of o.local.principals()) published.add(p);
      await write([...published]);
    },
    /** A replica stopping: its counts go at once, not after the liveness TTL. */
    async leave() {
      const mine = [...published];
      await redis.run(COUNT_WRITE, [`${live}${replica}`, ...mine.map(hash)], [replica, 1, ...mine.map(() => 0)]);
      published.clear();
    },
    /** The count of `principal` over every live replica. */
    async total(principal: string): Promise<number> {
      // A cap of -1 admits nothing: the script only adds up the others.
      const [, others] = (await redis.run(COUNT_ADMIT, [hash(principal)], [replica, 0, -1, live, livenessMs])) as [number, number];
      return others + local(principal);
    },
  };
}

export type SharedCounts = ReturnType<typeof sharedCounts>;

