// The registry: every tool the server offers, in the order clients list them.
import { claudeConversation } from "./claude-conversation.ts";
import type { Config } from "../config/schema.ts";
import type { Tool } from "./define.ts";
import { echo } from "./echo.ts";
import { editFile } from "./edit-file.ts";
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
  editFile,
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
  return all.filter((t) => whyNotOffered(t, config) === undefined);
}

/** Why a tool is not offered under this config, as a sentence; undefined when it is. */
export function whyNotOffered(tool: Tool, config: Config): string | undefined {
  if (tool.writes && config.workspace.read_only) return `${tool.name} is not offered: the workspace is read-only (workspace.read_only is true).`;
  if (tool.name === "execute_command" && !config.commands.enabled) return "execute_command is not offered: commands are disabled on this server (commands.enabled is false).";
  if (tool.offered && !tool.offered(config)) return `${tool.name} is not offered under this server's configuration.`;
  return undefined;
}
