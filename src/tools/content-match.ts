// Runs the content phase of search_files on workers (content-match-worker.ts) so the
// protocol thread has the last word: on abort (cancel or the tool deadline) the workers are
// terminated at once, whatever their regex is doing, and the call answers without them.
// Candidates are handed over in batches while the walk goes on, so no side holds every path
// of a big tree, and the walk stops once enough matches are found. Batches are spread over
// up to `width` workers (reading and matching 50,000 small files is ~5 µs of one thread
// each; two threads halve it) and their answers are put back in tree order here.
import { closeSync } from "node:fs";
import type { MatchJob, MatchMessage, MatchReport } from "./content-match-worker.ts";
import type { FileLines } from "./match-lines.ts";

/** `files` (with lines) holds each match's lines, in the same order; `binary` counts matching files left out as binary. */
export type MatchOutcome = { ok: true; matches: string[]; truncated: boolean; files?: FileLines[]; binary?: number } | { ok: false; error: string };
/** `total` is known once the last candidates are handed over. */
export type MatchOptions = { signal: AbortSignal; progress?: (searched: number, total: number | undefined) => void };
/** A job as the caller gives it; the pool adds where each worker records what it holds open, and the stop flag. */
export type MatchRequest = Omit<MatchJob, "held" | "stop">;

/** A search under way. */
export type MatchSearch = {
  /** Hands over the next candidates, in order; resolves once they (and all before them) are searched, or the search has ended. */
  add(paths: string[]): Promise<void>;
  /** Hands over the last candidates; resolves with the outcome. */
  finish(paths?: string[]): Promise<MatchOutcome>;
  /** The outcome is known (the limit was reached, or it failed or was cancelled): nothing more is needed. */
  ended(): boolean;
};

/** Workers a search uses at most: one per core, up to 4 (the walk and the protocol need a thread too). */
export const defaultWidth = () => Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
/**
 * Workers in the whole process beyond each search's first: twice the cores. Without it, 64
 * searches at once each widened to `width` (144 threads, 462 MB measured on 2 cores).
 */
export const defaultCap = () => 2 * Math.max(1, navigator.hardwareConcurrency || 1);

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
 * Keeps up to `width` idle workers (~3.5 MiB each) between searches. A fresh worker takes
 * ~2-5 ms to start and runs its first files cold (no JIT yet): over 5,000 small files a fresh
 * worker per search took 15-30 ms (20-35%) longer than a reused one. A worker that was
 * terminated or failed is not reused; the next search starts a new one. Searches at the same
 * time each get their own workers.
 */
