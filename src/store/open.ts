// storage.url → a store. Adapters are imported here only, when storage is first needed.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Store } from "./port.ts";

export function defaultDatabasePath(env: Record<string, string | undefined> = process.env, home = homedir()): string {
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "tfo-mcp", "tfo-mcp.db");
  return join(env.XDG_DATA_HOME || join(home, ".local", "share"), "tfo-mcp", "tfo-mcp.db");
}

export type StorageTarget = { ok: true; kind: "memory" } | { ok: true; kind: "sqlite"; path: string } | { ok: false; error: string };

/** Pure: what a storage.url means. */
export function parseStorageUrl(url: string, cwd: string, defaultPath: string): StorageTarget {
  const u = url.trim();
  if (u === "") return { ok: true, kind: "sqlite", path: defaultPath };
  if (u === "memory:" || u === "memory") return { ok: true, kind: "memory" };
  if (u.startsWith("sqlite:")) {
    const rest = u.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (rest === "") return { ok: false, error: "storage.url sqlite: needs a path, e.g. sqlite:/home/me/.local/share/tfo-mcp/tfo-mcp.db" };
    return { ok: true, kind: "sqlite", path: rest === ":memory:" ? rest : resolve(cwd, rest) };
  }
  if (/^postgres(ql)?:\/\//.test(u)) return { ok: false, error: "storage.url postgres:// is not supported by this build; use sqlite:PATH or memory:" };
  return { ok: false, error: `storage.url ${JSON.stringify(u)} is not understood; use sqlite:PATH or memory:` };
}

export async function openStore(url: string, cwd = process.cwd()): Promise<Store> {
  const target = parseStorageUrl(url, cwd, defaultDatabasePath());
  if (!target.ok) throw new Error(target.error);
  if (target.kind === "memory") return (await import("./memory.ts")).memoryStore();
  return (await import("./sqlite.ts")).sqliteStore(target.path);
}
