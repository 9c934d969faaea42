import { closeSync, fstatSync, read } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sniffBinary } from "../tools/text.ts";
import { hardLinkRefusal, openFileInsideRoots, openFolderInsideRoots } from "../workspace/open-inside.ts";
import { ResourceError, type ResourceTemplate } from "./define.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function pathOf(uri: string): string | undefined {
  if (!uri.startsWith("file://")) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
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
    const mimeType = (Bun.file(opened.path).type || "application/octet-stream").split(";")[0]!;
    if (!sniffBinary(bytes)) {
      try {
        const text = utf8.decode(bytes);
        return { uri, mimeType: mimeType === "application/octet-stream" ? "text/plain" : mimeType, text };
      } catch {
        // not UTF-8: served as bytes below
      }
    }
    return { uri, mimeType, blob: Buffer.from(bytes).toString("base64") };
  },
  async complete(argument, value, { workspace }) {
    if (argument !== "path") return [];
    const typed = value.startsWith("/") ? value : `/${value}`;
    const folder = typed.endsWith("/") ? typed.slice(0, -1) || "/" : dirname(typed);
    const prefix = typed.endsWith("/") ? "" : basename(typed);
    const opened = await openFolderInsideRoots(workspace, folder, { missing: () => "", file: () => "" });
    if (!opened.ok) return workspace.roots.filter((root) => root.startsWith(typed)).slice(0, 100);
    try {
      const entries = await readdir(opened.ref, { withFileTypes: true });
      return entries
        .filter((e) => e.name.startsWith(prefix))
        .map((e) => join(folder, e.name) + (e.isDirectory() ? "/" : ""))
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
