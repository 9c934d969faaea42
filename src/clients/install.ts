// `tfo-mcp install <client>` / `uninstall <client>`: the file edits, with a backup first.
// Returns what happened as data; cli.ts prints it.
import { copyFile, mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { writeAtomically } from "../atomic-write.ts";
import { type ClientName, configPathFor, ENTRY_NAME, parseConfig, render, serverEntry, withEntry, withoutEntry } from "./config-files.ts";

export type InstallOptions = {
  client: ClientName;
  remove: boolean;
  dryRun: boolean;
  /** the client's config file; default: its standard path */
  file?: string;
  roots: string[];
  /** how this program is started: [command, ...args before "serve"] */
  launcher: string[];
  home?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
};

export type InstallOutcome =
  | { ok: true; file: string; changed: boolean; dryRun: boolean; backup?: string; before: string; after: string; message: string }
  | { ok: false; file: string; error: string };

/** How to start this very program from a client: the compiled binary, or bun + this source file. */
export function launcherOfThisProcess(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN");
  return compiled ? [process.execPath] : [process.execPath, Bun.main];
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export async function installClient(o: InstallOptions): Promise<InstallOutcome> {
  const cwd = o.cwd ?? process.cwd();
  const file = o.file ? resolve(cwd, o.file) : configPathFor(o.client, { platform: process.platform, home: o.home ?? homedir(), env: o.env ?? process.env });
  let before: string | undefined;
  try {
    before = await readIfExists(file);
  } catch (error) {
    return { ok: false, file, error: `cannot read ${file}: ${(error as Error).message}` };
  }
  const parsed = parseConfig(before ?? "");
  if (!parsed.ok) return { ok: false, file, error: `${file} ${parsed.error}; fix it or pass another file with --config. It was left untouched.` };

  const [command = process.execPath, ...baseArgs] = o.launcher;
  const roots = o.roots.map((r) => resolve(cwd, r));
  const next = o.remove ? withoutEntry(parsed.doc) : { doc: withEntry(parsed.doc, serverEntry(o.client, command, baseArgs, roots)), removed: false };
  if (o.remove && !next.removed) {
    return { ok: true, file, changed: false, dryRun: o.dryRun, before: before ?? "", after: before ?? "", message: `${file} has no "${ENTRY_NAME}" entry; nothing to remove.` };
  }
  const after = render(next.doc, parsed.indent, parsed.newline);
  if (after === before) {
    return { ok: true, file, changed: false, dryRun: o.dryRun, before, after, message: `${file} already has this "${ENTRY_NAME}" entry; nothing changed.` };
  }
  if (o.dryRun) {
    const would = o.remove ? `remove "${ENTRY_NAME}" from` : before === undefined ? "create" : `update "${ENTRY_NAME}" in`;
    return { ok: true, file, changed: true, dryRun: true, before: before ?? "", after, message: `Dry run: would ${would} ${file}; nothing was written. The file would read:` };
  }
  let backup: string | undefined;
  let mode: number | undefined;
  try {
    if (before !== undefined) {
      mode = (await stat(file)).mode & 0o777;
      backup = `${file}.tfo-mcp-backup`;
      await copyFile(file, backup);
    } else {
      await mkdir(dirname(file), { recursive: true });
    }
    await writeAtomically(file, Buffer.from(after, "utf8"), mode);
  } catch (error) {
    return { ok: false, file, error: `cannot write ${file}: ${(error as Error).message}` };
  }
  const done = o.remove ? `Removed "${ENTRY_NAME}" from ${file}` : before === undefined ? `Created ${file} with a "${ENTRY_NAME}" entry` : `Updated "${ENTRY_NAME}" in ${file}`;
  return { ok: true, file, changed: true, dryRun: false, backup, before: before ?? "", after, message: `${done}${backup ? ` (backup: ${backup})` : ""}. Restart the client to load it.` };
}
