// Waiting for a condition instead of sleeping a fixed time: a test goes on as soon as
// what it waits for has happened, and a loaded machine gets the whole bound, not a guess.

/** Checks `condition` every `everyMs` until it holds or `timeoutMs` has passed; true when it held. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, everyMs = 5): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() >= end) return false;
    await Bun.sleep(everyMs);
  }
}
