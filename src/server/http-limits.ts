// Limits the http server keeps per principal or per peer, and for itself: request rates,
// failed authentications, and the bytes of request bodies being read at once. Pure state
// machines with an injected clock; the server decides what each one is keyed on.

export type Verdict = { ok: true } | { ok: false; retryAfterSeconds: number };

const OK: Verdict = { ok: true };
// Enough for every client of a team; past it, full buckets are dropped first (they hold
// nothing), then the oldest, so a flood of new addresses cannot grow the map without bound.
const MAX_BUCKETS = 10_000;

/**
 * A token bucket per id: `perMinute` tokens as a burst, refilled evenly over a minute.
 * `take` spends one; `check` only looks; `refund` gives one back (a request this bucket let
 * through that a limit shared with other replicas refused). 0 per minute means no limit.
 */
export function tokenBuckets(perMinute: number, now: () => number = () => Date.now()) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  const refill = (b: { tokens: number; at: number }, t: number) => {
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
  };
  const refused = (b: { tokens: number }): Verdict => ({ ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) });
  function prune(t: number) {
    for (const [id, b] of buckets) {
      refill(b, t);
      if (b.tokens >= perMinute) buckets.delete(id);
    }
    let over = buckets.size - MAX_BUCKETS * 0.9;
    for (const id of buckets.keys()) {
      if (over-- <= 0) break;
      buckets.delete(id);
    }
  }
  return {
    take(id: string): Verdict {
      if (perMinute <= 0) return OK;
      const t = now();
      let b = buckets.get(id);
      if (b) refill(b, t);
      else {
        if (buckets.size >= MAX_BUCKETS) prune(t);
        b = { tokens: perMinute, at: t };
        buckets.set(id, b);
      }
      if (b.tokens < 1) return refused(b);
      b.tokens -= 1;
      return OK;
    },
    refund(id: string) {
      const b = buckets.get(id);
      if (b) b.tokens = Math.min(perMinute, b.tokens + 1);
    },
    check(id: string): Verdict {
      const b = perMinute > 0 ? buckets.get(id) : undefined;
      if (!b) return OK;
      refill(b, now());
      return b.tokens < 1 ? refused(b) : OK;
    },
    get size() {
      return buckets.size;
    },
  };
}

/** Bytes that may be held at once by request bodies being read, across all requests. */
export function byteBudget(total: number) {
  let used = 0;
  return {
    reserve(bytes: number): boolean {
      if (used + bytes > total) return false;
      used += bytes;
      return true;
    },
    release(bytes: number) {
      used -= bytes;
    },
    get used() {
      return used;
    },
  };
}

/**
 * Calls in flight per principal, at most `max` each: `begin` takes `n` places at once or
 * none (a batch is admitted whole or refused whole), `end` gives `n` (one) back. `lowered`
 * hears of every count that went down (Redis mirrors them for the other replicas).
 */
export function callCounts(max: number, lowered?: (principal: string) => void) {
  const counts = new Map<string, number>();
  return {
    begin(principal: string, n: number): boolean {
      const now = counts.get(principal) ?? 0;
      if (n === 0) return true;
      if (now + n > max) return false;
      counts.set(principal, now + n);
      return true;
    },
    end(principal: string, by = 1) {
      const n = (counts.get(principal) ?? 0) - by;
      if (n <= 0) counts.delete(principal);
      else counts.set(principal, n);
      lowered?.(principal);
    },
    of(principal: string): number {
      return counts.get(principal) ?? 0;
    },
    principals: () => counts.keys(),
    max,
  };
}
