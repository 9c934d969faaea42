import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats, write } from "node:fs";
import { writeAtomically } from "../atomic-write.ts";
import * as v from "valibot";
import { O_NOFOLLOW, O_NONBLOCK } from "../workspace/beneath.ts";
import { hardLinkRefusal, openParentInsideRoots, reasonFor } from "../workspace/open-inside.ts";
import { displayPath, type Workspace } from "../workspace/resolve.ts";
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

function fsMessage(error: { code?: string; message?: string }, shown: string): string {
  const why = reasonFor(error.code);
  return `Cannot write ${shown}: ${why.startsWith("error ") && error.message ? error.message : why}. The previous content, if any, is unchanged.`;
}

const writeAt = (fd: number, bytes: Buffer, offset: number) =>
  new Promise<number>((resolve, reject) => write(fd, bytes, offset, bytes.length - offset, null, (error, written) => (error ? reject(error) : resolve(written))));

/** Appends through a descriptor opened without following a symlink, after the hard-link check on that descriptor. */
async function appendTo(leaf: string, bytes: Buffer, workspace: Workspace, shown: string) {
  const fd = openSync(leaf, constants.O_WRONLY | constants.O_APPEND | O_NOFOLLOW | O_NONBLOCK);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new ToolError(`${shown} is not a regular file; only regular files are written.`);
    const refused = hardLinkRefusal(workspace, info, shown, "appended to");
    if (refused) throw new ToolError(`${refused} Without append, write_file replaces the file with a new one and leaves the other link as it was.`);
    let done = 0;
    while (done < bytes.length) done += await writeAt(fd, bytes, done);
  } finally {
    closeSync(fd);
  }
}

export const writeFile = defineTool({
  name: "write_file",
  title: "Write file",
  description:
    "Write text to a file inside the workspace, replacing it atomically (a crash never leaves half a file), or append to it. Set create_dirs to make missing folders.",
  input,
  output,
  // Not idempotent: with append, the same call twice writes twice.
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  writes: true,
  async run(args, { workspace }) {
    const bytes = Buffer.from(args.content, "utf8");
    // Checked before the path, so a refused write never leaves folders made by create_dirs.
    if (bytes.length > workspace.maxWriteBytes) {
      throw new ToolError(`Content is ${bytes.length} bytes, over the write limit of ${workspace.maxWriteBytes} bytes (workspace.max_write_bytes).`);
    }
    const place = await openParentInsideRoots(workspace, args.path, args.create_dirs);
    if (!place.ok) throw new ToolError(place.code && place.path ? fsMessage({ code: place.code }, displayPath(workspace, place.path)) : place.error);
    const shown = displayPath(workspace, place.path);
    // The folder is open: `leaf` names the entry in exactly that folder, and is never followed
    // if it is (or becomes) a symlink: lstat does not, append opens it with O_NOFOLLOW, and a
    // rename replaces the link itself.
    const leaf = `${place.dir}/${place.name}`;
    let existing: Stats | undefined;
    try {
      existing = lstatSync(leaf, { throwIfNoEntry: false });
      if (existing?.isDirectory()) throw new ToolError(`${shown} is a directory; give a file path.`);
      if (existing && !existing.isFile() && !existing.isSymbolicLink()) throw new ToolError(`${shown} is not a regular file; only regular files are written.`);
      const isFile = existing?.isFile() ?? false;
      if (args.append && isFile) await appendTo(leaf, bytes, workspace, shown);
      // Replacing is allowed on a file with several hard links: the new content goes to a new
      // file renamed over this name, so the other names keep the old inode, untouched.
      else await writeAtomically(leaf, bytes, isFile ? existing!.mode & 0o7777 : undefined);
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw new ToolError(fsMessage(error as NodeJS.ErrnoException, shown));
    } finally {
      place.close();
    }
    const created = !existing?.isFile();
    const data = { path: shown, bytes_written: bytes.length, created, appended: args.append && !created };
    // Upstream's sentence, so scripts that parse it keep working; it counted characters,
    // which a second block gives when they differ from the bytes.
    const verb = data.appended ? "appended" : "wrote";
    const characters = args.content.length;
    const note = characters !== bytes.length ? `(${characters} characters)` : undefined;
    return { text: `Successfully ${verb} ${bytes.length} bytes to ${shown}`, data, note };
  },
});
