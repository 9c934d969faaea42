/**
 * A full garbage collection a moment after something large was let go or made (the http
 * server calls it when a session ends, and when one opens: initializing a session leaves
 * garbage the heap otherwise grows around; 1,000 idle sessions measured 26–34 KB each
 * without it, 25 with it). The
 * collector runs when JavaScript allocates, and a server that has gone quiet allocates
 * nothing, so without this the memory of 1,000 closed sessions stayed taken for 10–20 s
 * (RSS +20 MB, measured). Debounced, and at most `maxWaitMs` late under steady churn; a
 * full collection at that heap size takes 10–40 ms.
 */
export function collectWhenQuiet(quietMs = 1000, maxWaitMs = 10_000, collect: () => void = () => Bun.gc(true)) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let first = 0;
  const run = () => {
    timer = undefined;
    first = 0;
    collect();
  };
  return {
    soon() {
      const t = performance.now();
      if (first === 0) first = t;
      clearTimeout(timer);
      timer = setTimeout(run, Math.max(0, Math.min(quietMs, first + maxWaitMs - t)));
    },
    cancel() {
      clearTimeout(timer);
    },
  };
}
