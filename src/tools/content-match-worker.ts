// The content phase of search_files, on a worker thread. A regex cannot be interrupted, and
// JSC backtracks ~0.5-2.5 s per file on patterns like (a|a)+$ before it gives up and answers
// "no match" (130 such files: over a minute), so it must never run on the thread that
// answers the protocol: here it can only stall this worker, which the caller terminates at
// its deadline or on cancel.
//
// Files are opened here, not by path from the main thread: on Linux the worker opens the
// searched folder beneath the workspace root itself and each file beneath that folder, so a
// folder swapped for a symlink between the walk and the read cannot lead the read outside.
// The main thread never hands over a descriptor of its own (it closes them on cancel while
// this thread may still be running); what this thread holds is written to `held`, so the
// caller can close it if the thread is terminated mid-search.
import { closeSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { join } from "node:path";
import { type Beneath, guards, O_DIRECTORY, O_NOCTTY, O_NONBLOCK, O_PATH } from "../workspace/beneath.ts";
import { reasonFor } from "../workspace/open-inside.ts";
import type { Confinement } from "../workspace/resolve.ts";
import { sniffBinary } from "./text.ts";

/** What a search is: the folder (relative to the root that holds it), the regex, the limits and the workspace's rules. */
export type MatchJob = {
  /** a workspace root (a real path) */
  root: string;
  /** the searched folder relative to `root` ("" for the root itself); candidate paths are relative to it */
  folder: string;
  source: string;
  flags: string;
  maxBytes: number;
  limit: number;
  followSymlinks: boolean;
  allowHardlinks: boolean;
  confine?: Confinement;
  /** slots (-1 when empty) where this thread keeps the descriptors it has open: [folder, file] */
  held: Int32Array;
};

/** What the worker is sent: the job with its first candidates, then more candidates in order; `last` marks the end. */
export type MatchMessage = { job?: MatchJob; paths: string[]; last: boolean };

/** What it sends back: matches since the last report and how many files it has read; `error` when it could not search at all. */
export type MatchReport = { matches: string[]; searched: number; done: boolean; truncated: boolean; error?: string };

// A batch at most every 100 ms: progress shows, and matches already found are with the
// caller, while a search over small files costs a handful of messages in all.
const REPORT_EVERY_MS = 100;
const READ_FLAGS = O_NONBLOCK | O_NOCTTY; // O_RDONLY; a FIFO swapped in must not block the open
const FOLDER = 0;
const FILE = 1;

/** The guard the main thread's path gate would use for this workspace (open-inside.ts). */
export async function guardFor(confine: Confinement | undefined): Promise<Beneath | undefined> {
  if (confine === "realpath") return undefined;
  const offered = await guards();
  return confine === "openat" ? offered.openat : (offered.openat2 ?? offered.openat);
}

type Opener = { open(rel: string): number | undefined; close(): void };

/**
 * Opens the job's folder beneath its root (it was found there by a real path, so a symlink
 * on the way now is a swap, refused); without a guard (macOS, Windows) files are opened by path.
 */
function openFolder(job: MatchJob, beneath: Beneath | undefined): Opener | { error: string } {
  const { held } = job;
  if (!beneath) {
    const dir = join(job.root, job.folder);
    return { open: (rel) => tryOpen(() => openSync(join(dir, rel), READ_FLAGS)), close() {} };
  }
  const top = beneath.openFolder(job.root);
  if (!top.ok) return { error: cannotOpen(job, top.code) };
  let fd = top.fd;
  if (job.folder !== "") {
    const folder = beneath.openAt(top.fd, job.folder, O_PATH | O_DIRECTORY, true);
    closeSync(top.fd);
    if (!folder.ok) return { error: cannotOpen(job, folder.code) };
    fd = folder.fd;
  }
  Atomics.store(held, FOLDER, fd);
  return {
    open(rel) {
      const file = beneath.openAt(fd, rel, READ_FLAGS, !job.followSymlinks);
      return file.ok ? file.fd : undefined;
    },
    close() {
      // Emptied before the close: a thread stopped in between leaves a descriptor open, never
      // has someone else's closed for it.
      Atomics.store(held, FOLDER, -1);
      closeSync(fd);
    },
  };
}

const cannotOpen = (job: MatchJob, code: string) =>
  `The folder ${job.folder || "."} could not be opened for the content search (${code === "ELOOP" || code === "EXDEV" ? "it was swapped for a symlink meanwhile" : reasonFor(code)}); search again.`;

function tryOpen(open: () => number): number | undefined {
  try {
    return open();
  } catch {
    return undefined;
  }
}

/** Reads a whole file by its descriptor, or nothing when it should not be searched. */
function readForMatch(fd: number, job: MatchJob): Buffer | undefined {
  let info: Stats;
  try {
    info = fstatSync(fd);
  } catch {
    return undefined;
  }
  if (!info.isFile() || info.size > job.maxBytes) return undefined;
  // A second link may be the same file as one outside the roots: whether it matches would
  // tell something about that file (open-inside.ts, hardLinkRefusal).
  if (info.nlink > 1 && !job.allowHardlinks) return undefined;
  const bytes = Buffer.allocUnsafe(info.size);
  let done = 0;
  try {
    while (done < info.size) {
      const n = readSync(fd, bytes, done, info.size - done, done);
      if (n === 0) break;
      done += n;
    }
  } catch {
    return undefined;
  }
  return bytes.subarray(0, done);
}

/** One search on this thread: candidates come in order; it stops at `limit` matches (truncated when one more exists). */
export function startMatching(job: MatchJob, beneath: Beneath | undefined, report: (r: MatchReport) => void, now: () => number = performance.now.bind(performance)) {
  const regex = new RegExp(job.source, job.flags);
  const { held } = job;
  const folder = openFolder(job, beneath);
  let over = false;
  let searched = 0;
  let found = 0;
  let batch: string[] = [];
  // The first report goes out before the first file: the caller sees the search has begun.
  let lastReport = Number.NEGATIVE_INFINITY;
  const end = (truncated: boolean, error?: string) => {
    over = true;
    if ("close" in folder) folder.close();
    report({ matches: batch, searched, done: true, truncated, ...(error ? { error } : {}) });
    batch = [];
  };
  const matches = (rel: string, opener: Opener): boolean => {
    const fd = opener.open(rel);
    if (fd === undefined) return false;
    Atomics.store(held, FILE, fd);
    let bytes: Buffer | undefined;
    try {
      bytes = readForMatch(fd, job);
    } finally {
      Atomics.store(held, FILE, -1);
      closeSync(fd);
    }
    return bytes !== undefined && !sniffBinary(bytes) && regex.test(bytes.toString("utf8"));
  };

  return {
    /** Searches the next candidates; `last` ends the search when the limit has not. */
    add(paths: string[], last: boolean): void {
      if (over) return;
      if ("error" in folder) return end(false, folder.error);
      for (const rel of paths) {
        if (now() - lastReport >= REPORT_EVERY_MS) {
          report({ matches: batch, searched, done: false, truncated: false });
          batch = [];
          lastReport = now();
        }
        searched++;
        if (!matches(rel, folder)) continue;
        if (found === job.limit) return end(true);
        found++;
        batch.push(rel);
      }
      if (last) return end(false);
      // The caller learns these are done (it hands over the next ones as this thread works).
      report({ matches: batch, searched, done: false, truncated: false });
      batch = [];
    },
  };
}

/** Runs a whole search at once: the job's folder, then these candidates. */
export function matchFiles(job: MatchJob, paths: string[], report: (r: MatchReport) => void, now?: () => number, beneath?: Beneath): void {
  startMatching(job, beneath, report, now).add(paths, true);
}

// Only inside a worker: importing this module for its types or tests has no effect.
if (!Bun.isMainThread) {
  let current: ReturnType<typeof startMatching> | undefined;
  // Messages are handled one after another; the first of a search waits for the guard probe.
  let queue = Promise.resolve();
  let held: Int32Array | undefined;
  const handle = async ({ job, paths, last }: MatchMessage) => {
    if (job) {
      held = job.held;
      current = startMatching(job, await guardFor(job.confine), (r) => postMessage(r));
    }
    current?.add(paths, last);
  };
  // A failure ends the search with its reason; what it left open is closed here, as the
  // caller keeps this thread for the next search.
  const fail = (error: unknown) => {
    current = undefined;
    for (let slot = 0; held && slot < held.length; slot++) {
      const fd = Atomics.exchange(held, slot, -1);
      if (fd >= 0) closeSync(fd);
    }
    postMessage({ matches: [], searched: 0, done: true, truncated: false, error: `The content search failed: ${(error as Error)?.message ?? error}` } satisfies MatchReport);
  };
  addEventListener("message", (event) => {
    queue = queue.then(() => handle((event as MessageEvent<MatchMessage>).data)).catch(fail);
  });
}
