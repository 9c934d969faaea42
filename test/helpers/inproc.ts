// The server in-process, linked to an SDK Client by the SDK's in-memory transport.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { listToolsFirst } from "./client.ts";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import * as v from "valibot";
import { configSchema, type Config } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { prompts } from "../../src/prompts/index.ts";
import { resources, resourceTemplates } from "../../src/resources/index.ts";
import { createServer } from "../../src/server/create.ts";
import type { Tool } from "../../src/tools/define.ts";
import { tools } from "../../src/tools/index.ts";
import { memoryStore } from "../../src/store/memory.ts";
import type { Store } from "../../src/store/port.ts";
import type { Workspace } from "../../src/workspace/resolve.ts";

export async function inProcess(opts: { roots: string[]; config?: Record<string, Record<string, unknown>>; client?: Client; logs?: string[]; store?: Store; tools?: readonly Tool[] }) {
  const config: Config = v.parse(configSchema, opts.config ?? {});
  const workspace: Workspace = {
    roots: opts.roots,
    explicit: opts.roots.length > 0,
    why: "test",
    readOnly: config.workspace.read_only,
    maxReadBytes: config.workspace.max_read_bytes,
    maxWriteBytes: config.workspace.max_write_bytes,
    maxResults: config.workspace.max_results,
    followSymlinks: config.workspace.follow_symlinks,
    allowHardlinks: config.workspace.allow_hardlinks,
  };
  const logs = opts.logs ?? [];
  const log = createLogger({ level: "debug", format: "json", output: "stderr", write: (l) => logs.push(l) });
  const store = opts.store ?? memoryStore();
  const { server, stats, endSession } = createServer({ config, workspace, log, tools: opts.tools ?? tools, resources, resourceTemplates, prompts, openStore: async () => store });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = opts.client ?? new Client({ name: "inproc", version: "1" }, { capabilities: {} });
  await client.connect(clientSide);
  await listToolsFirst(client);
  return { client, server, stats, logs, config, store, endSession, close: () => client.close() };
}
