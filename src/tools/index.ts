// The registry: every tool the server offers, in the order clients list them.
import { claudeConversation } from "./claude-conversation.ts";
import type { Config } from "../config/schema.ts";
import type { Tool } from "./define.ts";
import { echo } from "./echo.ts";
import { executeCommand } from "./execute-command.ts";
import { listDirectory } from "./list-directory.ts";
import { readFile } from "./read-file.ts";
import { searchFiles } from "./search-files.ts";
import { systemInfo } from "./system-info.ts";
import { writeFile } from "./write-file.ts";

export const tools = [
  echo,
  readFile,
  writeFile,
  listDirectory,
  searchFiles,
  executeCommand,
  systemInfo,
  claudeConversation,
] as unknown as readonly Tool[];

/**
 * The tools a client sees under this config: a tool that would refuse every call (writing in
 * read-only mode, commands switched off) is not listed at all, so a model never plans with it.
 */
export function offeredTools(all: readonly Tool[], config: Config): Tool[] {
  if (!config.mcp.enable_tools) return [];
  return all.filter((t) => (t.offered?.(config) ?? true) && !(t.writes && config.workspace.read_only) && (t.name !== "execute_command" || config.commands.enabled));
}
