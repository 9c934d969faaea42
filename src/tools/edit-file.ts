import { closeSync, fstatSync, lstatSync, read, type Stats } from "node:fs";
import * as v from "valibot";
import { writeAtomically } from "../atomic-write.ts";
import { hardLinkRefusal, openFileInsideRoots, openParentInsideRoots, reasonFor } from "../workspace/open-inside.ts";
import { displayPath, type Workspace } from "../workspace/resolve.ts";
import { defineTool, ToolError } from "./define.ts";
import { decodeText, sniffBinary } from "./text.ts";
import { unifiedDiff } from "./unified-diff.ts";

const edit = v.object({
  old_text: v.pipe(v.string(), v.minLength(1, "old_text is empty; give text that appears exactly once in the file"), v.description("Text to replace; must appear exactly once")),
  new_text: v.pipe(v.string(), v.description("Text to put in its place")),
});

const input = v.object({
  path: v.pipe(v.string(), v.description("File path, relative to the workspace root or absolute inside it")),
  edits: v.pipe(v.array(edit), v.minLength(1, "edits is empty; give at least one {old_text, new_text}"), v.description("Replacements, applied in order; each sees the text the ones before it left")),
  dry_run: v.optional(v.pipe(v.boolean(), v.description("Show the diff without writing the file")), false),
});

const output = v.object({
  path: v.string(),
  diff: v.string(),
  edits_applied: v.number(),
  dry_run: v.boolean(),
  bytes_written: v.number(),
});

const SHOWN_LINES = 10;

const readAt = (fd: number, buffer: Buffer, offset: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buffer, offset, buffer.length - offset, position, (error, n) => (error ? reject(error) : resolve(n))));

/** The file's bytes through the descriptor the path gate opened, with what they were read from. */
async function readWhole(workspace: Workspace, path: string): Promise<{ bytes: Buffer; info: Stats; shown: string }> {
  const opened = await openFileInsideRoots(workspace, path);
  if (!opened.ok) {
    const shown = opened.path === undefined ? "" : displayPath(workspace, opened.path);
    if (opened.code === "ENOENT") throw new ToolError(`File not found: ${shown}. edit_file changes an existing file; use write_file to create one.`);
    if (opened.code === "EISDIR") throw new ToolError(`${shown} is a directory; give a file path.`);
    throw new ToolError(opened.error);
  }
  try {
    const shown = displayPath(workspace, opened.path);
    const info = fstatSync(opened.fd);
    if (info.isDirectory()) throw new ToolError(`${shown} is a directory; give a file path.`);
    if (!info.isFile()) throw new ToolError(`${shown} is not a regular file; only regular files are edited.`);
    const refused = hardLinkRefusal(workspace, info, shown, "edited");
    if (refused) throw new ToolError(refused);
    if (info.size > workspace.maxReadBytes) {
      throw new ToolError(`${shown} is ${info.size} bytes, over the read limit of ${workspace.maxReadBytes} bytes (workspace.max_read_bytes); edit_file reads the whole file.`);
    }
    const bytes = Buffer.allocUnsafe(info.size);
    let done = 0;
    while (done < bytes.length) {
      const n = await readAt(opened.fd, bytes, done, done);
      if (n === 0) break;
      done += n;
    }
    return { bytes: bytes.subarray(0, done), info, shown };
  } finally {
    closeSync(opened.fd);
  }
}

/** The 1-based line of each place `needle` starts in `text` (overlapping ones too: each is a match). */
function matchLines(text: string, needle: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let counted = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    for (let i = text.indexOf("\n", counted); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) line++;
    counted = at;
    lines.push(line);
  }
  return lines;
}

const listLines = (lines: number[]) => (lines.length > SHOWN_LINES ? `${lines.slice(0, SHOWN_LINES).join(", ")} and ${lines.length - SHOWN_LINES} more` : lines.join(", "));

/**
 * The edits applied in order to `text`, written with the file's line ending; an error that
 * says which edit did not match exactly once, how often and on which lines.
 */
export function applyEdits(text: string, edits: { old_text: string; new_text: string }[], eol: "\n" | "\r\n"): { ok: true; text: string } | { ok: false; error: string } {
  const inFileEnding = (s: string) => s.replace(/\r?\n/g, eol);
  for (const [i, e] of edits.entries()) {
    const oldText = inFileEnding(e.old_text);
    const which = edits.length > 1 ? `edit ${i + 1} of ${edits.length}` : "the edit";
    const after = i === 0 ? "" : ` (the text after edit${i > 1 ? `s 1-${i}` : " 1"})`;
    const lines = matchLines(text, oldText);
    if (lines.length === 1) {
      const at = text.indexOf(oldText);
      text = text.slice(0, at) + inFileEnding(e.new_text) + text.slice(at + oldText.length);
      continue;
    }
    if (lines.length > 1) {
      return { ok: false, error: `In ${which}, old_text matches ${lines.length} times${after}, at lines ${listLines(lines)}; it must match exactly once. Add surrounding lines to old_text to pick one.` };
    }
    // A near miss is the common case (indentation, a changed line): say where its first line is.
    const firstLine = e.old_text.split(/\r?\n/).find((l) => l.trim() !== "")?.trim();
    const near = firstLine && firstLine !== e.old_text.trim() ? matchLines(text, firstLine) : [];
    const hint = near.length > 0 ? ` Its first line appears at line${near.length > 1 ? "s" : ""} ${listLines(near)}; compare the lines after it.` : " Read the file and copy old_text from it exactly, whitespace included.";
    return { ok: false, error: `In ${which}, old_text matches 0 times${after}; it must match exactly once.${hint}` };
  }
  return { ok: true, text };
}

