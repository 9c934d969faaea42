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
import { dlopen, FFIType, type Pointer, ptr } from "bun:ffi";
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from "node:fs";
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

export type LineOptions = {
  /** lines before and after each matching line */
  context: number;
  /** bytes of lines (as entrySize counts them) worth sending at most; past it only counts */
  budget: number;
  /** a longer line is cut around its match, with a marker */
  maxChars: number;
};

/** A line shown: its number (from 1), its text (cut when long), and whether it is only context. */
export type Line = { line: number; text: string; context?: true };
/** A matching file's lines: those kept (`cut` when the list stopped early), and how many of its lines match. */
export type FileLines = { lines: Line[]; matching: number; cut?: true };

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
const READ_FLAGS = O_NONBLOCK | O_NOCTTY; // O_RDONLY; a FIFO swapped in must not block the open
const FOLDER = 0;
const FILE = 1;
const DIR = 2;

/** The guard the main thread's path gate would use for this workspace (open-inside.ts). */
export async function guardFor(confine: Confinement | undefined): Promise<Beneath | undefined> {
  if (confine === "realpath") return undefined;
  const offered = await guards();
  return confine === "openat" ? offered.openat : (offered.openat2 ?? offered.openat);
}

/** What a file is, filled in place by FileIO.stat (no object per file). */
type FileInfo = { file: boolean; size: number; links: number };

/** The system calls the read of one file takes: open by a single name, stat, read, close. */
type FileIO = {
  /** `name` (one component) in the folder `dirfd`, never through a symlink; -1 when it cannot be opened so, whatever the reason */
  openName(dirfd: number, name: string): number;
  /** false when the descriptor cannot be looked at */
  stat(fd: number, into: FileInfo): boolean;
  /** bytes read into `buffer` at `offset`, 0 at the end, -1 on an error */
  read(fd: number, buffer: Buffer, offset: number, length: number): number;
  close(fd: number): void;
};

const nodeIO: FileIO = {
  openName: () => -1,
  stat(fd, into) {
    try {
      const info = fstatSync(fd);
      into.file = info.isFile();
      into.size = info.size;
      into.links = info.nlink;
      return true;
    } catch {
      return false;
    }
  },
  read(fd, buffer, offset, length) {
    try {
      return readSync(fd, buffer, offset, length, offset);
    } catch {
      return -1;
    }
  },
  close: (fd) => closeSync(fd),
};

