// Runs the content phase of search_files on a worker (content-match-worker.ts) so the
// protocol thread has the last word: on abort (cancel or the tool deadline) the worker is
// terminated at once, whatever its regex is doing, and the call answers without it.
// Candidates are handed over in batches while the walk goes on, so neither side holds
// every path of a big tree, and the walk stops once the worker has found enough.
import { closeSync } from "node:fs";
import type { MatchJob, MatchMessage, MatchReport } from "./content-match-worker.ts";

export type MatchOutcome = { ok: true; matches: string[]; truncated: boolean } | { ok: false; error: string };
/** `total` is known once the last candidates are handed over. */
export type MatchOptions = { signal: AbortSignal; progress?: (searched: number, total: number | undefined) => void };
/** A job as the caller gives it; the pool adds where the worker records what it holds open. */
export type MatchRequest = Omit<MatchJob, "held">;

/** A search under way. */
export type MatchSearch = {
  /** Hands over the next candidates, in order; resolves once the worker has searched them, or the search has ended. */
  add(paths: string[]): Promise<void>;
  /** Hands over the last candidates; resolves with the outcome. */
  finish(paths?: string[]): Promise<MatchOutcome>;
  /** The outcome is known (the limit was reached, or it failed or was cancelled): nothing more is needed. */
  ended(): boolean;
};

/**
 * The bundler embeds the worker only because build.ts lists it as an entrypoint, named
 * `[name].js` at the root of the executable's file system: this same relative URL then
 * finds it in the binary (`/$bunfs/root/…`, never a file in the working folder) and in
 * src/tools/ when run from source. The worker gets no environment: it needs none.
 */
export const startMatchWorker = () => new Worker(new URL("./content-match-worker.ts", import.meta.url), { env: {} });

/**
 * Descriptors a terminated worker left open, closed once its thread has ended (the "close"
 * event comes after its last instruction, never while it could still use them).
 */
function closeWhenGone(worker: Worker, held: Int32Array, gone: boolean) {
  const release = () => {
    for (let slot = 0; slot < held.length; slot++) {
      const fd = Atomics.exchange(held, slot, -1);
      if (fd >= 0) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
  };
  if (gone) release();
  else worker.addEventListener("close", release, { once: true });
}

/**
 * Keeps one idle worker (~3.5 MiB) between searches. A fresh worker takes ~2-5 ms to start
 * and runs its first files cold (no JIT yet): over 5,000 small files a fresh worker per
 * search took 15-30 ms (20-35%) longer than a reused one, which is as fast as matching on
 * the main thread was. A worker that was terminated or failed is not reused; the next
 * search starts a new one. Searches at the same time each get their own worker.
 */
export function matchPool(start: () => Worker = startMatchWorker) {
  let idle: Worker | undefined;
  const fresh = () => {
    const worker = start();
    worker.addEventListener("close", () => idle === worker && (idle = undefined));
    return worker;
  };

  function begin(request: MatchRequest, { signal, progress }: MatchOptions): MatchSearch {
    let outcome: MatchOutcome | undefined;
    let settle!: (outcome: MatchOutcome) => void;
    const settled = new Promise<MatchOutcome>((resolve) => (settle = resolve));
    // A worker is taken with the first candidates: a walk that finds none starts none.
    let worker: Worker | undefined;
    const held = new Int32Array(new SharedArrayBuffer(8)).fill(-1);
    const matches: string[] = [];
    let sent = 0;
    let total: number | undefined;
    let waiting: { upTo: number; resolve(): void }[] = [];

    const finish = (result: MatchOutcome, how: "reuse" | "terminate" | "gone") => {
      if (outcome) return;
      outcome = result;
      signal.removeEventListener("abort", onAbort);
      if (worker) {
        worker.removeEventListener("close", onClose);
        worker.onmessage = null;
        worker.onerror = null;
        if (how === "reuse" && !idle) {
          // An idle worker must not keep the process alive.
          worker.unref();
          idle = worker;
        } else {
          if (how !== "reuse") closeWhenGone(worker, held, how === "gone");
          // terminate() returns at once; the thread itself ends when its current regex does.
          worker.terminate();
        }
      }
      for (const w of waiting) w.resolve();
      waiting = [];
      settle(result);
    };
    const onAbort = () => finish({ ok: false, error: "Cancelled." }, "terminate");
    const onClose = () => finish({ ok: false, error: "The content search worker stopped before it finished." }, "gone");
    const onReport = (event: MessageEvent<MatchReport>) => {
      const report = event.data;
      for (const m of report.matches) matches.push(m);
      if (report.error) return finish({ ok: false, error: report.error }, "reuse");
      if (report.done) return finish({ ok: true, matches, truncated: report.truncated }, "reuse");
      progress?.(report.searched, total);
      waiting = waiting.filter((w) => (w.upTo <= report.searched ? (w.resolve(), false) : true));
    };
    const take = () => {
      const taken = idle ?? fresh();
      idle = undefined;
      taken.ref();
      taken.addEventListener("close", onClose);
      taken.onmessage = onReport;
      taken.onerror = (event) => {
        event.preventDefault();
        finish({ ok: false, error: `The content search failed inside its worker: ${event.message}` }, "terminate");
      };
      return taken;
    };
    const post = (paths: string[], last: boolean) => {
      if (outcome) return;
      const message: MatchMessage = { paths, last };
      if (!worker) {
        worker = take();
        message.job = { ...request, held };
      }
      sent += paths.length;
      if (last) total = sent;
      worker.postMessage(message);
    };

    if (signal.aborted) finish({ ok: false, error: "Cancelled." }, "terminate");
    else signal.addEventListener("abort", onAbort, { once: true });
    return {
      add(paths) {
        if (outcome || paths.length === 0) return Promise.resolve();
        post(paths, false);
        const upTo = sent;
        return new Promise<void>((resolve) => waiting.push({ upTo, resolve }));
      },
      finish(paths = []) {
        if (!outcome && !worker && paths.length === 0) finish({ ok: true, matches: [], truncated: false }, "reuse");
        post(paths, true);
        return settled;
      },
      ended: () => outcome !== undefined,
    };
  }

  /** A whole search at once: these candidates, then the outcome. */
  function run(request: MatchRequest & { paths: string[] }, options: MatchOptions): Promise<MatchOutcome> {
    const { paths, ...job } = request;
    return begin(job, options).finish(paths);
  }

  return { begin, run, idle: () => idle };
}
