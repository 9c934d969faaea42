// Start-up of the stdio server: config → workspace → logger → server → transport.
// Resolves when the client goes away (stdin closes) or a signal arrives.
import type { Config } from "../config/schema.ts";
import { envSecretValues, secretValues } from "../config/describe.ts";
import { createLogger, type Logger } from "../log.ts";
import { prompts } from "../prompts/index.ts";
import { resources, resourceTemplates } from "../resources/index.ts";
import { tools } from "../tools/index.ts";
import { realpath } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import type { Workspace } from "../workspace/resolve.ts";
import { realRoots, startupRoots } from "../workspace/roots.ts";
import type { Store } from "../store/port.ts";
import type { Telemetry } from "../telemetry/port.ts";
import { type Activity, activityStates } from "../events/port.ts";
import { createServer } from "./create.ts";
import { connectServer } from "./connect.ts";
import { createStdioTransport } from "./stdio.ts";

export function loggerFor(config: Config): Logger {
  return createLogger({
    level: config.server.debug ? "debug" : config.logging.level,
    format: config.logging.format,
    output: config.logging.output,
    secrets: [...secretValues(config), ...envSecretValues(process.env)],
  });
}

export async function workspaceFor(config: Config, cwd: string, home = homedir()): Promise<{ ok: true; workspace: Workspace } | { ok: false; error: string }> {
  const explicit = await realRoots(config.workspace.roots, cwd, home);
  if (!explicit.ok) return explicit;
  const realHome = await realpath(home).catch(() => home);
  const start = startupRoots(explicit.roots, await realpath(cwd).catch(() => cwd), realHome);
  const w = config.workspace;
  return {
    ok: true,
    workspace: {
      ...start,
      readOnly: w.read_only,
      maxReadBytes: w.max_read_bytes,
      maxWriteBytes: w.max_write_bytes,
      maxResults: w.max_results,
      followSymlinks: w.follow_symlinks,
      allowHardlinks: w.allow_hardlinks,
    },
  };
}

/** One store for the process, opened on first use (by any session), closed once at exit. */
export function sharedStore(config: Config) {
  let opened: Promise<Store> | undefined;
  return {
    open: () => {
      opened ??= import("../store/open.ts").then((m) => m.openConfiguredStore(config));
      // A failed open is not kept: the next caller tries again.
      opened.catch(() => {
        opened = undefined;
      });
      return opened;
    },
    async close() {
      const s = await opened?.catch(() => undefined);
      s?.close();
    },
  };
}

export type SharedStore = ReturnType<typeof sharedStore>;

/**
 * This process's name on activity events and in Redis: server.replica, else the host name
 * (with the configured port over http, where several may run on one host).
 */
export function replicaName(config: Config, overHttp: boolean, port = config.server.port, host = hostname(), pid = process.pid): string {
  if (config.server.replica) return config.server.replica;
  if (!overHttp) return host;
  // Port 0 is picked by the system when it listens, after activity events need a name: the pid tells such replicas apart.
  return port === 0 ? `${host}:pid${pid}` : `${host}:${port}`;
}

/** Returns the exit code. `storage` and `activity`: opened by the caller, which checked them at start-up. */
export async function serveStdio(config: Config, log: Logger, workspace: Workspace, telemetry?: Telemetry, opened: { storage?: SharedStore; activity?: Activity } = {}): Promise<number> {
  const storage = opened.storage ?? sharedStore(config);
  const noWorkspace = workspace.unavailable ? { cwd: process.cwd(), home: homedir() } : undefined;
  if (workspace.unavailable) log.warn(workspace.unavailable);
  const { server, endSession } = createServer({
    config,
    workspace,
    log,
    tools,
    resources,
    resourceTemplates,
    prompts,
    openStore: storage.open,
    noWorkspace,
    telemetry,
    activity: opened.activity,
    transport: "stdio",
    backends: opened.activity ? () => activityStates(opened.activity) : undefined,
  });
  const transport = createStdioTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  server.onerror = (error) => log.debug("protocol error", { error: error.message });
  const stop = () => void server.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // The stdio transport checks every line itself (see classifyLine).
  await connectServer(server, transport, { checked: true });
  log.info("serving on stdio", { roots: workspace.roots.join(","), why: workspace.why });
  await closed;
  await endSession();
  // A store the caller opened is the caller's to close (after its activity sinks flushed into it).
  if (!opened.storage) await storage.close();
  log.info("stdin closed; exiting");
  return 0;
}
