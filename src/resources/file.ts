import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sniffBinary } from "../tools/text.ts";
import { resolveInsideRoots } from "../workspace/resolve.ts";
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
    const resolved = await resolveInsideRoots(workspace, path);
    if (!resolved.ok) throw new ResourceError(resolved.error, "invalid");
    if (!resolved.exists) throw new ResourceError(`Resource not found: no file at ${resolved.path}`, "not_found");
    const info = await stat(resolved.path);
    if (!info.isFile()) throw new ResourceError(`${resolved.path} is not a regular file; resources are files (list folders with the list_directory tool).`, "invalid");
    if (info.size > workspace.maxReadBytes) {
      throw new ResourceError(`${resolved.path} is ${info.size} bytes, over the read limit of ${workspace.maxReadBytes} (workspace.max_read_bytes); use read_file with a range.`, "invalid");
    }
    const file = Bun.file(resolved.path);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const mimeType = (file.type || "application/octet-stream").split(";")[0]!;
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
    const resolved = await resolveInsideRoots(workspace, folder);
    if (!resolved.ok || !resolved.exists) return workspace.roots.filter((root) => root.startsWith(typed)).slice(0, 100);
    try {
      const entries = await readdir(resolved.path, { withFileTypes: true });
      return entries
        .filter((e) => e.name.startsWith(prefix))
        .map((e) => join(folder, e.name) + (e.isDirectory() ? "/" : ""))
        .sort()
        .slice(0, 100);
    } catch {
      return [];
    }
  },
};
