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
//
// This module is the search loop and the worker's message loop; the system calls per file
// are in libc-files.ts, what is done with a file's text in match-lines.ts.
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { type Beneath, guards, O_DIRECTORY, O_PATH } from "../workspace/beneath.ts";
import { reasonFor } from "../workspace/open-inside.ts";
import type { Confinement } from "../workspace/resolve.ts";
import { fastIO, type FileInfo, type FileIO, nodeIO, READ_FLAGS } from "./libc-files.ts";
import { entrySize, type FileLines, type Line, type LineOptions, linesOf, requiredLiteral } from "./match-lines.ts";
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
  /** with show_lines: each matching file's lines come back too */
  lines?: LineOptions;
  /**
   * slots (-1 when empty) where this thread keeps the descriptors it has open: [folder, file,
   * and, when there is a third slot, the folder of the files being read, kept open from one
   * file to the next so each is opened by its name alone]
   */
  held: Int32Array;
  /** set to 1 by the caller when it needs nothing more: the search ends at the next file */
  stop?: Int32Array;
};

/**
 * What the worker is sent: the job with its first candidates, then more candidates in order;
 * `last` marks the end. `batch` names the candidates, so a caller with several workers can
 * put their answers back in order. Candidates travel as one string, joined by NUL (which no
 * name holds): copying one string costs both threads a fifth of what 256 strings do.
 */
export type MatchMessage = { job?: MatchJob; paths: string; last: boolean; batch?: number };

/**
 * What it sends back: matches since the last report and how many files it has read; `error`
 * when it could not search at all. A report that ends a batch names it: all of that batch's
 * matches are in it, and, with lines, `files` holds theirs in the same order; `binary`
 * counts the files of that batch that match but were left out as binary.
 */
export type MatchReport = {
  matches: string[];
  searched: number;
  done: boolean;
  truncated: boolean;
  error?: string;
  batch?: number;
  files?: FileLines[];
  binary?: number;
};

