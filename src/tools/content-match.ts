// Runs the content phase of search_files on a worker (content-match-worker.ts) so the
// protocol thread has the last word: on abort (cancel or the tool deadline) the worker is
// terminated at once, whatever its regex is doing, and the call answers without it.
import type { MatchJob, MatchReport } from "./content-match-worker.ts";

export type MatchOutcome = { ok: true; matches: string[]; truncated: boolean } | { ok: false; error: string };
export type MatchOptions = { signal: AbortSignal; progress?: (searched: number, total: number) => void };

/**
 * The bundler embeds the worker only because build.ts lists it as an entrypoint, named
 * `[name].js` at the root of the executable's file system: this same relative URL then
 * finds it in the binary (`/$bunfs/root/…`, never a file in the working folder) and in
 * src/tools/ when run from source. The worker gets no environment: it needs none.
 */
export const startMatchWorker = () => new Worker(new URL("./content-match-worker.ts", import.meta.url), { env: {} });

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

  function run(job: MatchJob, { signal, progress }: MatchOptions): Promise<MatchOutcome> {
    if (signal.aborted) return Promise.resolve({ ok: false, error: "Cancelled." });
    const worker = idle ?? fresh();
    idle = undefined;
    worker.ref();
    const matches: string[] = [];
    return new Promise<MatchOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: MatchOutcome, reusable: boolean) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        worker.removeEventListener("close", onClose);
        worker.onmessage = null;
        worker.onerror = null;
        if (reusable && !idle) {
          // An idle worker must not keep the process alive.
          worker.unref();
          idle = worker;
        } else worker.terminate();
        resolve(outcome);
      };
      // terminate() returns at once; the thread itself ends when its current regex does.
      const onAbort = () => finish({ ok: false, error: "Cancelled." }, false);
      const onClose = () => finish({ ok: false, error: "The content search worker stopped before it finished." }, false);
      signal.addEventListener("abort", onAbort, { once: true });
      worker.addEventListener("close", onClose);
      worker.onmessage = (event: MessageEvent<MatchReport>) => {
        const report = event.data;
        for (const m of report.matches) matches.push(m);
        if (report.done) finish({ ok: true, matches, truncated: report.truncated }, true);
        else progress?.(report.searched, job.paths.length);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        finish({ ok: false, error: `The content search failed inside its worker: ${event.message}` }, false);
      };
      worker.postMessage(job);
    });
  }

  return { run, idle: () => idle };
}
