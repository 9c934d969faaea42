#!/usr/bin/env bun
// The command line: the only module that reads argv, prints for people, and exits.
import { existsSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { CLIENTS, type ClientName } from "./clients/config-files.ts";
import { installClient, launcherOfThisProcess } from "./clients/install.ts";
import { maskSecrets, maskUrlCredentials, renderConfigTemplate, secretValues } from "./config/describe.ts";
import type { Partial } from "./config/env.ts";
import { configFileCandidates, loadConfig, type LoadedConfig } from "./config/load.ts";
import { type Config, storageUrl, backendProblems } from "./config/schema.ts";
import { telemetryKeyProblems } from "./config/telemetry-keys.ts";
import { nearest } from "./config/nearest.ts";
import { trustFile, trustListPath } from "./config/trust.ts";
import { resolveModel } from "./claude/models.ts";
import { type Logger, teeLogger } from "./log.ts";
import { httpExposureProblem } from "./server/exposure.ts";
import { checkArgs } from "./strict-args.ts";
import { runKeys } from "./tenants/keys-command.ts";
import { hardenProcess } from "./process/harden.ts";
import { prompts } from "./prompts/index.ts";
import { resources, resourceTemplates } from "./resources/index.ts";
import { loggerFor, replicaName, serveStdio, sharedStore, workspaceFor } from "./server/serve.ts";
import type { Activity } from "./events/port.ts";
import { defaultDatabasePath, openConfiguredStore, storeTarget } from "./store/open.ts";
import { exchangeSummary } from "./sessions/exchange.ts";
import type { Store } from "./store/port.ts";
import type { Telemetry } from "./telemetry/port.ts";
import { describeTelemetry, telemetrySettings } from "./telemetry/settings.ts";
import { offeredTools, tools } from "./tools/index.ts";
import { COMMIT, TARGET, VERSION } from "./version.ts";

const out = (text: string) => process.stdout.write(`${text}\n`); // stdout-ok: CLI output for people
const err = (text: string) => process.stderr.write(`${text}\n`);

/** Thrown by a command to end with this exit code; main() is the one place that exits. */
class Exit {
  constructor(readonly code: number) {}
}

const configArg = {
  config: {
    type: "string",
    alias: "c",
    description: "Config file (default: $TELEMETRYFLOW_MCP_CONFIG, else ./tfo-mcp.yaml, ./configs/tfo-mcp.yaml (untrusted until `tfo-mcp trust`), ~/.config/tfo-mcp/config.yaml, /etc/tfo-mcp/config.yaml)",
    valueHint: "FILE",
  },
} as const;

/** citty keeps only the last of a repeated flag; --root may be given many times. */
export function repeatedFlag(rawArgs: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    if (a === `--${name}` && rawArgs[i + 1] !== undefined) values.push(rawArgs[++i]!);
    else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
  }
  return values;
}

type Loaded = Extract<LoadedConfig, { ok: true }>;

function reportProblems(loaded: Extract<LoadedConfig, { ok: false }>) {
  err(`tfo-mcp: invalid configuration${loaded.file ? ` (${loaded.file})` : ""}:`);
  for (const p of loaded.problems) err(`  - ${p.message}`);
  err("Nothing was started. Fix the values above; `tfo-mcp init-config` writes a file with every key and its default.");
}

async function configOrExit(file: string | undefined, flags: Partial = {}): Promise<Loaded> {
  const loaded = await loadConfig({ file, flags });
  if (!loaded.ok) {
    reportProblems(loaded);
    throw new Exit(1);
  }
  const telemetry = telemetryProblems(loaded.config);
  if (telemetry.length) {
    reportProblems({ ok: false, file: loaded.file, problems: telemetry });
    throw new Exit(1);
  }
  const backends = backendProblems(loaded.config);
  if (backends.length) {
    reportProblems({ ok: false, file: loaded.file, problems: backends });
    throw new Exit(1);
  }
  return loaded;
}

/** Whether this config starts telemetry: OTLP export, or the Prometheus endpoint of the http transport. */
const telemetryWanted = (config: Config) => config.telemetry.enabled || (config.telemetry.prometheus && config.server.transport !== "stdio");

/** A bad key prefix, endpoint or OTEL_* value stops every command, as any invalid value does. */
function telemetryProblems(config: Config): { path: string; message: string }[] {
  const keys = telemetryKeyProblems(config);
  if (keys.length || !telemetryWanted(config)) return keys;
  const settings = telemetrySettings(config, process.env, VERSION);
  return settings.ok ? [] : settings.problems;
}