/** A file's ending is the one its first line ends with; files without a line break get "\n". */
const lineEnding = (text: string): "\n" | "\r\n" => {
  const first = text.indexOf("\n");
  return first > 0 && text[first - 1] === "\r" ? "\r\n" : "\n";
};

/** The result ends with a line break exactly when the original did: edits often add or drop one by accident. */
function keepFinalNewline(before: string, after: string, eol: string): string {
  const had = before.endsWith("\n");
  if (had && after !== "" && !after.endsWith("\n")) return after + eol;
  if (!had && after.endsWith("\n")) return after.slice(0, after.endsWith("\r\n") ? -2 : -1);
  return after;
}

function writeMessage(error: NodeJS.ErrnoException, shown: string): string {
  const why = reasonFor(error.code);
  return `Cannot write ${shown}: ${why.startsWith("error ") && error.message ? error.message : why}. The file is unchanged.`;
}

/** Replaces the file read, by the same descriptor-confined path write_file uses, unless it changed since. */
async function replaceFile(workspace: Workspace, path: string, read: Stats, shown: string, bytes: Buffer) {
  const place = await openParentInsideRoots(workspace, path, false);
  if (!place.ok) throw new ToolError(place.code && place.path ? writeMessage({ code: place.code } as NodeJS.ErrnoException, shown) : place.error);
  try {
    // The folder is open; the leaf is never followed (lstat, and a rename replaces the name itself).
    const leaf = `${place.dir}/${place.name}`;
    const now = lstatSync(leaf, { throwIfNoEntry: false });
    if (!now || now.ino !== read.ino || now.dev !== read.dev || now.size !== read.size || now.mtimeMs !== read.mtimeMs) {
      throw new ToolError(`${shown} changed while it was being edited; nothing was written. Read it again and retry.`);
    }
    const refused = hardLinkRefusal(workspace, now, shown, "edited");
    if (refused) throw new ToolError(refused);
    await writeAtomically(leaf, bytes, now.mode & 0o7777);
  } catch (error) {
    if (error instanceof ToolError) throw error;
    throw new ToolError(writeMessage(error as NodeJS.ErrnoException, shown));
  } finally {
    place.close();
  }
}

export const editFile = defineTool({
  name: "edit_file",
  title: "Edit file",
  description:
    "Replace exact text in a UTF-8 file inside the workspace: edits are {old_text, new_text} pairs applied in order, each old_text matching exactly once. Answers with a unified diff; dry_run shows it without writing. The file is replaced atomically and keeps its line endings (CRLF stays CRLF) and its final newline, or lack of one.",
  input,
  output,
  // Not idempotent: the same edit twice finds nothing to replace (or replaces again).
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  writes: true,
  async run(args, { workspace }) {
    const { bytes, info, shown } = await readWhole(workspace, args.path);
    const binary = sniffBinary(bytes);
    if (binary) throw new ToolError(`${shown} looks like a binary file (${binary}, ${bytes.length} bytes); edit_file edits UTF-8 text only.`);
    const decoded = decodeText(bytes, { kind: "utf-8" });
    if (!decoded.ok) {
      const at = /first bad byte at offset \d+/.exec(decoded.error)?.[0];
      throw new ToolError(`${shown} is not valid UTF-8 text${at ? ` (${at})` : ""}; edit_file edits UTF-8 text only. Use write_file to replace it whole.`);
    }
    // The decoder drops a byte-order mark; the file keeps it.
    const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? "\uFEFF" : "";
    const before = decoded.text;
    const eol = lineEnding(before);
    const applied = applyEdits(before, args.edits, eol);
    if (!applied.ok) throw new ToolError(`${shown} was not changed. ${applied.error}`);
    const after = keepFinalNewline(before, applied.text, eol);
    const diff = unifiedDiff(before, after, shown);
    const newBytes = Buffer.from(bom + after, "utf8");
    if (diff !== "" && newBytes.length > workspace.maxWriteBytes) {
      throw new ToolError(`${shown} would be ${newBytes.length} bytes after these edits, over the write limit of ${workspace.maxWriteBytes} bytes (workspace.max_write_bytes); nothing was written.`);
    }
    const write = diff !== "" && !args.dry_run;
    if (write) await replaceFile(workspace, args.path, info, shown, newBytes);
    const data = { path: shown, diff, edits_applied: args.edits.length, dry_run: args.dry_run, bytes_written: write ? newBytes.length : 0 };
    const note = args.dry_run && diff !== "" ? "Dry run: nothing was written." : undefined;
    return { text: diff === "" ? "No changes" : diff, data, note };
  },
});
