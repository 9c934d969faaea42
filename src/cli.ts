#!/usr/bin/env bun
// The command line: the only module that reads argv, prints for people, and exits.
import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { CLIENTS, type ClientName } from "./clients/config-files.ts";
import { installClient, launcherOfThisProcess } from "./clients/install.ts";
import { maskSecrets, renderConfigTemplate } from "./config/describe.ts";
import type { Partial } from "./config/env.ts";
import { loadConfig, type LoadedConfig } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { prompts } from "./prompts/index.ts";
import { resources, resourceTemplates } from "./resources/index.ts";
import { loggerFor, serveStdio, workspaceFor } from "./server/serve.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/port.ts";
import { tools } from "./tools/index.ts";
import { COMMIT, TARGET, VERSION } from "./version.ts";

const out = (text: string) => process.stdout.write(`${text}\n`); // stdout-ok: CLI output for people
const err = (text: string) => process.stderr.write(`${text}\n`);

/** Thrown by a command to end with this exit code; main() is the one place that exits. */
class Exit {
  constructor(readonly code: number) {}
}

const configArg = { config: { type: "string", description: "Config file (default: $TELEMETRYFLOW_MCP_CONFIG, ./tfo-mcp.yaml, ./configs/tfo-mcp.yaml, ~/.config/tfo-mcp/config.yaml)", valueHint: "FILE" } } as const;

/** citty keeps only the last of a repeated flag; --root may be given many times. */
export function repeatedFlag(rawArgs: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === `--${name}` && rawArgs[i + 1] !== undefined) values.push(rawArgs[++i]!);
    else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
  }
  return values;
}

function reportProblems(loaded: Extract<LoadedConfig, { ok: false }>) {
  err(`tfo-mcp: invalid configuration${loaded.file ? ` (${loaded.file})` : ""}:`);
  for (const p of loaded.problems) err(`  - ${p.message}`);
  err("Nothing was started. Fix the values above; `tfo-mcp init-config` writes a file with every key and its default.");
}

async function configOrExit(file: string | undefined, flags: Partial = {}): Promise<{ config: Config; file?: string; warnings: string[] }> {
  const loaded = await loadConfig({ file, flags });
  if (!loaded.ok) {
    reportProblems(loaded);
    throw new Exit(1);
  }
  return loaded;
}

