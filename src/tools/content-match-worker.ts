// The content phase of search_files, on a worker thread. A regex cannot be interrupted, and
// JSC backtracks ~0.5-2.5 s per file on patterns like (a|a)+$ before it gives up and answers
// "no match" (130 such files: over a minute), so it must never run on the thread that
// answers the protocol: here it can only stall this worker, which the caller terminates at
// its deadline or on cancel.
import { readFileSync, statSync } from "node:fs";
import { sniffBinary } from "./text.ts";

/** What the worker is asked: candidate paths relative to `dir`, already sorted. */
export type MatchJob = { dir: string; paths: string[]; source: string; flags: string; maxBytes: number; limit: number };

/** What it sends back, in batches: matches since the last report and how many files it has read. */
export type MatchReport = { matches: string[]; searched: number; done: boolean; truncated: boolean };

// A batch at most every 100 ms: progress shows, and matches already found are with the
// caller, while a search over small files costs a handful of messages in all.
const REPORT_EVERY_MS = 100;

/** Text files up to the read limit whose contents match; binary and unreadable files never do. */
function contentMatches(path: string, regex: RegExp, maxBytes: number): boolean {
  try {
    if (statSync(path).size > maxBytes) return false;
    const bytes = readFileSync(path);
    return !sniffBinary(bytes) && regex.test(bytes.toString("utf8"));
  } catch {
    return false;
  }
}

/** Runs a job to its end, handing reports to `report`; stops at `limit` matches (truncated when one more exists). */
export function matchFiles(job: MatchJob, report: (r: MatchReport) => void, now: () => number = performance.now.bind(performance)): void {
  const regex = new RegExp(job.source, job.flags);
  let batch: string[] = [];
  let found = 0;
  // The first report goes out before the first file: the caller sees the search has begun.
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < job.paths.length; i++) {
    if (now() - last >= REPORT_EVERY_MS) {
      report({ matches: batch, searched: i, done: false, truncated: false });
      batch = [];
      last = now();
    }
    const rel = job.paths[i]!;
    if (!contentMatches(`${job.dir}/${rel}`, regex, job.maxBytes)) continue;
    if (found === job.limit) {
      report({ matches: batch, searched: i + 1, done: true, truncated: true });
      return;
    }
    found++;
    batch.push(rel);
  }
  report({ matches: batch, searched: job.paths.length, done: true, truncated: false });
}

// Only inside a worker: importing this module for its types or tests has no effect.
if (!Bun.isMainThread) {
  addEventListener("message", (event) => matchFiles((event as MessageEvent<MatchJob>).data, (r) => postMessage(r)));
}