// Both the same on x86_64 and aarch64, the Linux architectures Bun builds for.
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const AT_EMPTY_PATH = 0x1000;
const STATX_WANTED = 0x1 | 0x2 | 0x4 | 0x200; // type, mode, nlink, size
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * libc's openat, statx, read and close through bun:ffi, with the name, stat and data buffers
 * reused from file to file. Per file this is ~1.8 µs (a quarter) less than the guard's
 * openAt (a BigInt array and a Buffer per call) with fstatSync's Stats and readSync, all of it
 * on the thread that reads (50,000 files: ~300 ms against ~390 ms of one thread's time).
 * Opening one name, not a path, with O_NOFOLLOW, in a folder the guard opened, cannot lead
 * anywhere but into that folder: it is the step viaOpenat (beneath.ts) takes per component.
 * A symlink (ELOOP) and every other failure go back to the guard, which words them.
 */
function libcIO(): FileIO | undefined {
  if (process.platform !== "linux") return undefined;
  const symbols = {
    openat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  } as const;
  let libc: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | undefined;
  for (const name of ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"]) {
    try {
      libc = dlopen(name, symbols).symbols;
      break;
    } catch {
      // not this libc, or one without statx (glibc < 2.28)
    }
  }
  if (!libc) return undefined;
  const { openat, statx, read, close } = libc;
  const name = Buffer.alloc(4096);
  const namePtr = ptr(name);
  const empty = ptr(Buffer.alloc(1));
  const stat = new DataView(new ArrayBuffer(256)); // struct statx
  const statPtr = ptr(stat);
  let data: Buffer | undefined;
  let dataPtr = 0;
  return {
    openName(dirfd, text) {
      const length = name.write(text, 0, "utf8");
      if (length >= name.length - 1 || text === "." || text === ".." || text.includes("/")) return -1;
      name[length] = 0;
      return openat(dirfd, namePtr, READ_FLAGS | O_NOFOLLOW | O_CLOEXEC, 0);
    },
    stat(fd, into) {
      if (statx(fd, empty, AT_EMPTY_PATH, STATX_WANTED, statPtr) !== 0) return nodeIO.stat(fd, into);
      if ((stat.getUint32(0, true) & STATX_WANTED) !== STATX_WANTED) return nodeIO.stat(fd, into);
      into.file = (stat.getUint16(28, true) & S_IFMT) === S_IFREG;
      into.links = stat.getUint32(16, true);
      into.size = Number(stat.getBigUint64(40, true));
      return true;
    },
    read(fd, buffer, offset, length) {
      if (buffer !== data) {
        data = buffer;
        dataPtr = ptr(buffer);
      }
      return Number(read(fd, (dataPtr + offset) as Pointer, length));
    },
    close(fd) {
      close(fd);
    },
  };
}

let boundIO: FileIO | null | undefined;
/** Bound once per thread: which libc this is cannot change under it. */
const fastIO = (): FileIO | undefined => {
  if (boundIO === undefined) boundIO = libcIO() ?? null;
  return boundIO ?? undefined;
};

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

/**
 * Text that every match of the pattern contains, or undefined when none is certain: the
 * longest run of plain characters outside groups, classes and optional parts. A file whose
 * bytes do not hold it cannot match, and is passed over without being decoded or searched
 * (the decode and the regex were most of the time per file once it was read).
 */
export function requiredLiteral(source: string, flags = ""): string | undefined {
  if (flags.includes("i") || flags.includes("u") || flags.includes("v")) return undefined;
  let best = "";
  let run = "";
  let depth = 0;
  const flush = () => {
    if (run.length > best.length) best = run;
    run = "";
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[++i];
      if (next === undefined) return undefined;
      if (depth === 0 && !/[A-Za-z0-9]/.test(next)) {
        run += next;
        continue;
      }
      // Letters and digits after a backslash are classes, assertions, references or codes,
      // some with an operand that is not text of its own: \x41, \u0041, \cA, \101, \k<name>.
      flush();
      const rest = source.slice(i + 1);
      if (next === "x" && /^[0-9a-fA-F]{2}/.test(rest)) i += 2;
      else if (next === "u" && /^[0-9a-fA-F]{4}/.test(rest)) i += 4;
      else if (next === "c" && /^[A-Za-z]/.test(rest)) i += 1;
      else if (/[0-9]/.test(next)) i += /^[0-9]*/.exec(rest)![0].length;
      else if ((next === "k" && rest[0] === "<") || ((next === "p" || next === "P") && rest[0] === "{")) {
        const close = source.indexOf(rest[0] === "<" ? ">" : "}", i + 1);
        if (close < 0) return undefined;
        i = close;
      }
    } else if (c === "[") {
      if (source[i + 1] === "^") i++;
      for (i++; i < source.length && source[i] !== "]"; i++) if (source[i] === "\\") i++;
      flush();
    } else if (c === "(") {
      depth++;
      flush();
    } else if (c === ")") {
      depth--;
      flush();
    } else if (c === "|") {
      if (depth === 0) return undefined;
    } else if (depth > 0) {
      // inside a group: nothing is certain
    } else if (c === "*" || c === "?") {
      run = run.slice(0, -1);
      flush();
    } else if (c === "+") {
      flush();
    } else if (c === "{" && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      const end = source.indexOf("}", i);
      if (/^\{0[,}]/.test(source.slice(i))) run = run.slice(0, -1);
      flush();
      i = end;
    } else if (c === "." || c === "^" || c === "$") {
      flush();
    } else run += c;
  }
  flush();
  // Bytes compared with a lone surrogate or U+FFFD would not be what the decoded text holds.
  if (best === "" || !best.isWellFormed() || best.includes("\ufffd")) return undefined;
  return best;
}

