// The registry: every tool the server offers, in the order clients list them.
import { claudeConversation } from "./claude-conversation.ts";
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
