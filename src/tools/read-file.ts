import { closeSync, fstatSync, read } from "node:fs";
import * as v from "valibot";
import { hardLinkRefusal, openFileInsideRoots } from "../workspace/open-inside.ts";
import { displayPath } from "../workspace/resolve.ts";
import { defineTool, readOnly, ToolError } from "./define.ts";
import { decodeText, ENCODING_HELP, type Encoding, resolveEncoding, sniffBinary } from "./text.ts";

const CHUNK = 64 * 1024;
const count = (what: string) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.description(what)));
const lines = (what: string) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.description(what)));

const input = v.pipe(
  v.object({
    path: v.pipe(v.string(), v.description("File path, relative to the workspace root or absolute inside it")),
    encoding: v.optional(
      v.pipe(
        v.string(),
        v.check((name) => resolveEncoding(name) !== undefined, (issue) => `unknown encoding ${JSON.stringify(issue.input)}; use ${ENCODING_HELP}`),
        v.description(`Text encoding: ${ENCODING_HELP}`),
      ),
      "utf-8",
    ),
    offset: count("Byte offset to start reading at"),
    length: count("Number of bytes to read from offset"),
    head: lines("Return only the first N lines"),
    tail: lines("Return only the last N lines"),
  }),
  v.check((a) => !(a.head !== undefined && a.tail !== undefined), "give head or tail, not both"),
  v.check(
    (a) => !((a.head !== undefined || a.tail !== undefined) && (a.offset !== undefined || a.length !== undefined)),
    "give a line range (head/tail) or a byte range (offset/length), not both",
  ),
);

type Range = { start: number; end: number; truncated: boolean };

const readAt = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))));

/** Reads through the descriptor the path gate opened: the file checked is the file read. */
async function readRange(fd: number, start: number, end: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(end - start);
  let done = 0;
  while (done < buffer.length) {
    const bytesRead = await readAt(fd, buffer, done, buffer.length - done, start + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === buffer.length ? buffer : buffer.subarray(0, done);
}

/** Forward from the start until N newlines: cost grows with the head, not the file. */
async function headRange(fd: number, size: number, n: number, max: number): Promise<Range> {
  let pos = 0;
  let seen = 0;
  while (pos < size && pos < max) {
    const chunk = await readRange(fd, pos, Math.min(size, pos + CHUNK, max));
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === 10 && ++seen === n) return { start: 0, end: pos + i + 1, truncated: false };
    }
    pos += chunk.length;
    if (chunk.length === 0) break;
  }
  return { start: 0, end: Math.min(size, max), truncated: size > max && seen < n };
}

/** Backward from the end until N line breaks: cost grows with the tail, not the file. */
async function tailRange(fd: number, size: number, n: number, max: number): Promise<Range> {
  let end = size;
  let pos = size;
  let seen = 0;
  // A final newline ends the last line; it does not start an empty one.
  if (size > 0 && (await readRange(fd, size - 1, size))[0] === 10) seen = -1;
  while (pos > 0 && size - pos < max) {
    const from = Math.max(0, pos - CHUNK, size - max);
    const chunk = await readRange(fd, from, pos);
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] === 10 && ++seen === n) return { start: from + i + 1, end, truncated: false };
    }
    pos = from;
  }
  return { start: pos, end, truncated: pos > 0 };
}

export const readFile = defineTool({
  name: "read_file",
  title: "Read file",
  description:
    "Read a text file inside the workspace. Large files: use head/tail (lines) or offset/length (bytes). Binary files are refused unless encoding is base64.",
  input,
  annotations: readOnly,
  async run(args, ctx) {
    const { workspace } = ctx;
    const opened = await openFileInsideRoots(workspace, args.path);
    if (!opened.ok) {
      const shown = opened.path === undefined ? "" : displayPath(workspace, opened.path);
      if (opened.code === "ENOENT") throw new ToolError(`File not found: ${shown}. Use list_directory or search_files to find it.`);
      if (opened.code === "ENXIO") throw new ToolError(notRegular(shown));
      // Windows cannot open a folder as a file.
      if (opened.code === "EISDIR") throw new ToolError(isFolder(shown));
      throw new ToolError(opened.error);
    }
    const { fd } = opened;
    try {
      const shown = displayPath(workspace, opened.path);
      const info = fstatSync(fd);
      if (info.isDirectory()) throw new ToolError(isFolder(shown));
      if (!info.isFile()) throw new ToolError(notRegular(shown));
      const refused = hardLinkRefusal(workspace, info, shown, "read");
      if (refused) throw new ToolError(refused);
      const size = info.size;
      const max = workspace.maxReadBytes;

      let range: Range;
      if (args.head !== undefined) range = await headRange(fd, size, args.head, max);
      else if (args.tail !== undefined) range = await tailRange(fd, size, args.tail, max);
      else if (args.offset !== undefined || args.length !== undefined) {
        const start = Math.min(args.offset ?? 0, size);
        const wanted = args.length ?? size - start;
        const end = Math.min(size, start + wanted, start + max);
        range = { start, end, truncated: end < Math.min(size, start + wanted) };
      } else {
        if (size > max) {
          throw new ToolError(
            `${shown} is ${size} bytes, over the read limit of ${max} bytes (workspace.max_read_bytes). Read part of it with head or tail (lines) or offset and length (bytes).`,
          );
        }
        range = { start: 0, end: size, truncated: false };
      }
      const bytes = await readRange(fd, range.start, range.end);
      const encoding = resolveEncoding(args.encoding) as Encoding;
      if (encoding.kind !== "base64") {
        const binary = sniffBinary(bytes);
        if (binary) {
          throw new ToolError(
            `${shown} looks like a binary file (${binary}, ${size} bytes); read_file returns text. Use encoding "base64" to get its bytes.`,
          );
        }
      }
      const decoded = decodeText(bytes, encoding, range.start > 0, range.end < size);
      if (!decoded.ok) throw new ToolError(`${shown}: ${decoded.error}`);
      const end = range.start + bytes.length;
      const meta = { path: shown, encoding: args.encoding, size, start: range.start, end, truncated: range.truncated };
      // The file's own text is the content; a second block says so only when it is a part of the file.
      const partial = range.start > 0 || end < size;
      const note = partial ? `[${shown}: bytes ${range.start}-${end} of ${size}${range.truncated ? `; cut at the read limit of ${max} bytes (workspace.max_read_bytes)` : ""}]` : undefined;
      return { text: decoded.text, meta, note };
    } finally {
      closeSync(fd);
    }
  },
});

const isFolder = (shown: string) => `${shown} is a directory; use list_directory to see what it holds.`;
const notRegular = (shown: string) => `${shown} is not a regular file (a device, socket or pipe); only regular files can be read.`;