/** Where each line starts: 0, then after every "\n". */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The index of the line holding offset `at` (the last start at or before it). */
function lineAt(starts: number[], at: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A line longer than `max` characters, cut to `max` around `focus` (where its match starts),
 * with a marker for each cut side saying how much was left out there.
 */
export function cutLine(line: string, focus: number, max: number): string {
  if (line.length <= max) return line;
  let start = Math.max(0, Math.min(focus - Math.floor(max / 5), line.length - max));
  // Never half of a surrogate pair at either edge.
  if (start > 0 && /[\udc00-\udfff]/.test(line[start]!)) start++;
  let end = Math.min(line.length, start + max);
  if (end < line.length && /[\ud800-\udbff]/.test(line[end - 1]!)) end--;
  return `${start > 0 ? `[…${start} chars] ` : ""}${line.slice(start, end)}${end < line.length ? ` […${line.length - end} chars]` : ""}`;
}

/** What a shown line costs of the budget: its bytes as a grep line, `path:line:text\n`. */
export const entrySize = (path: string, line: Line) => Buffer.byteLength(path) + Buffer.byteLength(line.text) + String(line.line).length + 3;

/**
 * The lines of `text` that hold a match of `regex` (global; a match over several lines marks
 * them all), with up to `context` lines before and after each, as grep -C shows them (groups
 * that touch are merged). `keep(line)` is asked for each line in order and stops the list when
 * it says no; every matching line is counted whatever it says.
 */
export function linesOf(text: string, regex: RegExp, options: { context: number; maxChars: number }, keep: (line: Line) => boolean = () => true): FileLines {
  const starts = lineStarts(text);
  // A text that ends with a newline has no line after it; an empty one has none at all.
  const count = text === "" ? 0 : text.endsWith("\n") ? starts.length - 1 : starts.length;
  const endOf = (i: number) => {
    let end = i + 1 < starts.length ? starts[i + 1]! - 1 : text.length;
    if (end > starts[i]! && text.charCodeAt(end - 1) === 13) end--;
    return end;
  };
  /** matching lines in order, each with where its (first) match starts in it */
  const hits: { index: number; focus: number }[] = [];
  regex.lastIndex = 0;
  for (;;) {
    const from = regex.lastIndex;
    const m = regex.exec(text);
    if (!m) break;
    const first = lineAt(starts, m.index);
    if (first >= count) break;
    const last = Math.min(count - 1, lineAt(starts, Math.max(m.index, m.index + m[0].length - 1)));
    for (let i = first; i <= last; i++) {
      if (hits.length === 0 || hits[hits.length - 1]!.index < i) hits.push({ index: i, focus: i === first ? m.index - starts[i]! : 0 });
    }
    // One match per line is enough: the search goes on at the next line.
    const next = last + 1 < starts.length ? starts[last + 1]! : text.length + 1;
    if (next > text.length || next <= from) break;
    regex.lastIndex = next;
  }
  const lines: Line[] = [];
  let stopped = false;
  let shownUpTo = -1;
  const show = (index: number, focus: number, context: boolean) => {
    if (stopped) return;
    const line: Line = { line: index + 1, text: cutLine(text.slice(starts[index]!, endOf(index)), focus, options.maxChars) };
    if (context) line.context = true;
    if (!keep(line)) stopped = true;
    else lines.push(line);
    shownUpTo = index;
  };
  for (let h = 0; h < hits.length && !stopped; h++) {
    const { index, focus } = hits[h]!;
    for (let i = Math.max(shownUpTo + 1, index - options.context); i < index; i++) show(i, 0, true);
    show(index, focus, false);
    const nextHit = hits[h + 1]?.index ?? Number.POSITIVE_INFINITY;
    for (let i = index + 1; i <= Math.min(count - 1, index + options.context) && i < nextHit; i++) show(i, 0, true);
  }
  return stopped ? { lines, matching: hits.length, cut: true } : { lines, matching: hits.length };
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
