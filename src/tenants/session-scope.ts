// What one http session may use, from who opened it. A tenant (an API key from the store)
// gets its roots within the server's, its tools, its read-only flag, its own conversations,
// and log lines with its name; anyone else (an http.api_keys key, a peer on a server
// without keys) the server's own, with the server's own conversations.
import { realpath } from "node:fs/promises";
import type { Telemetry } from "../telemetry/port.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Owner, Store } from "../store/port.ts";
import { scopedStore } from "../store/scoped.ts";
import type { Tool } from "../tools/define.ts";
import type { Workspace } from "../workspace/resolve.ts";
import { narrowRoots } from "../workspace/roots.ts";
import type { ApiKey } from "./keys.ts";

/** The deps of createServer that depend on who opened the session. */
export type SessionScope = {
  config: Config;
  workspace: Workspace;
  tools: readonly Tool[];
  log: Logger;
  openStore: () => Promise<Store>;
  telemetry?: Telemetry;
  telemetryAttributes?: Record<string, string>;
};

/** The server's own: what it was started with. */
export type ServerScope = { config: Config; workspace: Workspace; tools: readonly Tool[]; log: Logger; openStore: () => Promise<Store>; telemetry?: Telemetry };

/** Every line of a session's log carries who it speaks for: the tool-call audit included. */
export function taggedLogger(log: Logger, principal: string): Logger {
  const tag = (fields?: Record<string, unknown>) => ({ principal, ...fields });
  return {
    debug: (message, fields) => log.debug(message, tag(fields)),
    info: (message, fields) => log.info(message, tag(fields)),
    warn: (message, fields) => log.warn(message, tag(fields)),
    error: (message, fields) => log.error(message, tag(fields)),
  };
}

function storeOf(open: () => Promise<Store>, owner: Owner): () => Promise<Store> {
  let view: Promise<Store> | undefined;
  return () => {
    view ??= open().then((store) => scopedStore(store, owner));
    // A failed open is not kept, as with the store itself: the next use tries again.
    view.catch(() => {
      view = undefined;
    });
    return view;
  };
}

/**
 * Over http the client's roots are folders on another machine, so they may only narrow the
 * server's roots, never replace them: a client must not pick which of the server's folders
 * it gets.
 */
const asCeiling = (workspace: Workspace): Workspace => (workspace.explicit ? workspace : { ...workspace, explicit: true });

/** A session of an http.api_keys key or of a peer: the server's roots and tools, the server's conversations. */
export function serverSession(server: ServerScope, principal: string): SessionScope {
  return {
    config: server.config,
    workspace: asCeiling(server.workspace),
    tools: server.tools,
    log: taggedLogger(server.log, principal),
    openStore: storeOf(server.openStore, null),
    telemetry: server.telemetry,
    // The key's name (key-1, …) on its spans, never the key; a peer address is not a key.
    telemetryAttributes: principal.startsWith("peer:") ? {} : { "mcp.api_key.name": principal },
  };
}

/**
 * Pure: a tenant's roots within the server's. `real` are the tenant's roots that still exist
 * (real paths), `missing` the ones that do not. With explicit server roots each tenant root
 * is narrowed to them (as a client's roots are) and one outside them is left out; without,
 * the tenant's roots are its workspace.
 */
export function tenantRoots(server: Pick<Workspace, "roots" | "explicit">, name: string, real: string[], missing: string[]): Pick<Workspace, "roots" | "why" | "unavailable"> {
  const roots = server.explicit ? narrowRoots(server.roots, real) : real;
  const outside = server.explicit ? real.filter((r) => narrowRoots(server.roots, [r]).length === 0) : [];
  const notes = [
    ...(missing.length ? [`${missing.join(", ")} no longer exist${missing.length === 1 ? "s" : ""}`] : []),
    ...(outside.length ? [`${outside.join(", ")} lie${outside.length === 1 ? "s" : ""} outside this server's roots (${server.roots.join(", ")}) and ${outside.length === 1 ? "was" : "were"} left out`] : []),
  ];
  if (roots.length) return { roots, why: [`the roots of API key ${name}`, ...notes].join("; "), unavailable: undefined };
  return {
    roots: [],
    why: `none: no root of API key ${name} is usable`,
    unavailable: `No workspace for API key ${name}: ${notes.join("; ")}. Its roots must be folders inside this server's roots${server.explicit ? ` (${server.roots.join(", ")})` : ""}; the server's operator can issue a key with such roots (tfo-mcp keys add NAME --root DIR).`,
  };
}

/** A tenant's session: its roots, tools and read-only flag within the server's, its own conversations. */
export async function tenantSession(server: ServerScope, key: ApiKey): Promise<SessionScope> {
  const readOnly = server.workspace.readOnly || key.read_only;
  let workspace: Workspace = { ...server.workspace, readOnly };
  if (key.roots.length) {
    const found = await Promise.all(key.roots.map((root) => realpath(root).catch(() => undefined)));
    const real = found.filter((r): r is string => r !== undefined).filter((r, i, all) => all.indexOf(r) === i);
    const missing = key.roots.filter((_, i) => found[i] === undefined);
    workspace = { ...workspace, ...tenantRoots(server.workspace, key.name, real, missing), explicit: true };
  }
  // createServer hides the writing tools (and run-tool refuses them) by these two flags.
  const config: Config = key.read_only && !server.config.workspace.read_only ? { ...server.config, workspace: { ...server.config.workspace, read_only: true } } : server.config;
  return {
    config,
    workspace: asCeiling(workspace),
    tools: key.tools.length ? server.tools.filter((t) => key.tools.includes(t.name)) : server.tools,
    log: taggedLogger(server.log, key.name),
    openStore: storeOf(server.openStore, key.name),
    telemetry: server.telemetry,
    telemetryAttributes: { "mcp.api_key.name": key.name, "tfo.tenant": key.name },
  };
}
