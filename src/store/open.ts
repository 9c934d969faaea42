// storage.url (or database.postgres_url) → a store. Adapters are imported here only, when storage is first needed.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import type { Store } from "./port.ts";

export function defaultDatabasePath(env: Record<string, string | undefined> = process.env, home = homedir()): string {
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "tfo-mcp", "tfo-mcp.db");
  return join(env.XDG_DATA_HOME || join(home, ".local", "share"), "tfo-mcp", "tfo-mcp.db");
}

export type StorageTarget = { ok: true; kind: "memory" } | { ok: true; kind: "sqlite"; path: string } | { ok: false; error: string };
/** What storageUrl(config) names: a storage.url's target, or PostgreSQL. */
export type StoreTarget = StorageTarget | { ok: true; kind: "postgres"; url: string };

const POSTGRES_URL = /^postgres(ql)?:\/\//;

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
  if (POSTGRES_URL.test(u)) {
    return { ok: false, error: "storage.url does not take postgres://; PostgreSQL is chosen by storage.backend: postgres with database.postgres_url (storage.url takes sqlite:PATH or memory:)" };
  }
  return { ok: false, error: `storage.url ${JSON.stringify(u)} is not understood; use sqlite:PATH or memory:` };
}

/**
 * Pure: what a URL from storageUrl(config) means. A postgres:// URL there is
 * database.postgres_url, which storage.backend: postgres chose; anything else is a storage.url.
 */
export function storeTarget(url: string, cwd: string, defaultPath: string): StoreTarget {
  const u = url.trim();
  if (POSTGRES_URL.test(u)) return { ok: true, kind: "postgres", url: u };
  return parseStorageUrl(u, cwd, defaultPath);
}

export type OpenOptions = {
  /** database.postgres_max_conns: the most connections the store opens */
  postgresMaxConns?: number;
};

export async function openStore(url: string, cwd = process.cwd(), options: OpenOptions = {}): Promise<Store> {
  const target = storeTarget(url, cwd, defaultDatabasePath());
  if (!target.ok) throw new Error(target.error);
  if (target.kind === "memory") return (await import("./memory.ts")).memoryStore();
  if (target.kind === "postgres") return (await import("./postgres.ts")).postgresStore(target.url, { max: options.postgresMaxConns });
  return (await import("./sqlite.ts")).sqliteStore(target.path);
}

/** The store a config names, with its settings: what the server and the commands open. */
export async function openConfiguredStore(config: Config, cwd = process.cwd()): Promise<Store> {
  // Imported here, not at the top: schema.ts reads storage.url with parseStorageUrl from this module.
  const { storageUrl } = await import("../config/schema.ts");
  return openStore(storageUrl(config), cwd, { postgresMaxConns: config.database.postgres_max_conns });
}
