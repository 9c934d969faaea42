import { closeSync, fstatSync, read } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sniffBinary } from "../tools/text.ts";
import { hardLinkRefusal, openFileInsideRoots, openFolderInsideRoots } from "../workspace/open-inside.ts";
import { ResourceError, type ResourceTemplate } from "./define.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The path a file:// URI names. A client that fills in file:///{path} with RFC 6570 simple
 * expansion (the SDK's UriTemplate) sends every "/" of the path as %2F, and a leading one
 * too when the value has it (file:///%2Fhome%2Fme%2Fa.md): a name cannot hold "/" (nor "\"
 * on Windows), so these are separators, read as such.
 */
function pathOf(uri: string): string | undefined {
  if (!uri.startsWith("file://")) return undefined;
  try {
    const url = new URL(uri);
    const separators = process.platform === "win32" ? /%2f|%5c/gi : /%2f/gi;
    const decoded = url.pathname.replace(separators, "/");
    if (decoded !== url.pathname) url.pathname = decoded.replace(/^\/{2,}/, "/");
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

// Bun.file().type knows types by extension for the web: several source extensions are
// missing there (.py, .go: application/octet-stream) or mean something else (.rs is
// application/rls-services+xml, .ts text/javascript, .sql application/x-sql). A file read as
// text gets one of these, else its extension's type when that is a text type, else text/plain.
const SOURCE_TYPES: Record<string, string> = {
  rs: "text/x-rust",
  ts: "text/x-typescript",
  mts: "text/x-typescript",
  cts: "text/x-typescript",
  tsx: "text/x-typescript",
  py: "text/x-python",
  pyi: "text/x-python",
  rb: "text/x-ruby",
  go: "text/x-go",
  kt: "text/x-kotlin",
  kts: "text/x-kotlin",
  swift: "text/x-swift",
  cs: "text/x-csharp",
  hpp: "text/x-c++",
  hh: "text/x-c++",
  scala: "text/x-scala",
  hs: "text/x-haskell",
  ex: "text/x-elixir",
  exs: "text/x-elixir",
  erl: "text/x-erlang",
  clj: "text/x-clojure",
  zig: "text/x-zig",
  dart: "text/x-dart",
  php: "text/x-php",
  sh: "text/x-shellscript",
  bash: "text/x-shellscript",
  zsh: "text/x-shellscript",
  sql: "text/x-sql",
  vue: "text/x-vue",
  svelte: "text/x-svelte",
  graphql: "text/x-graphql",
  proto: "text/x-protobuf",
  diff: "text/x-diff",
  patch: "text/x-diff",
};
const TEXT_APPLICATION_TYPES = new Set(["application/json", "application/xml", "application/javascript", "application/toml", "application/x-tex", "application/x-perl", "image/svg+xml"]);

/** The MIME type of a file by its name: for text, always a text type where the name allows. */
export function mimeTypeOf(path: string, isText: boolean): string {
  const known = (Bun.file(path).type || "application/octet-stream").split(";")[0]!;
  const dot = basename(path).lastIndexOf(".");
  const source = dot > 0 ? SOURCE_TYPES[basename(path).slice(dot + 1).toLowerCase()] : undefined;
  if (!isText) return source ? "application/octet-stream" : known;
  if (source) return source;
  return known.startsWith("text/") || TEXT_APPLICATION_TYPES.has(known) ? known : "text/plain";
}

export const fileTemplate: ResourceTemplate = {
  uriTemplate: "file:///{path}",
  name: "file",
  title: "Workspace file",
  description: "A file inside the workspace roots by absolute path (file:///home/me/project/README.md): text, or base64 blob for binary files.",
  match(uri) {
    const path = pathOf(uri);
    return path === undefined ? undefined : { path };
  },
  async read(uri, { path }, { workspace }) {
    const opened = await openFileInsideRoots(workspace, path);
    if (!opened.ok) {
      if (opened.code === "ENOENT") throw new ResourceError(`Resource not found: no file at ${opened.path}`, "not_found");
      throw new ResourceError(opened.code === "ENXIO" || opened.code === "EISDIR" ? notAFile(opened.path!) : opened.error, "invalid");
    }
    let bytes: Uint8Array;
    try {
      const info = fstatSync(opened.fd);
      if (!info.isFile()) throw new ResourceError(notAFile(opened.path), "invalid");
      const refused = hardLinkRefusal(workspace, info, opened.path, "read");
      if (refused) throw new ResourceError(refused, "invalid");
      if (info.size > workspace.maxReadBytes) {
        throw new ResourceError(`${opened.path} is ${info.size} bytes, over the read limit of ${workspace.maxReadBytes} (workspace.max_read_bytes); use read_file with a range.`, "invalid");
      }
      bytes = await readAll(opened.fd, info.size);
    } finally {
      closeSync(opened.fd);
    }
    // The type comes from the name alone; Bun.file(path) does not open the file for it.
    if (!sniffBinary(bytes)) {
      try {
        const text = utf8.decode(bytes);
        return { uri, mimeType: mimeTypeOf(opened.path, true), text };
      } catch {
        // not UTF-8: served as bytes below
      }
    }
    return { uri, mimeType: mimeTypeOf(opened.path, false), blob: Buffer.from(bytes).toString("base64") };
  },
  // Values take the form the client typed. The template's own slash comes before {path}, so
  // a value typed without one (or nothing typed yet) gets none: "home/me/a.md" expands to
  // file:///home%2Fme%2Fa.md, which match() reads back. A value typed with one keeps it, so
  // the values still begin with what was typed; it expands to file:///%2Fhome…, read the same.
  async complete(argument, value, { workspace }) {
    if (argument !== "path") return [];
    const typed = value.startsWith("/") ? value : `/${value}`;
    const shown = (path: string) => (value.startsWith("/") ? path : path.slice(1));
    const folder = typed.endsWith("/") ? typed.slice(0, -1) || "/" : dirname(typed);
    const prefix = typed.endsWith("/") ? "" : basename(typed);
    const opened = await openFolderInsideRoots(workspace, folder, { missing: () => "", file: () => "" });
    if (!opened.ok) return workspace.roots.filter((root) => root.startsWith(typed)).map(shown).slice(0, 100);
    try {
      const entries = await readdir(opened.ref, { withFileTypes: true });
      return entries
        .filter((e) => e.name.startsWith(prefix))
        .map((e) => shown(join(folder, e.name) + (e.isDirectory() ? "/" : "")))
        .sort()
        .slice(0, 100);
    } catch {
      return [];
    } finally {
      opened.close();
    }
  },
};

const notAFile = (path: string) => `${path} is not a regular file; resources are files (list folders with the list_directory tool).`;

/** The whole file through the descriptor the path gate opened (at most workspace.max_read_bytes). */
async function readAll(fd: number, size: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buffer, done, size - done, done, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))));
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}
