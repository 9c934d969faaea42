// One sweeping timer for every call's deadline instead of a setTimeout per call:
// under load, creating and clearing a timer per call is measurable. Resolution is
// the sweep interval; tool deadlines are whole seconds, so 50 ms is plenty.
export function deadlineWatch(intervalMs = 50, now = () => performance.now()) {
  const pending = new Set<{ at: number; fire: () => void }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const sweep = () => {
    const t = now();
    for (const d of pending) {
      if (d.at <= t) {
        pending.delete(d);
        d.fire();
      }
    }
    if (pending.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    /** calls `fire` once `ms` have passed, unless the returned function is called first */
    watch(ms: number, fire: () => void): () => void {
      const d = { at: now() + ms, fire };
      pending.add(d);
      timer ??= setInterval(sweep, intervalMs);
      return () => pending.delete(d);
    },
  };
}