const serve = defineCommand({
  meta: { name: "serve", description: "Run the MCP server on stdio (what an MCP client starts)" },
  args: {
    ...configArg,
    debug: { type: "boolean", description: "Debug logging on stderr" },
    root: { type: "string", description: "Workspace root the tools may touch; repeat for more (default: current directory)", valueHint: "DIR" },
    transport: { type: "string", description: "stdio (default) or http", valueHint: "stdio|http" },
    port: { type: "string", description: "Port for the http transport", valueHint: "N" },
    host: { type: "string", description: "Host for the http transport", valueHint: "H" },
  },
  async run({ args, rawArgs }) {
    const flags: Partial = {};
    const roots = repeatedFlag(rawArgs, "root");
    if (roots.length) flags.workspace = { roots };
    if (args.debug) flags.server = { debug: true };
    if (args.transport !== undefined) flags.server = { ...flags.server, transport: args.transport };
    if (args.host !== undefined) flags.server = { ...flags.server, host: args.host };
    if (args.port !== undefined) flags.server = { ...flags.server, port: /^\d+$/.test(args.port) ? Number(args.port) : args.port };
    const { config, file, warnings } = await configOrExit(args.config, flags);
    const log = loggerFor(config);
    for (const w of warnings) log.warn(w);
    if (config.telemetry.enabled) log.warn("telemetry.enabled is set, but this build does not export telemetry; nothing is sent");
    const ws = await workspaceFor(config, process.cwd());
    if (!ws.ok) {
      err(`tfo-mcp: ${ws.error}. Pass an existing folder with --root or workspace.roots.`);
      throw new Exit(1);
    }
    if (config.server.transport === "http") {
      const { serveHttp } = await import("./server/http.ts");
      const http = await serveHttp(config, log, ws.workspace);
      if ("error" in http) {
        err(`tfo-mcp: ${http.error}`);
        throw new Exit(1);
      }
      err(`tfo-mcp: serving MCP over http at ${http.url} (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await http.stop();
      throw new Exit(0);
    }
    log.debug("config loaded", { file: file ?? "(defaults)" });
    throw new Exit(await serveStdio(config, log, ws.workspace));
  },
});

const validate = defineCommand({
  meta: { name: "validate", description: "Check the configuration: exit 0 with a summary, or 1 with each problem and its key" },
  args: { ...configArg },
  async run({ args }) {
    const { config, file, warnings } = await configOrExit(args.config);
    for (const w of warnings) err(`warning: ${w}`);
    const ws = await workspaceFor(config, process.cwd());
    if (!ws.ok) {
      err(`tfo-mcp: ${ws.error}`);
      throw new Exit(1);
    }
    out(
      `Configuration OK (${file ?? "defaults only, no config file"}): transport ${config.server.transport}, roots ${ws.workspace.roots.join(", ") || "none"} (${ws.workspace.why}), Claude API key ${config.claude.api_key ? "set" : "not set"}.`,
    );
  },
});

const info = defineCommand({
  meta: { name: "info", description: "Show version, effective configuration (secrets masked), tools, resources and prompts" },
  args: { ...configArg, json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const { config, file } = await configOrExit(args.config);
    const data = {
      name: "tfo-mcp",
      version: VERSION,
      commit: COMMIT,
      target: TARGET,
      config_file: file ?? null,
      config: maskSecrets(config),
      tools: tools.map((t) => t.name),
      resources: [...resources.map((r) => r.uri), ...resourceTemplates.map((t) => t.uriTemplate)],
      prompts: prompts.map((p) => p.name),
    };
    if (args.json) return out(JSON.stringify(data, null, 2));
    out(`tfo-mcp ${VERSION} (${COMMIT}, ${TARGET})`);
    out(`config file: ${file ?? "none (defaults)"}`);
    out(`tools:       ${data.tools.join(", ")}`);
    out(`resources:   ${data.resources.join(", ")}`);
    out(`prompts:     ${data.prompts.join(", ")}`);
    out("effective configuration (secrets masked):");
    out(JSON.stringify(data.config, null, 2));
  },
});

const initConfig = defineCommand({
  meta: { name: "init-config", description: "Write a commented tfo-mcp.yaml with every key and its default" },
  args: {
    output: { type: "string", description: "Where to write it", default: "tfo-mcp.yaml", valueHint: "FILE" },
    force: { type: "boolean", description: "Overwrite an existing file" },
  },
  async run({ args }) {
    const target = resolve(args.output);
    if (existsSync(target) && !args.force) {
      err(`tfo-mcp: ${target} already exists; pass --force to overwrite it.`);
      throw new Exit(1);
    }
    writeFileSync(target, renderConfigTemplate());
    out(`Wrote ${target}`);
  },
});

async function withStore<T>(configFile: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const { config } = await configOrExit(configFile);
  let store: Store;
  try {
    store = await openStore(config.storage.url);
  } catch (error) {
    err(`tfo-mcp: cannot open storage (storage.url ${JSON.stringify(config.storage.url)}): ${(error as Error).message}`);
    throw new Exit(1);
  }
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

const conversations = defineCommand({
  meta: { name: "conversations", description: "List, show or delete stored Claude conversations" },
  args: {
    action: { type: "positional", description: "list | show | delete", required: false, default: "list" },
    id: { type: "positional", description: "conversation id (show, delete)", required: false },
    ...configArg,
    json: { type: "boolean", description: "Print JSON" },
    limit: { type: "string", description: "How many to list (default 50)", valueHint: "N" },
  },
  async run({ args }) {
    const action = args.action ?? "list";
    if (!["list", "show", "delete"].includes(action)) {
      err(`tfo-mcp: conversations ${action}: unknown action; use list, show ID or delete ID.`);
      throw new Exit(1);
    }
    if (action !== "list" && !args.id) {
      err(`tfo-mcp: conversations ${action} needs a conversation id (see tfo-mcp conversations list).`);
      throw new Exit(1);
    }
    await withStore(args.config, async (store) => {
      if (action === "list") {
        const limit = args.limit && /^\d+$/.test(args.limit) ? Number(args.limit) : 50;
        const list = await store.listConversations(limit);
        if (args.json) return out(JSON.stringify(list, null, 2));
        if (list.length === 0) return out(`No conversations in ${store.describe}.`);
        for (const c of list) out(`${c.id}  ${c.updated_at}  ${String(c.turns).padStart(3)} turns  ${c.title}`);
        return;
      }
      const id = args.id!;
      const conversation = await store.getConversation(id);
      if (!conversation) {
        err(`tfo-mcp: no conversation ${JSON.stringify(id)} in ${store.describe}.`);
        throw new Exit(1);
      }
      if (action === "delete") {
        await store.deleteConversation(id);
        return out(`Deleted ${id} (${conversation.turns} turns).`);
      }
      const turns = await store.turns(id);
      if (args.json) return out(JSON.stringify({ ...conversation, history: turns }, null, 2));
      out(`${conversation.id}: ${conversation.title}`);
      if (conversation.system_prompt) out(`system: ${conversation.system_prompt}`);
      for (const t of turns) {
        out(`\n[${t.seq}] user (${t.created_at}):\n${t.user}`);
        if (t.status === "done") out(`[${t.seq}] assistant (${t.model}, ${t.output_tokens} tokens):\n${t.assistant}`);
        else out(`[${t.seq}] ${t.status}${t.error ? `: ${t.error}` : ""}`);
      }
    });
  },
});

function clientCommand(remove: boolean) {
  return defineCommand({
    meta: {
      name: remove ? "uninstall" : "install",
      description: remove ? "Remove the tfo-mcp entry from an MCP client's config (other entries kept)" : "Add tfo-mcp to an MCP client's config (backup first; other entries kept)",
    },
    args: {
      client: { type: "positional", description: CLIENTS.join(" | "), required: true },
      "dry-run": { type: "boolean", description: "Show the change without writing it" },
      config: { type: "string", description: "The client's config file (default: its standard path on this OS)", valueHint: "FILE" },
      ...(remove ? {} : { root: { type: "string", description: "Workspace root for the entry; repeat for more", valueHint: "DIR" } }),
    },
    async run({ args, rawArgs }) {
      const client = args.client as ClientName;
      if (!CLIENTS.includes(client)) {
        err(`tfo-mcp: unknown client "${args.client}". Use one of: ${CLIENTS.join(", ")}.`);
        throw new Exit(1);
      }
      const result = await installClient({
        client,
        remove,
        dryRun: Boolean(args["dry-run"]),
        file: args.config,
        roots: remove ? [] : repeatedFlag(rawArgs, "root"),
        launcher: launcherOfThisProcess(),
      });
      if (!result.ok) {
        err(`tfo-mcp: ${result.error}`);
        throw new Exit(1);
      }
      out(result.message);
      if (result.dryRun && result.changed) out(result.after);
    },
  });
}
const install = clientCommand(false);
const uninstall = clientCommand(true);

const main = defineCommand({
  meta: { name: "tfo-mcp", version: VERSION, description: "TelemetryFlow MCP server: file, command, system and Claude tools for MCP clients" },
  subCommands: { serve, validate, info, "init-config": initConfig, conversations, install, uninstall },
});

const SUBCOMMANDS: Record<string, CommandDef<ArgsDef>> = { serve, validate, info, "init-config": initConfig, conversations, install, uninstall } as never;

async function usage(argv: string[]): Promise<string> {
  const sub = argv.find((a) => a in SUBCOMMANDS);
  const text = sub ? await renderUsage(SUBCOMMANDS[sub]!, main) : await renderUsage(main);
  const examples = `
Examples:
  tfo-mcp serve                          serve the current folder over stdio
  tfo-mcp serve --root ~/code/app        serve another folder (repeat --root for more)
  tfo-mcp init-config && tfo-mcp validate
  tfo-mcp conversations list             stored Claude conversations (show ID, delete ID)
  tfo-mcp install claude-desktop --root ~/code/app   add tfo-mcp to a client (claude-code, cursor too)
  claude mcp add tfo -- tfo-mcp serve --root "$PWD"

Environment: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, TELEMETRYFLOW_MCP_CONFIG, TELEMETRYFLOW_MCP_<SECTION>__<KEY>.`;
  const plain = process.stdout.isTTY ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
  return sub ? plain : plain + examples;
}

async function run(argv: string[]): Promise<number> {
  if (argv.includes("--version") || argv.includes("-v")) {
    out(`tfo-mcp ${VERSION} (${COMMIT}, ${TARGET})`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    out(await usage(argv));
    return 0;
  }
  // A client configured with just `tfo-mcp` starts it with stdin as a pipe: serve.
  if (argv.length === 0) {
    if (process.stdin.isTTY) {
      out(await usage(argv));
      return 0;
    }
    argv = ["serve"];
  }
  const first = argv[0]!;
  if (!first.startsWith("-") && !(first in SUBCOMMANDS)) {
    err(`tfo-mcp: unknown command "${first}". Commands: ${Object.keys(SUBCOMMANDS).join(", ")}. See tfo-mcp --help.`);
    return 1;
  }
  try {
    await runCommand(main, { rawArgs: argv });
    return 0;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    err(`tfo-mcp: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2));
  process.exit(code);
}

export { run };