export function matchPool(start: () => Worker = startMatchWorker, width = defaultWidth(), cap = defaultCap()) {
  const idle: Worker[] = [];
  // Workers alive, busy or idle: a search widens past its first only while there is room.
  let live = 0;
  const fresh = () => {
    const worker = start();
    live++;
    worker.addEventListener("close", () => {
      live--;
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
    });
    return worker;
  };
  const room = () => idle.length > 0 || live < cap;
  const release = (worker: Worker) => {
    worker.onmessage = null;
    worker.onerror = null;
    if (idle.length < width && !idle.includes(worker)) {
      // An idle worker must not keep the process alive.
      worker.unref();
      idle.push(worker);
    } else worker.terminate();
  };

  function begin(request: MatchRequest, { signal, progress }: MatchOptions): MatchSearch {
    type Slot = { worker: Worker; held: Int32Array; onClose: () => void; searched: number; outstanding: number; started: boolean; lastSent: boolean; done: boolean };
    // Workers are taken as batches come: a walk that finds no candidate starts none.
    const slots: Slot[] = [];
    const stop = new Int32Array(new SharedArrayBuffer(4));
    let outcome: MatchOutcome | undefined;
    let settle!: (outcome: MatchOutcome) => void;
    const settled = new Promise<MatchOutcome>((resolve) => (settle = resolve));
    /** batch answers not yet merged, by batch number */
    const answers = new Map<number, MatchReport>();
    let handedOut = 0;
    let merged = 0;
    let finishing = false;
    let sent = 0;
    let total: number | undefined;
    const matches: string[] = [];
    const files: FileLines[] = [];
    let binary = 0;
    let waiting: { upTo: number; resolve(): void }[] = [];

    const succeed = (truncated: boolean) => {
      const result: MatchOutcome = { ok: true, matches, truncated };
      if (request.lines) Object.assign(result, { files, binary });
      finish(result, "reuse");
    };
    const finish = (result: MatchOutcome, how: "reuse" | "terminate", gone?: Slot) => {
      if (outcome) return;
      outcome = result;
      signal.removeEventListener("abort", onAbort);
      // Workers still busy with this search stop at their next file.
      Atomics.store(stop, 0, 1);
      for (const slot of slots) {
        const { worker } = slot;
        worker.removeEventListener("close", slot.onClose);
        if (how === "terminate" || slot === gone) {
          worker.onmessage = null;
          worker.onerror = null;
          closeWhenGone(worker, slot.held, slot === gone);
          // terminate() returns at once; the thread itself ends when its current regex does.
          worker.terminate();
        } else if (slot.done) release(worker);
        else {
          // Given back once it says it is done; one waiting for candidates is told there are no more.
          worker.onmessage = (event: MessageEvent<MatchReport>) => event.data.done && release(worker);
          worker.onerror = (event) => {
            event.preventDefault();
            closeWhenGone(worker, slot.held, false);
            worker.terminate();
          };
          if (!slot.lastSent) worker.postMessage({ paths: "", last: true } satisfies MatchMessage);
        }
      }
      for (const w of waiting) w.resolve();
      waiting = [];
      settle(result);
    };
    const onAbort = () => finish({ ok: false, error: "Cancelled." }, "terminate");
    /** Answers in batch order: the first `limit` matches of the tree, and whether there are more. */
    const merge = () => {
      while (!outcome && answers.has(merged)) {
        const answer = answers.get(merged)!;
        answers.delete(merged);
        for (let i = 0; i < answer.matches.length; i++) {
          if (matches.length === request.limit) return succeed(true);
          matches.push(answer.matches[i]!);
          if (answer.files) files.push(answer.files[i]!);
        }
        binary += answer.binary ?? 0;
        // The worker found one match past the limit in this batch (it does not send it).
        if (answer.truncated) return succeed(true);
        merged++;
        waiting = waiting.filter((w) => (w.upTo <= merged ? (w.resolve(), false) : true));
      }
      // Done once every batch is in and every worker has said so: each is then idle, ready
      // for the next search (a search right after this one reuses them).
      if (!outcome && finishing && merged === handedOut && slots.every((slot) => slot.done)) succeed(false);
    };
    const onReport = (slot: Slot, report: MatchReport) => {
      slot.searched = report.searched;
      if (report.done) slot.done = true;
      if (report.error) return finish({ ok: false, error: report.error }, "reuse");
      if (report.batch !== undefined) {
        answers.set(report.batch, report);
        slot.outstanding--;
      }
      progress?.(
        slots.reduce((n, s) => n + s.searched, 0),
        total,
      );
      merge();
    };
    const take = (): Slot => {
      const worker = idle.pop() ?? fresh();
      worker.ref();
      const slot: Slot = {
        worker,
        held: new Int32Array(new SharedArrayBuffer(12)).fill(-1),
        onClose: () => finish({ ok: false, error: "The content search worker stopped before it finished." }, "terminate", slot),
        searched: 0,
        outstanding: 0,
        started: false,
        lastSent: false,
        done: false,
      };
      worker.addEventListener("close", slot.onClose);
      worker.onmessage = (event: MessageEvent<MatchReport>) => onReport(slot, event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        finish({ ok: false, error: `The content search failed inside its worker: ${event.message}` }, "terminate");
      };
      slots.push(slot);
      return slot;
    };
    /**
     * The worker with the fewest batches waiting; another one while all are busy, this search
     * has fewer than `width` and the process fewer than `cap`. Every search gets its first.
     */
    const pick = (): Slot => {
      let best: Slot | undefined;
      for (const slot of slots) if (!slot.lastSent && !slot.done && (!best || slot.outstanding < best.outstanding)) best = slot;
      return best && (best.outstanding === 0 || slots.length >= width || !room()) ? best : take();
    };
    const post = (slot: Slot, paths: string[], last: boolean) => {
      const message: MatchMessage = { paths: paths.join("\0"), last };
      if (paths.length > 0) {
        message.batch = handedOut++;
        slot.outstanding++;
        sent += paths.length;
      }
      if (!slot.started) {
        slot.started = true;
        message.job = { ...request, held: slot.held, stop };
      }
      if (last) slot.lastSent = true;
      slot.worker.postMessage(message);
    };

    if (signal.aborted) finish({ ok: false, error: "Cancelled." }, "terminate");
    else signal.addEventListener("abort", onAbort, { once: true });
    return {
      add(paths) {
        if (outcome || paths.length === 0) return Promise.resolve();
        post(pick(), paths, false);
        const upTo = handedOut;
        return new Promise<void>((resolve) => waiting.push({ upTo, resolve }));
      },
      finish(paths = []) {
        if (outcome || finishing) return settled;
        finishing = true;
        if (paths.length > 0) post(pick(), paths, true);
        total = sent;
        for (const slot of slots) if (!slot.lastSent) post(slot, [], true);
        merge();
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

  return { begin, run, idle: (): Worker | undefined => idle[0], width, live: () => live };
}
