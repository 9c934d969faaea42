// Replacing a file without ever leaving half of it: used by write_file and by `tfo-mcp install`.
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

// node:crypto costs ~5 ms of start-up; Web Crypto is already loaded.
const randomSuffix = () => Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Replace a file so that a reader, or a crash at any moment, sees either the old
 * content or the new one: write a temp file beside it, fsync, then rename over.
 * write_file passes /proc/self/fd/N/name on Linux (N: the folder it opened beneath a root):
 * the temp file and the rename then stay in exactly that folder, whatever is swapped on
 * the way to it; "wx" (O_EXCL) never follows a symlink, and rename replaces a link itself.
 */
export async function writeAtomically(path: string, bytes: Uint8Array, mode?: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tfo-${randomSuffix()}.tmp`);
  const fd = await open(temp, "wx", mode ?? 0o644);
  try {
    let done = 0;
    while (done < bytes.length) done += (await fd.write(bytes, done, bytes.length - done)).bytesWritten;
    if (mode !== undefined) await fd.chmod(mode);
    await fd.sync();
  } catch (error) {
    await fd.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fd.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

