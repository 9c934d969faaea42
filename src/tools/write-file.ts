import { appendFile, lstat, mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { writeAtomically } from "../atomic-write.ts";
import * as v from "valibot";
import { displayPath, resolveInsideRoots } from "../workspace/resolve.ts";
import { defineTool, ToolError } from "./define.ts";

const input = v.object({
  path: v.pipe(v.string(), v.description("File path, relative to the workspace root or absolute inside it")),
  content: v.pipe(v.string(), v.description("Text to write (UTF-8)")),
  create_dirs: v.optional(v.pipe(v.boolean(), v.description("Create missing parent folders")), false),
  append: v.optional(v.pipe(v.boolean(), v.description("Add to the end of the file instead of replacing it")), false),
});

const output = v.object({
  path: v.string(),
  bytes_written: v.number(),
  created: v.boolean(),
  appended: v.boolean(),
});

function fsMessage(error: unknown, shown: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOSPC: "no space left on the device",
    EROFS: "the file system is read-only",
    EISDIR: "it is a directory",
    ENOTDIR: "a parent in the path is a file, not a folder",
    EDQUOT: "disk quota exceeded",
  };
  return `Cannot write ${shown}: ${why[code ?? ""] ?? (error as Error).message}. The previous content, if any, is unchanged.`;
}

export const writeFile = defineTool({
  name: "write_file",
  title: "Write file",
  description:
    "Write text to a file inside the workspace, replacing it atomically (a crash never leaves half a file), or append to it. Set create_dirs to make missing folders.",
  input,
  output,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  writes: true,
  async run(args, { workspace }) {
    const resolved = await resolveInsideRoots(workspace, args.path);
    if (!resolved.ok) throw new ToolError(resolved.error);
    const shown = displayPath(workspace, resolved.path);
    const bytes = Buffer.from(args.content, "utf8");
    if (bytes.length > workspace.maxWriteBytes) {
      throw new ToolError(`Content is ${bytes.length} bytes, over the write limit of ${workspace.maxWriteBytes} bytes (workspace.max_write_bytes).`);
    }
    if (resolved.path === resolved.root) throw new ToolError(`${shown} is the workspace root folder, not a file.`);
    const parent = dirname(resolved.path);
    let existingMode: number | undefined;
    try {
      if (resolved.exists) {
        const info = await lstat(resolved.path);
        if (info.isDirectory()) throw new ToolError(`${shown} is a directory; give a file path.`);
        if (!info.isFile()) throw new ToolError(`${shown} is not a regular file; only regular files are written.`);
        existingMode = info.mode & 0o7777;
      } else {
        const parentInfo = await stat(parent).catch(() => undefined);
        if (!parentInfo) {
          if (!args.create_dirs) {
            throw new ToolError(`Folder ${displayPath(workspace, parent)} does not exist. Set create_dirs to true to create it.`);
          }
          await mkdir(parent, { recursive: true });
        } else if (!parentInfo.isDirectory()) {
          throw new ToolError(`${displayPath(workspace, parent)} is a file, not a folder.`);
        }
      }
      if (args.append && resolved.exists) await appendFile(resolved.path, bytes);
      else await writeAtomically(resolved.path, bytes, existingMode);
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw new ToolError(fsMessage(error, shown));
    }
    const data = { path: shown, bytes_written: bytes.length, created: !resolved.exists, appended: args.append && resolved.exists };
    const verb = data.appended ? "Appended" : "Wrote";
    return { text: `${verb} ${bytes.length} bytes to ${shown}`, data };
  },
});
