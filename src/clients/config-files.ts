// Where each MCP client keeps its server list, and the pure edits tfo-mcp makes to it.
import { join } from "node:path";

export const CLIENTS = ["claude-desktop", "claude-code", "cursor"] as const;
export type ClientName = (typeof CLIENTS)[number];
export const ENTRY_NAME = "tfo-mcp";

export type Place = { platform: NodeJS.Platform; home: string; env: Record<string, string | undefined> };

/** The client's standard config file on this OS. */
export function configPathFor(client: ClientName, { platform, home, env }: Place): string {
  switch (client) {
    case "claude-desktop":
      if (platform === "darwin") return join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json");
      if (platform === "win32") return join(env.APPDATA ?? join(home, "AppData", "Roaming"), "Claude", "claude_desktop_config.json");
      return join(env.XDG_CONFIG_HOME || join(home, ".config"), "Claude", "claude_desktop_config.json");
    case "claude-code":
      // User scope of Claude Code: the top-level "mcpServers" of ~/.claude.json.
      return join(env.CLAUDE_CONFIG_DIR ?? home, ".claude.json");
    case "cursor":
      return join(home, ".cursor", "mcp.json");
  }
}

/** How each client is named to people, and what a person does for it to load a changed entry. */
export const CLIENT_LABEL: Record<ClientName, { name: string; reload: string }> = {
  "claude-desktop": { name: "Claude Desktop", reload: "Restart Claude Desktop to load it." },
  "claude-code": { name: "Claude Code", reload: "Start a new Claude Code session to load it." },
  cursor: { name: "Cursor", reload: "Restart Cursor (or reload its MCP servers) to load it." },
};

/** Cursor expands this in args to the folder it has open. */
export const CURSOR_WORKSPACE = "${workspaceFolder}";

export type RootChoice = { ok: true; roots: string[]; serves: string } | { ok: false; error: string };

/**
 * The roots to write when the person named none. Without a root the server serves the client's
 * roots, else the folder it was started in; whether that is safe depends on the client.
 */
export function rootsWhenNoneGiven(client: ClientName): RootChoice {
  switch (client) {
    case "claude-desktop":
      // It starts servers in / (on macOS) and sends no roots: nothing would say which folder is meant.
      return {
        ok: false,
        error:
          "claude-desktop needs --root: Claude Desktop starts its servers in / and sends no roots, so the server would have no folder to serve (and must not serve the whole disk). " +
          "Name the folder: tfo-mcp install claude-desktop --root ~/code/project (repeat --root for more folders).",
      };
    case "claude-code":
      // It starts servers in its project folder and sends that folder as an MCP root.
      return { ok: true, roots: [], serves: "the folder Claude Code is opened in" };
    case "cursor":
      return { ok: true, roots: [CURSOR_WORKSPACE], serves: `the folder Cursor has open (${CURSOR_WORKSPACE})` };
  }
}

export type ServerEntry = { type?: "stdio"; command: string; args: string[]; env?: Record<string, string> };

export function serverEntry(client: ClientName, command: string, baseArgs: string[], roots: string[]): ServerEntry {
  const args = [...baseArgs, "serve", ...roots.flatMap((r) => ["--root", r])];
  // Claude Code wants the transport spelled out; the others take command + args.
  return client === "claude-code" ? { type: "stdio", command, args } : { command, args };
}

export type Parsed = { ok: true; doc: Record<string, unknown>; indent: string | number; newline: boolean } | { ok: false; error: string };

/** A config file's text → its object and how it was laid out; "" (new file) is an empty object. */
export function parseConfig(text: string): Parsed {
  if (text.trim() === "") return { ok: true, doc: {}, indent: 2, newline: true };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `is not valid JSON (${(error as Error).message})` };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { ok: false, error: "is not a JSON object" };
  const servers = (doc as Record<string, unknown>).mcpServers;
  if (servers !== undefined && (typeof servers !== "object" || servers === null || Array.isArray(servers))) {
    return { ok: false, error: '"mcpServers" is not an object' };
  }
  const indentMatch = text.match(/^[{[]\s*\n([ \t]+)\S/);
  const indent = indentMatch ? (indentMatch[1]!.startsWith("\t") ? "\t" : indentMatch[1]!.length) : text.includes("\n") ? 2 : 0;
  return { ok: true, doc: doc as Record<string, unknown>, indent, newline: text.endsWith("\n") };
}

export function render(doc: Record<string, unknown>, indent: string | number, newline: boolean): string {
  return JSON.stringify(doc, null, indent) + (newline ? "\n" : "");
}

/** Adds or replaces our entry; every other key and server stays as it was, in its order. */
export function withEntry(doc: Record<string, unknown>, entry: ServerEntry): Record<string, unknown> {
  const servers = { ...((doc.mcpServers as Record<string, unknown> | undefined) ?? {}) };
  servers[ENTRY_NAME] = entry;
  return { ...doc, mcpServers: servers };
}

/** Our entry as it stands in a parsed config, if there is one. */
export function entryIn(doc: Record<string, unknown>): unknown {
  const servers = doc.mcpServers as Record<string, unknown> | undefined;
  return servers?.[ENTRY_NAME];
}

export function withoutEntry(doc: Record<string, unknown>): { doc: Record<string, unknown>; removed: boolean } {
  const servers = doc.mcpServers as Record<string, unknown> | undefined;
  if (!servers || !(ENTRY_NAME in servers)) return { doc, removed: false };
  const { [ENTRY_NAME]: _gone, ...rest } = servers;
  return { doc: { ...doc, mcpServers: rest }, removed: true };
}
