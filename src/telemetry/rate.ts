// A token bucket for telemetry.rate_limit: at most `perSecond` records a second, in bursts
// of a tenth of a second's worth. A whole second's burst let a sudden flood of calls build
// 2,000 spans and log records at once (~50 us of CPU each), which cost 28 % of the calls/s
// of a 5,000-call burst; the sustained rate is the same. What it refuses is counted, so a
// drop is never silent.

export type Bucket = { take(): boolean; dropped(): number };

/** `perSecond` 0 lets everything through. `now` in milliseconds (a seam for tests). */
export function tokenBucket(perSecond: number, now: () => number = () => performance.now()): Bucket {
  if (perSecond <= 0) return { take: () => true, dropped: () => 0 };
  const burst = Math.max(1, Math.ceil(perSecond / 10));
  let tokens = burst;
  let last = now();
  let dropped = 0;
  return {
    take() {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) * perSecond) / 1000);
      last = t;
      if (tokens >= 1) {
        tokens--;
        return true;
      }
      dropped++;
      return false;
    },
    dropped: () => dropped,
  };
}