// A final flush gets this long after stdin closes or a signal; then the process exits anyway.
const TELEMETRY_FLUSH_MS = 3000;

/** Telemetry when the config asks for it: only then is the OpenTelemetry SDK loaded. */
async function startTelemetryIfWanted(config: Config, log: Logger): Promise<Telemetry | undefined> {
  if (!telemetryWanted(config)) return undefined;
  const settings = telemetrySettings(config, process.env, VERSION);
  if (!settings.ok) return undefined;
  try {
    const { startTelemetry } = await import("./telemetry/start.ts");
    return await startTelemetry(settings.settings, { log, secrets: secretValues(config), version: VERSION });
  } catch (error) {
    // The server is what the client needs; it serves without telemetry rather than not at all.
    log.error("telemetry could not start; serving without it", { error: (error as Error)?.message ?? String(error) });
    return undefined;
  }
}

const serve = defineCommand({
  meta: { name: "serve", description: "Run the MCP server on stdio (what an MCP client starts)" },
  args: {
    ...configArg,
    debug: { type: "boolean", description: "Debug logging on stderr" },
    root: { type: "string", description: "Folder the tools may touch; repeat for more; replaces workspace.roots (default: the client's roots, else the current folder unless it is / or home)", valueHint: "DIR" },
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
    const { config, file, warnings, inert } = await configOrExit(args.config, flags);
    // Before any command can run. Over http a signal starts a drain that lets calls finish;
    // what is still running when the process exits is killed by the exit hook.
    hardenProcess({ killOnSignal: config.server.transport === "stdio" });
    let log = loggerFor(config);
    const telemetry = await startTelemetryIfWanted(config, log);
    if (telemetry) {
      const sink = telemetry.log;
      log = teeLogger(log, { level: config.server.debug ? "debug" : config.logging.level, sink });
      log.info("telemetry on", { destination: telemetry.destination });
    }
    for (const w of warnings) log.warn(w);
    if (inert.length) log.debug("keys of the Python server's config accepted and not used", { keys: inert.join(",") });
    const ws = await workspaceFor(config, process.cwd());
    if (!ws.ok) {
      err(`tfo-mcp: ${ws.error}. Pass an existing folder with --root or workspace.roots.`);
      throw new Exit(1);
    }
    const overHttp = config.server.transport !== "stdio";
    // Redis holds what replicas share (limits, counts, resumable streams): a stdio server has none.
    if (!overHttp && config.cache.backend === "redis") log.info("cache.backend redis is not used on stdio: it shares the http transport's limits between replicas");
    // A shared backend that is switched on must answer now: a team that asked for PostgreSQL,
    // NATS or ClickHouse must not run on a private file or publish into nothing.
    const storage = sharedStore(config);
    if (config.storage.backend === "postgres") {
      try {
        await storage.open();
      } catch (error) {
        err(`tfo-mcp: storage.backend postgres: ${(error as Error).message}`);
        throw new Exit(1);
      }
    }
    let activity: Activity | undefined;
    try {
      const { openActivity } = await import("./events/open.ts");
      activity = await openActivity(config, log, storage.open, replicaName(config, overHttp));
    } catch (error) {
      await storage.close();
      err(`tfo-mcp: ${(error as Error).message}`);
      throw new Exit(1);
    }
    // sse and websocket (the Python server's documented values) select the same http server:
    // it serves Streamable HTTP at /mcp, HTTP+SSE at /sse and WebSocket at /ws.
    if (overHttp) {
      const { serveHttp } = await import("./server/http.ts");
      // The store is closed here, after the activity sinks flushed their audit records into it.
      const http = await serveHttp(config, log, ws.workspace, telemetry, activity, storage);
      if ("error" in http) {
        await activity?.close();
        await storage.close();
        err(`tfo-mcp: ${http.error}`);
        throw new Exit(1);
      }
      err(`tfo-mcp: serving MCP over http at ${http.url} (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await http.stop();
      // After the sessions ended, so their session.ended events go out too.
      await activity?.close();
      await storage.close();
      await telemetry?.shutdown(TELEMETRY_FLUSH_MS);
      throw new Exit(0);
    }
    log.debug("config loaded", { file: file ?? "(defaults)" });
    if (process.stdin.isTTY) {
      err("tfo-mcp: waiting for an MCP client on stdin. This command is what a client starts: add `tfo-mcp serve --root DIR` to its config (tfo-mcp install --help shows how), or try it with `npx @modelcontextprotocol/inspector tfo-mcp serve`. Ctrl-C to stop.");
    }
    process.once("SIGINT", () => log.info("Ctrl-C: stopping"));
    const code = await serveStdio(config, log, ws.workspace, telemetry, { storage, activity });
    await activity?.close();
    await storage.close();
    await telemetry?.shutdown(TELEMETRY_FLUSH_MS);
    throw new Exit(code);
  },
});

const validate = defineCommand({
  meta: { name: "validate", description: "Check the configuration: exit 0 with a summary, or 1 with each problem and its key" },
  args: { ...configArg, "check-telemetry": { type: "boolean", description: "Send one test span to the telemetry endpoint and report whether it answered" } },
  async run({ args }) {
    const { config, file, warnings, unknown, ignored, inert } = await configOrExit(args.config);
    const problems: string[] = [];
    for (const w of warnings) if (!w.includes("unknown key")) err(`warning: ${w}`);
    for (const { key, suggestion } of unknown) problems.push(`unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; neither tfo-mcp nor the Python server has it`);
    const model = resolveModel(undefined, config.claude.default_model);
    if (!model.ok) problems.push(`claude.default_model: ${model.error}`);
    const ws = await workspaceFor(config, process.cwd());
    if (!ws.ok) problems.push(`${ws.error}. Pass an existing folder with --root or workspace.roots.`);
    // Keys in the store count as keys (asked only when they would change the answer).
    let exposed = httpExposureProblem(config, ws.ok ? ws.workspace.roots : []);
    if (exposed) exposed = httpExposureProblem(config, ws.ok ? ws.workspace.roots : [], await storeHasKeys(config));
    if (exposed) problems.push(`serve would refuse to start: ${exposed}`);
    if (problems.length) {
      err(`tfo-mcp: ${file ?? "the configuration"} has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}:`);
      for (const p of problems) err(`  - ${p}`);
      throw new Exit(1);
    }
    if (!ws.ok) throw new Exit(1);
    const roots = ws.workspace.roots.join(", ") || "none";
    const untrusted = ignored.length ? ` Untrusted project file: ignored ${ignored.join(", ")} (tfo-mcp trust ${file}).` : "";
    const settings = telemetrySettings(config, process.env, VERSION);
    const telemetry = settings.ok ? describeTelemetry(settings.settings) : settings.problems.map((p) => p.message).join("; ");
    out(
      `Configuration OK (${file ?? "defaults only, no config file"}): transport ${config.server.transport}, roots ${roots} (${ws.workspace.why}), Claude API key ${config.claude.api_key ? "set" : "not set"}, telemetry ${telemetry}.${untrusted}`,
    );
    if (inert.length) out(`Accepted for compatibility with the Python server, not used by this build yet: ${inert.join(", ")}.`);
    if (args["check-telemetry"] && settings.ok) {
      const { checkTelemetry } = await import("./telemetry/check.ts");
      const result = await checkTelemetry(settings.settings);
      const where = `${settings.settings.protocol} ${settings.settings.urls.traces}`;
      if (!result.ok) {
        err(`tfo-mcp: the telemetry endpoint did not take the test span (${where}): ${result.error}`);
        throw new Exit(1);
      }
      out(`Telemetry endpoint answered: ${where} accepted a test span in ${result.ms} ms.`);
    }
  },
});

const info = defineCommand({
  meta: { name: "info", description: "Show version, effective configuration (secrets masked), roots in effect, tools offered, resources and prompts" },
  args: { ...configArg, json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const { config, file, origin, trusted, ignored } = await configOrExit(args.config);
    const ws = await workspaceFor(config, process.cwd());
    const storage = storeTarget(storageUrl(config), process.cwd(), defaultDatabasePath());
    const data = {
      name: "tfo-mcp",
      version: VERSION,
      commit: COMMIT,
      target: TARGET,
      config_file: file ?? null,
      config_origin: origin ?? null,
      config_trusted: trusted,
      config_ignored_keys: ignored,
      roots: ws.ok ? ws.workspace.roots : [],
      roots_why: ws.ok ? ws.workspace.why : ws.error,
      claude_api_key: config.claude.api_key ? "set" : "not set",
      storage: !storage.ok ? storage.error : storage.kind === "memory" ? "memory (lost at exit)" : storage.kind === "postgres" ? `postgres ${maskUrlCredentials(storage.url)}` : `sqlite ${storage.path}`,
      telemetry: telemetryInfo(config),
      config: maskSecrets(config),
      tools: offeredTools(tools, config).map((t) => t.name),
      resources: config.mcp.enable_resources ? [...resources.map((r) => r.uri), ...resourceTemplates.map((t) => t.uriTemplate)] : [],
      prompts: config.mcp.enable_prompts ? prompts.map((p) => p.name) : [],
    };
    if (args.json) return out(JSON.stringify(data, null, 2));
    out(`tfo-mcp ${VERSION} (${COMMIT}, ${TARGET})`);
    out(`config file: ${file ? `${file} (${origin}${trusted ? "" : `, untrusted: ignored ${ignored.join(", ") || "nothing"}`})` : "none (defaults)"}`);
    out(`roots:       ${data.roots.join(", ") || "none"} (${data.roots_why})`);
    out(`tools:       ${data.tools.join(", ") || "none"}`);
    out(`resources:   ${data.resources.join(", ") || "none"}`);
    out(`prompts:     ${data.prompts.join(", ") || "none"}`);
    out(`Claude key:  ${data.claude_api_key}`);
    out(`storage:     ${data.storage}`);
    out(`telemetry:   ${data.telemetry.destination}`);
    out("effective configuration (secrets masked):");
    out(JSON.stringify(data.config, null, 2));
  },
});

/** Where telemetry goes, for `info`: never a key, and passwords inside URLs masked. */
function telemetryInfo(config: Config) {
  if (!config.telemetry.enabled && !config.telemetry.prometheus) return { destination: "off" };
  const settings = telemetrySettings(config, process.env, VERSION);
  if (!settings.ok) return { destination: settings.problems.map((p) => p.message).join("; ") };
  const s = settings.settings;
  return {
    destination: describeTelemetry(s),
    ...(s.otlp ? { protocol: s.protocol, endpoints: Object.fromEntries(Object.entries(s.urls).map(([k, url]) => [k, maskUrlCredentials(url)])), auth: s.auth, signals: s.signals, from_env: s.fromEnv } : {}),
  };
}

const initConfig = defineCommand({
  meta: { name: "init-config", description: "Write a commented tfo-mcp.yaml with every key and its default" },
  args: {
    output: { type: "string", description: "Where to write it", default: "tfo-mcp.yaml", valueHint: "FILE" },
    force: { type: "boolean", description: "Overwrite an existing file" },
  },
  async run({ args }) {
    const target = resolve(args.output);
    if (!existsSync(dirname(target))) {
      err(`tfo-mcp: the folder ${dirname(target)} does not exist; create it first (mkdir -p ${dirname(target)}) or choose another --output.`);
      throw new Exit(1);
    }
    if (existsSync(target) && !args.force) {
      err(`tfo-mcp: ${target} already exists; pass --force to overwrite it.`);
      throw new Exit(1);
    }
    writeFileSync(target, renderConfigTemplate());
    out(`Wrote ${target}`);
  },
});

const trust = defineCommand({
  meta: { name: "trust", description: "Trust a project config file (./tfo-mcp.yaml) so all its keys apply; a changed file is untrusted again" },
  args: { file: { type: "positional", description: "The file (default: the one found in this folder)", required: false } },
  async run({ args }) {
    const env = process.env;
    const found = args.file ? resolve(args.file) : configFileCandidates({ env, cwd: process.cwd(), home: homedir() }).candidates.find((c) => c.origin === "project" && existsSync(c.path))?.path;
    if (!found) {
      err("tfo-mcp: no ./tfo-mcp.yaml or ./configs/tfo-mcp.yaml here; name the file to trust: tfo-mcp trust FILE.");
      throw new Exit(1);
    }
    if (!existsSync(found)) {
      err(`tfo-mcp: ${found} does not exist.`);
      throw new Exit(1);
    }
    const list = trustListPath(env, homedir());
    const hash = await trustFile(list, found);
    out(`Trusted ${found} (sha256 ${hash.slice(0, 16)}…), recorded in ${list}. Every key in it now applies; if the file changes, it is untrusted again until you run tfo-mcp trust again.`);
  },
});

async function storeHasKeys(config: Config): Promise<boolean> {
  try {
    const store = await openConfiguredStore(config);
    try {
      return (await store.listKeys()).length > 0;
    } finally {
      store.close();
    }
  } catch {
    return false;
  }
}

async function withStore<T>(configFile: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const { config } = await configOrExit(configFile);
  let store: Store;
  try {
    store = await openConfiguredStore(config);
  } catch (error) {
    const key = config.storage.backend === "postgres" ? "database.postgres_url" : "storage.url";
    err(`tfo-mcp: cannot open storage (${key} ${JSON.stringify(maskUrlCredentials(storageUrl(config)))}): ${(error as Error).message}`);
    throw new Exit(1);
  }
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

const keys = defineCommand({
  meta: { name: "keys", description: "API keys for the http transport, each a tenant: keys add NAME, keys list, keys revoke NAME, keys rotate NAME" },
  args: {
    action: { type: "positional", description: "add | list | revoke | rotate", required: false, default: "list" },
    name: { type: "positional", description: "the key's name (add, revoke, rotate)", required: false },
    ...configArg,
    root: { type: "string", description: "add: a folder this key may touch (its ceiling); repeat for more (default: the server's roots)", valueHint: "DIR" },
    tools: { type: "string", description: 'add: the tools it may use, comma-separated ("read" = read_file, list_directory, search_files, system_info)', valueHint: "LIST" },
    "read-only": { type: "boolean", description: "add: no writing tools" },
    "rate-limit": { type: "string", description: "add: requests per minute (N, N/s, N/min, N/h)", valueHint: "N/min" },
    "max-sessions": { type: "string", description: "add: open sessions at once", valueHint: "N" },
    json: { type: "boolean", description: "list: print JSON" },
  },
  async run({ args, rawArgs }) {
    const code = await withStore(args.config, (store) =>
      runKeys(
        {
          action: args.action ?? "list",
          name: args.name,
          roots: repeatedFlag(rawArgs, "root"),
          tools: args.tools,
          readOnly: Boolean(args["read-only"]),
          rateLimit: args["rate-limit"],
          maxSessions: args["max-sessions"],
          json: Boolean(args.json),
          cwd: process.cwd(),
          toolNames: tools.map((t) => t.name),
        },
        { out, err, store },
      ),
    );
    if (code !== 0) throw new Exit(code);
  },
});

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
        if (t.exchange) out(`[${t.seq}] ${exchangeSummary(t.exchange)}`);
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
  subCommands: { serve, validate, info, "init-config": initConfig, trust, keys, conversations, install, uninstall },
});

const SUBCOMMANDS: Record<string, CommandDef<ArgsDef>> = { serve, validate, info, "init-config": initConfig, trust, keys, conversations, install, uninstall } as never;

async function usage(argv: string[]): Promise<string> {
  const sub = argv.find((a) => a in SUBCOMMANDS);
  const text = sub ? await renderUsage(SUBCOMMANDS[sub]!, main) : await renderUsage(main);
  const examples = `
Examples:
  tfo-mcp serve --root ~/code/app        serve a folder over stdio (repeat --root for more; --root replaces configured roots)
  tfo-mcp serve                          serve the client's roots, else the current folder (never / or your home folder)
  tfo-mcp serve -c tfo-mcp.yaml          use this config file (trusted: every key applies)
  tfo-mcp trust                          trust ./tfo-mcp.yaml (a project file is untrusted until then)
  tfo-mcp init-config && tfo-mcp validate
  tfo-mcp info                           roots in effect and why, tools offered, storage
  tfo-mcp conversations list             stored Claude conversations (show ID, delete ID)
  tfo-mcp install claude-desktop --root ~/code/app   add tfo-mcp to Claude Desktop (--root required)
  tfo-mcp install cursor                 serves the folder Cursor has open
  claude mcp add tfo -- tfo-mcp serve    Claude Code, run in the project folder

Environment: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, TELEMETRYFLOW_MCP_CONFIG, TELEMETRYFLOW_MCP_<SECTION>__<KEY>.`;
  const plain = process.stdout.isTTY ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
  return sub ? plain : plain + examples;
}

async function run(argv: string[]): Promise<number> {
  if (argv.includes("--version") || argv.includes("-v")) {
    // click's shape first (`tfo-mcp, version X`), so scripts written for the Python server parse it.
    out(`tfo-mcp, version ${VERSION} (${COMMIT}, ${TARGET})`);
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
  if (!(first in SUBCOMMANDS)) {
    const guess = nearest(first, Object.keys(SUBCOMMANDS));
    err(`tfo-mcp: unknown ${first.startsWith("-") ? "option" : "command"} "${first}"${guess ? ` (did you mean "${guess}"?)` : ""}. Commands: ${Object.keys(SUBCOMMANDS).join(", ")}. See tfo-mcp --help.`);
    return 2;
  }
  const checked = checkArgs(first, (SUBCOMMANDS[first]!.args ?? {}) as ArgsDef, argv.slice(1));
  if (!checked.ok) {
    err(`tfo-mcp: ${checked.error}`);
    return 2;
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
