// Which folders the tools may touch. Explicit roots (--root, env, a trusted config) are the
// ceiling; the client's roots narrow it and never empty it; with no explicit roots the
// client's roots or the current folder are the workspace, except / and the home folder,
// which a client starts servers in (Claude Desktop on macOS starts them in /).
import { realpath } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isInside } from "./resolve.ts";

/** `~` and `~/x` → the home folder; a person's path passes through no shell when it comes from JSON or YAML. */
export function expandHome(path: string, home = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/") || (process.platform === "win32" && path.startsWith("~\\"))) return join(home, path.slice(2));
  return path;
}

/** Pure: the parts of the configured roots that the client's roots also cover. */
export function narrowRoots(configured: string[], client: string[]): string[] {
  const out: string[] = [];
  for (const c of client) {
    for (const root of configured) {
      // The deeper of the two, when one holds the other; nothing when they are apart.
      const narrowed = isInside(root, c) ? c : isInside(c, root) ? root : undefined;
      if (narrowed && !out.includes(narrowed)) out.push(narrowed);
    }
  }
  return out;
}

/** file:// URIs from roots/list → real paths; anything else (or missing) is skipped and reported. */
export async function clientRootPaths(uris: string[]): Promise<{ paths: string[]; skipped: string[] }> {
  const paths: string[] = [];
  const skipped: string[] = [];
  for (const uri of uris) {
    try {
      const path = await realpath(fileURLToPath(uri));
      if (!paths.includes(path)) paths.push(path);
    } catch {
      skipped.push(uri);
    }
  }
  return { paths, skipped };
}

/** Explicit roots → real absolute paths (`~` expanded). A missing root is an error a person must fix. */
export async function realRoots(roots: string[], cwd: string, home = homedir()): Promise<{ ok: true; roots: string[] } | { ok: false; error: string }> {
  const out: string[] = [];
  for (const root of roots) {
    const absolute = resolve(cwd, expandHome(root, home));
    try {
      const real = await realpath(absolute);
      if (!out.includes(real)) out.push(real);
    } catch {
      return { ok: false, error: `workspace root does not exist or cannot be read: ${absolute}` };
    }
  }
  return { ok: true, roots: out };
}

export type RootsInEffect = {
  roots: string[];
  /** explicit roots are a ceiling the client can only narrow; otherwise the client's roots replace them */
  explicit: boolean;
  why: string;
  /** no roots: what every path tool answers */
  unavailable?: string;
};

// Where each client keeps the args of its servers, for the "add --root" advice.
const CLIENT_CONFIGS: Record<string, string> = {
  "claude-ai": "Claude Desktop's claude_desktop_config.json (tfo-mcp install claude-desktop --root DIR writes it)",
  "claude-code": "Claude Code's MCP settings (claude mcp add tfo -- tfo-mcp serve --root DIR)",
  cursor: "Cursor's mcp.json (or use ${workspaceFolder})",
  "cursor-vscode": "Cursor's mcp.json (or use ${workspaceFolder})",
};

/** The sentence for a server with no workspace: where it started, and the exact fix. */
export function noWorkspaceMessage(cwd: string, home: string, clientName?: string): string {
  const where = cwd === home ? `the home folder ${cwd}` : cwd;
  const config = (clientName && CLIENT_CONFIGS[clientName]) ?? "your MCP client's config";
  return `No workspace: tfo-mcp was started in ${where} without --root, and serving all of it would expose every file there. Add "--root", "/path/to/project" to this server's args in ${config}, then restart the server. (--root / is accepted for those who mean it.)`;
}

/** Pure: the roots at start-up, before any client roots. `realCwd` is the real current folder. */
export function startupRoots(explicit: string[], realCwd: string, home: string): RootsInEffect {
  if (explicit.length) return { roots: explicit, explicit: true, why: "configured (--root, workspace.roots or its environment variable)" };
  // / and the home folder are where clients start servers they were not told a folder for.
  if (realCwd === "/" || realCwd === home || /^[A-Za-z]:\\?$/.test(realCwd)) {
    return { roots: [], explicit: false, why: `none: started in ${realCwd} without --root`, unavailable: noWorkspaceMessage(realCwd, home) };
  }
  return { roots: [realCwd], explicit: false, why: "the current folder (no --root given)" };
}

/**
 * Pure: the roots once the client has sent its own. `clientPaths` are real folders; an empty
 * list means the client sent none (or none that exist), which changes nothing.
 */
export function rootsWithClient(start: RootsInEffect, clientPaths: string[]): RootsInEffect & { ignored?: string[] } {
  if (clientPaths.length === 0) return start;
  if (!start.explicit) return { roots: clientPaths, explicit: false, why: "the client's roots (no --root given)" };
  const narrowed = narrowRoots(start.roots, clientPaths);
  if (narrowed.length === 0) {
    return { ...start, why: `${start.why}; the client's roots (${clientPaths.join(", ")}) lie outside them and were ignored`, ignored: clientPaths };
  }
  return { roots: narrowed, explicit: true, why: `the configured roots narrowed to the client's roots` };
}
