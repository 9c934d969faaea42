// A token bucket for telemetry.rate_limit: at most `perSecond` records a second, in bursts
// of up to `perSecond`. What it refuses is counted, so a drop is never silent.

export type Bucket = { take(): boolean; dropped(): number };

/** `perSecond` 0 lets everything through. `now` in milliseconds (a seam for tests). */
export function tokenBucket(perSecond: number, now: () => number = () => performance.now()): Bucket {
  if (perSecond <= 0) return { take: () => true, dropped: () => 0 };
  let tokens = perSecond;
  let last = now();
  let dropped = 0;
  return {
    take() {
      const t = now();
      tokens = Math.min(perSecond, tokens + ((t - last) * perSecond) / 1000);
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
