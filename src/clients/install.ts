// `tfo-mcp install <client>` / `uninstall <client>`: the file edits, with a backup first.
// Returns what happened as data; cli.ts prints it.
import { copyFile, mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { writeAtomically } from "../atomic-write.ts";
import { expandHome } from "../workspace/roots.ts";
import {
  CLIENT_LABEL,
  type ClientName,
  configPathFor,
  ENTRY_NAME,
  entryIn,
  type Parsed,
  parseConfig,
  render,
  type RootChoice,
  rootsWhenNoneGiven,
  type ServerEntry,
  serverEntry,
  withEntry,
  withoutEntry,
} from "./config-files.ts";

export { launcherOfThisProcess } from "./launcher.ts";

export type InstallOptions = {
  client: ClientName;
  remove: boolean;
  dryRun: boolean;
  /** the client's config file; default: its standard path */
  file?: string;
  /** as the person wrote them: `~` is expanded, relative ones resolve against cwd */
  roots: string[];
  /** how this program is started: [command, ...args before "serve"] */
  launcher: string[];
  home?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
};

export type InstallOutcome =
  | {
      ok: true;
      file: string;
      changed: boolean;
      dryRun: boolean;
      backup?: string;
      /** the entry written (or, for uninstall, the one removed) */
      entry?: ServerEntry;
      /**
       * What a dry run shows after the message: our entry as JSON, keyed by its name. Never the
       * whole file: ~/.claude.json holds the person's history and projects and can be megabytes.
       */
      after: string;
      message: string;
    }
  | { ok: false; file: string; error: string };

/** The person's --root values as absolute folders that exist, or which one is wrong and why. */
async function existingRoots(given: string[], cwd: string, home: string): Promise<RootChoice> {
  const roots: string[] = [];
  for (const root of given) {
    if (root.trim() === "") return { ok: false, error: "--root needs a folder (it was empty), e.g. --root ~/code/project." };
    const path = resolve(cwd, expandHome(root, home));
    const shown = path === root ? root : `${root} (${path})`;
    const kind = await stat(path).then(
      (s) => (s.isDirectory() ? "folder" : "other"),
      () => "missing",
    );
    if (kind === "missing") return { ok: false, error: `--root ${shown} does not exist. Name a folder that exists; nothing was written.` };
    if (kind === "other") return { ok: false, error: `--root ${shown} is not a folder. Name the folder to serve; nothing was written.` };
    roots.push(path);
  }
  return { ok: true, roots, serves: roots.join(", ") };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The entry as a command line a person can read (and paste into a shell). */
function commandLine(entry: ServerEntry): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
  return [entry.command, ...entry.args].map(quote).join(" ");
}

/** Our entry as a dry run prints it; env values are masked, as they often hold an API key. */
function shownEntry(entry: unknown): string {
  const env = (entry as { env?: unknown } | undefined)?.env;
  const masked = env && typeof env === "object" ? { ...(entry as object), env: Object.fromEntries(Object.keys(env).map((k) => [k, "********"])) } : entry;
  return JSON.stringify({ [ENTRY_NAME]: masked }, null, 2);
}

type Config = { ok: true; before: string | undefined; parsed: Extract<Parsed, { ok: true }> } | { ok: false; error: string };

async function readConfig(file: string): Promise<Config> {
  let before: string | undefined;
  try {
    before = await readIfExists(file);
  } catch (error) {
    return { ok: false, error: `cannot read ${file}: ${(error as Error).message}` };
  }
  const parsed = parseConfig(before ?? "");
  if (!parsed.ok) return { ok: false, error: `${file} ${parsed.error}; fix it or pass another file with --config. It was left untouched.` };
  return { ok: true, before, parsed };
}

export async function installClient(o: InstallOptions): Promise<InstallOutcome> {
  const cwd = o.cwd ?? process.cwd();
  const home = o.home ?? homedir();
  const file = o.file ? resolve(cwd, expandHome(o.file, home)) : configPathFor(o.client, { platform: process.platform, home, env: o.env ?? process.env });
  if (o.remove) return removeEntry(o, file);

  // Check what we would write before reading or touching anything.
  const roots = o.roots.length > 0 ? await existingRoots(o.roots, cwd, home) : rootsWhenNoneGiven(o.client);
  if (!roots.ok) return { ok: false, file, error: roots.error };
  const config = await readConfig(file);
  if (!config.ok) return { ok: false, file, error: config.error };
  const { before, parsed } = config;
  const previous = entryIn(parsed.doc);

  const [command = process.execPath, ...baseArgs] = o.launcher;
  // The person's own env (an ANTHROPIC_API_KEY, as the README suggests) survives an update.
  const kept = (previous as { env?: unknown } | undefined)?.env;
  const fresh = serverEntry(o.client, command, baseArgs, roots.roots);
  const entry = kept && typeof kept === "object" && !Array.isArray(kept) ? { ...fresh, env: kept as Record<string, string> } : fresh;
  const what = (will: string) => `${commandLine(entry)}. It ${will} serve ${roots.serves}.`;
  // Compare entries, not file texts: re-rendering could reflow the person's other entries.
  if (Bun.deepEquals(previous, entry)) {
    return { ok: true, file, changed: false, dryRun: o.dryRun, entry, after: shownEntry(entry), message: `${file} already has this "${ENTRY_NAME}" entry, so nothing changed: ${what("will")}` };
  }
  if (o.dryRun) {
    const would = previous === undefined ? `add "${ENTRY_NAME}" to` : `update "${ENTRY_NAME}" in`;
    return { ok: true, file, changed: true, dryRun: true, entry, after: shownEntry(entry), message: `Dry run: would ${would} ${file}: ${what("would")} Nothing was written. The entry under "mcpServers" would read:` };
  }
  const written = await writeWithBackup(file, before, render(withEntry(parsed.doc, entry), parsed.indent, parsed.newline));
  if (!written.ok) return { ok: false, file, error: written.error };
  const done = previous === undefined ? `Added "${ENTRY_NAME}" to ${file}${before === undefined ? " (a new file)" : ""}` : `Updated "${ENTRY_NAME}" in ${file}`;
  const backup = written.backup ? ` Backup: ${written.backup}.` : "";
  return { ok: true, file, changed: true, dryRun: false, backup: written.backup, entry, after: shownEntry(entry), message: `${done}: ${what("will")}${backup} ${CLIENT_LABEL[o.client].reload}` };
}

async function removeEntry(o: InstallOptions, file: string): Promise<InstallOutcome> {
  const config = await readConfig(file);
  if (!config.ok) return { ok: false, file, error: config.error };
  const { before, parsed } = config;
  const previous = entryIn(parsed.doc);
  if (previous === undefined) return { ok: true, file, changed: false, dryRun: o.dryRun, after: "", message: `${file} has no "${ENTRY_NAME}" entry; nothing to remove.` };
  if (o.dryRun) {
    return { ok: true, file, changed: true, dryRun: true, after: shownEntry(previous), message: `Dry run: would remove "${ENTRY_NAME}" from ${file}; nothing was written. The entry that would go:` };
  }
  const written = await writeWithBackup(file, before, render(withoutEntry(parsed.doc).doc, parsed.indent, parsed.newline));
  if (!written.ok) return { ok: false, file, error: written.error };
  const backup = written.backup ? ` Backup: ${written.backup}.` : "";
  return { ok: true, file, changed: true, dryRun: false, backup: written.backup, after: "", message: `Removed "${ENTRY_NAME}" from ${file}.${backup} Restart ${CLIENT_LABEL[o.client].name} to unload it.` };
}

/** Copies the old file aside first, then replaces it in one rename, keeping its mode. */
async function writeWithBackup(file: string, before: string | undefined, after: string): Promise<{ ok: true; backup?: string } | { ok: false; error: string }> {
  try {
    let backup: string | undefined;
    let mode: number | undefined;
    if (before !== undefined) {
      mode = (await stat(file)).mode & 0o777;
      backup = `${file}.tfo-mcp-backup`;
      await copyFile(file, backup);
    } else {
      await mkdir(dirname(file), { recursive: true });
    }
    await writeAtomically(file, Buffer.from(after, "utf8"), mode);
    return { ok: true, backup };
  } catch (error) {
    return { ok: false, error: `cannot write ${file}: ${(error as Error).message}` };
  }
}