// Progress at most every 100 ms, and a report at the end of each batch of candidates, which
// carries that batch's matches: a search over small files costs a handful of messages.
const REPORT_EVERY_MS = 100;
const FOLDER = 0;
const FILE = 1;
const DIR = 2;

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
function openFolder(job: MatchJob, beneath: Beneath | undefined, io: FileIO): Opener | { error: string } {
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
  // Candidates come folder by folder: the folder of the last one stays open, and each file is
  // opened by its name in it, which takes the kernel a third less than the whole relative
  // path (50,000 files: ~170 ms against ~190-260 ms of opens and closes on one thread).
  const keepDir = held.length > DIR;
  let dirRel: string | undefined;
  let dirFd = -1;
  const closeDir = () => {
    if (dirFd < 0) return;
    Atomics.store(held, DIR, -1);
    closeSync(dirFd);
    dirFd = -1;
  };
  const whole = (rel: string) => {
    const file = beneath.openAt(fd, rel, READ_FLAGS, !job.followSymlinks);
    return file.ok ? file.fd : undefined;
  };
  return {
    open(rel) {
      const slash = rel.lastIndexOf("/");
      if (!keepDir) return whole(rel);
      const parent = slash < 0 ? "" : rel.slice(0, slash);
      if (parent !== dirRel) {
        closeDir();
        dirRel = parent;
        // The walk entered only real folders: a symlink on the way now was swapped in.
        const dir = parent === "" ? undefined : beneath.openAt(fd, parent, O_PATH | O_DIRECTORY, true);
        if (dir?.ok) {
          dirFd = dir.fd;
          Atomics.store(held, DIR, dirFd);
        }
      }
      const inside = parent === "" ? fd : dirFd;
      if (inside < 0) return undefined;
      const name = rel.slice(slash + 1);
      const quick = io.openName(inside, name);
      if (quick >= 0) return quick;
      const file = beneath.openAt(inside, name, READ_FLAGS, !job.followSymlinks);
      if (file.ok) return file.fd;
      // A symlink that leaves its own folder may still stay inside the searched one.
      return job.followSymlinks && file.code === "EXDEV" ? whole(rel) : undefined;
    },
    close() {
      closeDir();
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

/**
 * Reads a whole file by its descriptor into `into` (grown as needed, reused from file to file:
 * no allocation per file), or nothing when it should not be searched.
 */
function readForMatch(fd: number, job: MatchJob, into: { buffer: Buffer; info: FileInfo }, io: FileIO): Buffer | undefined {
  const { info } = into;
  if (!io.stat(fd, info) || !info.file || info.size > job.maxBytes) return undefined;
  // A second link may be the same file as one outside the roots: whether it matches would
  // tell something about that file (open-inside.ts, hardLinkRefusal).
  if (info.links > 1 && !job.allowHardlinks) return undefined;
  if (into.buffer.length < info.size) into.buffer = Buffer.allocUnsafe(Math.max(info.size, into.buffer.length * 2));
  const bytes = into.buffer;
  let done = 0;
  while (done < info.size) {
    const n = io.read(fd, bytes, done, info.size - done);
    if (n < 0) return undefined;
    if (n === 0) break;
    done += n;
  }
  return bytes.subarray(0, done);
}

/** One search on this thread: candidates come in order; it stops at `limit` matches (truncated when one more exists). */
export function startMatching(job: MatchJob, beneath: Beneath | undefined, report: (r: MatchReport) => void, now: () => number = performance.now.bind(performance)) {
  const regex = new RegExp(job.source, job.flags);
  const everyLine = job.lines ? new RegExp(job.source, job.flags.includes("g") ? job.flags : `${job.flags}g`) : undefined;
  const literal = requiredLiteral(job.source, job.flags);
  const needle = literal === undefined ? undefined : Buffer.from(literal, "utf8");
  const { held, stop, lines: lineOptions } = job;
  // The quick system calls only where the guard is (Linux): elsewhere files are opened by path.
  const io = (beneath && fastIO()) || nodeIO;
  const folder = openFolder(job, beneath, io);
  const buffer = { buffer: Buffer.allocUnsafe(64 * 1024), info: { file: false, size: 0, links: 0 } };
  let over = false;
  let searched = 0;
  let found = 0;
  let batch: string[] = [];
  let files: FileLines[] = [];
  let binary = 0;
  // This thread stops taking lines once it has sent the budget's worth: the caller, which
  // puts every worker's files in order, never shows more than that in all.
  let budgetLeft = lineOptions?.budget ?? 0;
  // The first report goes out before the first file: the caller sees the search has begun.
  let lastReport = Number.NEGATIVE_INFINITY;
  const batchReport = (id: number | undefined, done: boolean, truncated: boolean, error?: string): MatchReport => {
    const r: MatchReport = { matches: batch, searched, done, truncated };
    if (error) r.error = error;
    if (id !== undefined) r.batch = id;
    if (lineOptions) {
      r.files = files;
      r.binary = binary;
    }
    batch = [];
    files = [];
    binary = 0;
    return r;
  };
  const end = (id: number | undefined, truncated: boolean, error?: string) => {
    over = true;
    if ("close" in folder) folder.close();
    report(batchReport(id, true, truncated, error));
  };
  /** Whether the file matches; with lines, its lines are kept. */
  const matches = (rel: string, opener: Opener): boolean => {
    const fd = opener.open(rel);
    if (fd === undefined) return false;
    Atomics.store(held, FILE, fd);
    let bytes: Buffer | undefined;
    try {
      bytes = readForMatch(fd, job, buffer, io);
    } finally {
      Atomics.store(held, FILE, -1);
      io.close(fd);
    }
    if (bytes === undefined || (needle && bytes.indexOf(needle) < 0)) return false;
    const isBinary = sniffBinary(bytes) !== undefined;
    if (isBinary && !lineOptions) return false;
    const text = bytes.toString("utf8");
    if (!regex.test(text)) return false;
    if (isBinary) {
      binary++;
      return false;
    }
    if (lineOptions && everyLine) {
      const keep = (line: Line) => {
        const size = entrySize(rel, line);
        if (size > budgetLeft) return false;
        budgetLeft -= size;
        return true;
      };
      files.push(linesOf(text, everyLine, lineOptions, budgetLeft > 0 ? keep : () => false));
    }
    return true;
  };

  return {
    /** Searches the next candidates (the batch `id`); `last` ends the search when the limit has not. */
    add(paths: string[], last: boolean, id?: number): void {
      if (over) return;
      if ("error" in folder) return end(id, false, folder.error);
      for (const rel of paths) {
        if (now() - lastReport >= REPORT_EVERY_MS) {
          report({ matches: [], searched, done: false, truncated: false });
          lastReport = now();
        }
        if (stop && Atomics.load(stop, 0) !== 0) return end(id, false);
        searched++;
        const before = files.length;
        if (!matches(rel, folder)) continue;
        if (found === job.limit) {
          files.length = before;
          return end(id, true);
        }
        found++;
        batch.push(rel);
      }
      if (last) return end(id, false);
      // The caller learns these are done (it hands over the next ones as this thread works).
      report(batchReport(id, false, false));
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
  const handle = async ({ job, paths, last, batch }: MatchMessage) => {
    if (job) {
      held = job.held;
      current = startMatching(job, await guardFor(job.confine), (r) => postMessage(r));
    }
    current?.add(paths === "" ? [] : paths.split("\0"), last, batch);
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
