// The MCP server: the SDK's low-level Server for initialize, ping, cancellation and
// progress plumbing, and one dispatch table of our own for everything else, so that every
// request's params are checked by valibot and a bad shape is answered with -32602 and a
// sentence that says what was wrong. An http server holds one Server per client, most of
// them idle: what its sessions share is built once (serverKit), and a session is a record
// that one set of handlers takes as an argument, not a set of closures of its own.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ErrorCode, RootsListChangedNotificationSchema, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js";
import type { Config } from "../config/schema.ts";
import { envSecretValues, secretValues } from "../config/describe.ts";
import { type Logger, redactor } from "../log.ts";
import { checkPromptArguments, type Prompt, promptArgumentValues } from "../prompts/index.ts";
import { ResourceError, type Resource, type ResourceContext, type ResourceTemplate, type Stats } from "../resources/define.ts";
import type { ListedTool, SamplingRequest, SamplingResult, SessionTools, Tool, ToolContext, ToolOutput } from "../tools/define.ts";
import { ToolError } from "../tools/define.ts";
import { offeredTools, whyNotOffered } from "../tools/index.ts";
import { VERSION } from "../version.ts";
import type { Store } from "../store/port.ts";
import type { Attributes, Carrier, SessionInfo, SpanHandle, Telemetry } from "../telemetry/port.ts";
import type { Workspace } from "../workspace/resolve.ts";
import { clientRootPaths, noWorkspaceMessage, rootsWithClient } from "../workspace/roots.ts";
import { deadlineWatch } from "./deadlines.ts";
import { jsonSchemaOf } from "./json-schema.ts";
import * as p from "./params.ts";
import { argumentShape, errorResult, type Extra, invalidParams, lazyValidator, parseParams, rpcError, toCallResult } from "./results.ts";
import { runTool } from "./run-tool.ts";
import { builtinNotification, builtinRequest, type SdkConstants, sdkInitialize, sdkParse, shareSdkConstants, takeOverBuiltins } from "./sdk-internals.ts";
import type { Activity } from "../events/port.ts";

export type ServerDeps = {
  config: Config;
  workspace: Workspace;
  log: Logger;
  tools: readonly Tool[];
  resources: readonly Resource[];
  resourceTemplates: readonly ResourceTemplate[];
  prompts: readonly Prompt[];
  /** where the server started, to advise on a missing --root once the client's name is known */
  noWorkspace?: { cwd: string; home: string };
  /** opens storage, once (later calls get the same store); called on first use only */
  openStore: () => Promise<Store>;
  /** spans, metrics and session events when telemetry is on */
  telemetry?: Telemetry;
  /** on every span of this session (the http transport: the API key's name) */
  telemetryAttributes?: Attributes;
  /** events of this session's calls, reads, start and end (NATS, ClickHouse, the audit table) */
  activity?: Activity;
  /** the API key's name (tenant) on activity events; null or absent for the server's own */
  tenant?: string | null;
  /** how the client is connected, on session events: stdio, http, sse, websocket */
  transport?: string;
  /** the shared backends' states for status://health: { nats: "connected, …", redis: "…" } */
  backends?: () => Record<string, string>;
};

const LEVELS = p.RFC5424_LEVELS;
// Fields added to tools after the first protocol version; older clients get the shape they know.
const STRUCTURED_SINCE = "2025-06-18";
const CAPABILITY_OF: Record<string, string> = { tools: "tools", resources: "resources", prompts: "prompts", logging: "logging", completion: "completions" };

/** The trace context a client may send in a request's _meta (traceparent, tracestate). */
const carrierOf = (params: unknown): Carrier | undefined => (params as { _meta?: Carrier } | undefined)?._meta;
/** error.type for a failed read or get: what the client was told, in one word. */
const errorTypeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === -32002) return "not_found";
  if (code === ErrorCode.InvalidParams) return "invalid_params";
  return (error as Error | undefined)?.name || "Error";
};

/** The value with every string passed through `redact`; the same object where nothing changed. */
export function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) {
    const items = value.map((item) => redactDeep(item, redact));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (value === null || typeof value !== "object") return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, item] of Object.entries(value)) {
    const clean = redactDeep(item, redact);
    if (clean !== item) (copy ??= { ...(value as Record<string, unknown>) })[k] = clean;
  }
  return copy ?? value;
}

type Level = (typeof LEVELS)[number];
type KitDeps = Pick<ServerDeps, "config" | "tools" | "resources" | "resourceTemplates" | "prompts">;

/**
 * What every session of one server shares: derived from the config and the registries alone,
 * so built once rather than per session (an http server holds one Server per client; the
 * lists, the capabilities and the tool map cost ~1.5 KB each time).
 */
export type ServerKit = {
  from: KitDeps;
  tools: readonly Tool[];
  toolsByName: ReadonlyMap<string, Tool>;
  resources: readonly Resource[];
  templates: readonly ResourceTemplate[];
  prompts: readonly Prompt[];
  capabilities: Record<string, object>;
  serverInfo: { name: string; version: string; title: string };
  serverOptions: ConstructorParameters<typeof Server>[1];
  offered: NonNullable<Stats["offered"]>;
  secrets: string[];
  redact: (text: string) => string;
  deadlines: ReturnType<typeof deadlineWatch>;
  /** Built on the first tools/list (or claude_conversation with tools), not at start-up. */
  toolLists?: { current: unknown[]; legacy: unknown[]; listed: ListedTool[] };
  /** The SDK's constant tables, one copy for every Server of this kit (sdk-internals.ts). */
  sdkConstants?: SdkConstants;
};

export function serverKit(from: KitDeps): ServerKit {
  const { config } = from;
  const mcp = config.mcp;
  const tools = offeredTools(from.tools, config);
  const resources = mcp.enable_resources ? from.resources : [];
  const templates = mcp.enable_resources ? from.resourceTemplates : [];
  const prompts = mcp.enable_prompts ? from.prompts : [];
  const capabilities: Record<string, object> = {};
  if (tools.length) capabilities.tools = { listChanged: false };
  if (resources.length || templates.length) capabilities.resources = { listChanged: false, subscribe: false };
  if (prompts.length) capabilities.prompts = { listChanged: false };
  if (mcp.enable_logging) capabilities.logging = {};
  capabilities.completions = {};
  // No configured secret leaves the server: not in a file read, a command's output, or an
  // upstream error body that repeats the Authorization header.
  // The config's secrets and the OTLP header values from the environment.
  const secrets = [...secretValues(config), ...envSecretValues(process.env)];
  return {
    from,
    tools,
    toolsByName: new Map(tools.map((t) => [t.name, t])),
    resources,
    templates,
    prompts,
    capabilities,
    serverInfo: { name: config.server.name, version: config.server.version || VERSION, title: "TelemetryFlow MCP" },
    serverOptions: {
      capabilities,
      // The SDK builds an Ajv instance up front for elicitation, which we never send;
      // building it on first use keeps that cost off every start-up.
      jsonSchemaValidator: lazyValidator(),
      instructions:
        "Tools to read, write, list and search files inside the workspace roots, run commands there, read system information and ask Claude. Paths are relative to the first workspace root.",
    },
    offered: { tools: tools.length, resources: resources.length + templates.length, prompts: prompts.length },
    secrets,
    redact: redactor(secrets),
    deadlines: deadlineWatch(),
  };
}

/** A kit made from other inputs than these deps (a tenant's own config or tool list) does not fit. */
const fits = (kit: ServerKit, deps: ServerDeps) =>
  kit.from.config === deps.config && kit.from.tools === deps.tools && kit.from.resources === deps.resources && kit.from.resourceTemplates === deps.resourceTemplates && kit.from.prompts === deps.prompts;

const buildToolLists = (tools: readonly Tool[]) => {
  const current = tools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: jsonSchemaOf(t.input),
    ...(t.output ? { outputSchema: jsonSchemaOf(t.output) } : {}),
    annotations: { title: t.title, ...t.annotations },
  }));
  const listed = tools.map((t, i) => ({ name: t.name, title: t.title, description: t.description, inputSchema: current[i]!.inputSchema, annotations: t.annotations, writes: t.writes === true }));
  return { current, legacy: current.map(({ title: _t, outputSchema: _o, ...rest }) => rest), listed };
};
const toolListsOf = (kit: ServerKit) => (kit.toolLists ??= buildToolLists(kit.tools));

/**
 * One session: a record, and the functions below take it as their first argument. An http
 * server keeps a thousand of these idle, so no closure is built per session beyond the
 * SDK's three callbacks and endSession.
 */
type Session = {
  deps: ServerDeps;
  kit: ServerKit;
  server: Server;
  stats: Stats;
  /** Narrowed by the client's roots (roots/list); the configured workspace is the ceiling. */
  workspace: Workspace;
  /** A roots/list under way (or done); none for a client without roots. */
  rootsReady?: Promise<void>;
  storeUsed: boolean;
  sessionRecorded: boolean;
  clientLogLevel?: Level;
  negotiated: string;
  initializing: boolean;
};

/**
 * Storage on first use (deps.openStore opens it once and retries a failed open). The
 * session is recorded then, or at the end: opening a database stays off start-up and
 * out of an idle server's memory.
 */
async function storeOf(s: Session): Promise<Store> {
  const store = await s.deps.openStore();
  s.storeUsed = true;
  // A session row that cannot be written must not make storage unusable.
  await recordSessionStart(s, store).catch((error) => s.deps.log.warn("session not recorded", { error: (error as Error).message }));
  return store;
}

async function recordSessionStart(s: Session, store: Store) {
  const { stats } = s;
  if (s.sessionRecorded || !stats.client) return;
  s.sessionRecorded = true;
  await store.startSession({
    id: stats.sessionId!,
    client_name: stats.client.name,
    client_version: stats.client.version,
    protocol_version: s.negotiated,
    started_at: new Date(stats.startedAt).toISOString(),
  });
}

// Walks the result and redacts its strings where they are: no JSON round trip of a 10 MB
// file read on every call, and a secret holding " or \ still matches (escaped JSON did not).
const scrubbed = <T>(kit: ServerKit, result: T): T => (kit.secrets.length === 0 ? result : (redactDeep(result, kit.redact) as T));
const resourceContext = (s: Session, signal?: AbortSignal): ResourceContext => ({ config: s.deps.config, workspace: s.workspace, stats: s.stats, signal, store: () => storeOf(s) });
const common = (s: Session) => ({ at: new Date().toISOString(), tenant: s.deps.tenant ?? null, session_id: s.stats.sessionId! });
const sessionInfo = (s: Session): SessionInfo => ({
  sessionId: s.stats.sessionId!,
  clientName: s.stats.client?.name,
  clientVersion: s.stats.client?.version,
  protocolVersion: s.stats.protocolVersion,
  attributes: s.deps.telemetryAttributes,
});

/** Sends a log line to the client once it has asked for logs with logging/setLevel. */
function notifyClient(s: Session, level: Level, data: unknown) {
  if (!s.clientLogLevel || LEVELS.indexOf(level) < LEVELS.indexOf(s.clientLogLevel)) return;
  s.server.notification({ method: "notifications/message", params: { level, logger: "tfo-mcp", data } }).catch(() => {});
}

function sampler(s: Session): ToolContext["sample"] {
  const { server } = s;
  if (!server.getClientCapabilities()?.sampling) return undefined;
  return async (request: SamplingRequest, signal: AbortSignal) =>
    (await server.createMessage(request as Parameters<typeof server.createMessage>[0], { signal, timeout: s.deps.config.claude.timeout * 1000 })) as unknown as SamplingResult;
}

/**
 * The session's tools for a tool that calls tools: Claude's tool_use inside
 * claude_conversation goes through dispatchTool like a client's call, under the same
 * tenant scope, and its spans join the calling tool's trace.
 */
function sessionTools(s: Session, extra: Extra, span: SpanHandle | undefined): SessionTools {
  const { kit, deps } = s;
  return {
    list: () => toolListsOf(kit).listed,
    whyNotOffered(name) {
      if (kit.toolsByName.has(name)) return undefined;
      const hidden = deps.tools.find((t) => t.name === name);
      return hidden ? (whyNotOffered(hidden, deps.config) ?? `${name} is not offered in this session.`) : undefined;
    },
    async call(name, args, signal) {
      // No progress token: the calling tool reports progress for the whole loop.
      const inner: Extra = { signal: AbortSignal.any([extra.signal, signal]), requestId: extra.requestId, sendNotification: extra.sendNotification };
      try {
        return await dispatchTool(s, name, args, inner, span ? { traceparent: span.traceparent() } : undefined, "claude_conversation");
      } catch (error) {
        // An unknown tool is a protocol fault to a client; to a model, a result it can read.
        return scrubbed(kit, errorResult((error as Error)?.message ?? String(error)));
      }
    },
  };
}

async function callTool(s: Session, tool: Tool, rawArgs: unknown, extra: Extra, span: SpanHandle | undefined): Promise<ToolOutput> {
  await s.rootsReady;
  const { deps, server } = s;
  return runTool(tool, rawArgs, extra, {
    config: deps.config,
    workspace: s.workspace,
    log: deps.log,
    store: () => storeOf(s),
    sample: () => sampler(s),
    sampleTools: () => server.getClientCapabilities()?.sampling?.tools !== undefined,
    tools: () => sessionTools(s, extra, span),
    deadlines: s.kit.deadlines,
    span,
  });
}

/**
 * One tool call as the server runs it for anyone, a client's tools/call or Claude's
 * tool_use inside claude_conversation (`via`): offered-tools check, the call, telemetry,
 * the audit line, the activity event, and the result scrubbed of secrets.
 */
async function dispatchTool(s: Session, name: string, args: unknown, extra: Extra, carrier: Carrier | undefined, via?: string): Promise<ToolOutput> {
  const { kit, deps, stats } = s;
  const { config, log } = deps;
  const tool = kit.toolsByName.get(name);
  // A tool this config hides (read-only, commands off) answers why, as a result the model can read.
  const hidden = tool ? undefined : deps.tools.find((t) => t.name === name);
  if (hidden && config.mcp.enable_tools) return errorResult(whyNotOffered(hidden, config) ?? `${name} is not offered.`);
  if (!tool) throw invalidParams(`Unknown tool: ${JSON.stringify(name)}. Available tools: ${[...kit.toolsByName.keys()].join(", ")}.`);
  const started = performance.now();
  stats.toolCalls++;
  const op = deps.telemetry?.begin("tool", name, sessionInfo(s), carrier);
  let out: ToolOutput;
  let errorType = "tool_error";
  try {
    out = await callTool(s, tool, args, extra, op?.span);
  } catch (error) {
    if (error instanceof ToolError) out = errorResult(error.message, error.meta);
    else {
      errorType = (error as Error)?.name || "Error";
      log.error("tool failed unexpectedly", { tool: name, error: (error as Error)?.message ?? String(error) });
      out = errorResult(`${name} failed unexpectedly: ${(error as Error)?.message ?? String(error)}`);
    }
  }
  op?.end(out.isError ? { errorType, message: out.text.slice(0, 300) } : undefined);
  if (out.isError) stats.toolErrors++;
  const audit = { tool: name, args: argumentShape(args), ms: Math.round((performance.now() - started) * 10) / 10, outcome: out.isError ? "error" : "ok" } as const;
  log.info("tool call", via ? { ...audit, via } : audit);
  deps.activity?.emit({ type: "tool.called", ...common(s), ...audit, error_type: out.isError ? errorType : null });
  notifyClient(s, out.isError ? "warning" : "info", audit);
  return scrubbed(kit, out);
}

async function readResource(s: Session, uri: string, extra: Extra) {
  await s.rootsReady;
  const { kit } = s;
  const ctx = resourceContext(s, extra.signal);
  try {
    const fixed = kit.resources.find((r) => r.uri === uri);
    if (fixed) return scrubbed(kit, { contents: [await fixed.read(ctx)] });
    for (const template of kit.templates) {
      const vars = template.match(uri);
      if (vars) return scrubbed(kit, { contents: [await template.read(uri, vars, ctx)] });
    }
  } catch (error) {
    if (error instanceof ResourceError) throw rpcError(error.code === "not_found" ? -32002 : ErrorCode.InvalidParams, error.message, { uri });
    throw error;
  }
  throw rpcError(-32002, `Resource not found: ${uri}. Known: ${kit.resources.map((r) => r.uri).join(", ")}, and file:/// URIs inside the workspace.`, { uri });
}

function getPrompt(kit: ServerKit, name: string, args: Record<string, string>) {
  const prompt = kit.prompts.find((x) => x.name === name);
  if (!prompt) throw invalidParams(`Unknown prompt: ${JSON.stringify(name)}. Available prompts: ${kit.prompts.map((x) => x.name).join(", ")}.`);
  const problem = checkPromptArguments(prompt, args);
  if (problem) throw invalidParams(`Invalid arguments: ${problem}.`);
  return { description: prompt.description, messages: [{ role: "user", content: { type: "text", text: prompt.render(args) } }] };
}

type SessionHandler = (s: Session, params: Record<string, unknown>, extra: Extra) => Promise<Record<string, unknown>>;

/** The dispatch table, one for every session: each handler takes its session as an argument. */
const HANDLERS: Record<string, SessionHandler> = {
  async initialize(s, params) {
    const { deps, stats } = s;
    const parsed = parseParams(p.initialize, params, "initialize");
    const { clientInfo } = parsed;
    // Set before the first await: requests queued behind initialize must see it.
    s.initializing = true;
    stats.state = "initializing";
    stats.client = { name: clientInfo.name, version: clientInfo.version };
    // Now that the client is known, the advice can name its config file.
    if (s.workspace.unavailable && deps.noWorkspace) s.workspace = { ...s.workspace, unavailable: noWorkspaceMessage(deps.noWorkspace.cwd, deps.noWorkspace.home, clientInfo.name) };
    const result = (await sdkInitialize(s.server, { ...params, ...parsed })) as { protocolVersion: string };
    const mcp = deps.config.mcp;
    if (mcp.protocol_version && SUPPORTED_PROTOCOL_VERSIONS.includes(mcp.protocol_version)) result.protocolVersion = mcp.protocol_version;
    s.negotiated = result.protocolVersion;
    stats.protocolVersion = s.negotiated;
    deps.log.info("session started", { client: stats.client?.name, client_version: stats.client?.version, protocol: s.negotiated });
    deps.telemetry?.sessionEvent("initialized", sessionInfo(s));
    deps.activity?.emit({
      type: "session.started",
      ...common(s),
      transport: deps.transport ?? "stdio",
      client_name: clientInfo.name,
      client_version: clientInfo.version,
      protocol_version: s.negotiated,
    });
    return result;
  },

  // Not MCP: the Python server answered it and ended the session; clients written for it send it.
  async shutdown(s) {
    setTimeout(() => void s.server.close(), 0);
    return {};
  },

  async "logging/setLevel"(s, params) {
    s.clientLogLevel = parseParams(p.setLevel, params, "logging/setLevel").level;
    return {};
  },

  async "tools/list"(s) {
    const lists = toolListsOf(s.kit);
    return { tools: s.negotiated >= STRUCTURED_SINCE ? lists.current : lists.legacy };
  },

  async "tools/call"(s, params, extra) {
    const { name, arguments: args } = parseParams(p.callTool, params, "tools/call");
    return toCallResult(await dispatchTool(s, name, args, extra, carrierOf(params)), s.negotiated >= STRUCTURED_SINCE);
  },

  async "resources/list"(s) {
    return { resources: s.kit.resources.map(({ read: _r, ...meta }) => meta) };
  },

  async "resources/templates/list"(s) {
    return { resourceTemplates: s.kit.templates.map((t) => ({ uriTemplate: t.uriTemplate, name: t.name, title: t.title, description: t.description })) };
  },

  async "resources/read"(s, params, extra) {
    const { uri } = parseParams(p.readResource, params, "resources/read");
    const { telemetry, activity } = s.deps;
    const op = telemetry?.begin("resource", uri, sessionInfo(s), carrierOf(params));
    const started = performance.now();
    // The scheme only: a file:// or conversation:// URI names what was read.
    const read = (errorType: string | null) =>
      activity?.emit({ type: "resource.read", ...common(s), scheme: uri.split(":", 1)[0] ?? "", ms: Math.round((performance.now() - started) * 10) / 10, outcome: errorType ? "error" : "ok", error_type: errorType });
    try {
      const result = await readResource(s, uri, extra);
      op?.end();
      read(null);
      return result;
    } catch (error) {
      op?.end({ errorType: errorTypeOf(error), message: (error as Error)?.message });
      read(errorTypeOf(error));
      throw error;
    }
  },

  async "prompts/list"(s) {
    return { prompts: s.kit.prompts.map(({ render: _r, ...meta }) => meta) };
  },

  async "prompts/get"(s, params) {
    const { name, arguments: args = {} } = parseParams(p.getPrompt, params, "prompts/get");
    const op = s.deps.telemetry?.begin("prompt", name, sessionInfo(s), carrierOf(params));
    try {
      const result = getPrompt(s.kit, name, args);
      op?.end();
      return result;
    } catch (error) {
      op?.end({ errorType: errorTypeOf(error), message: (error as Error)?.message });
      throw error;
    }
  },

  async "completion/complete"(s, params) {
    const { ref, argument } = parseParams(p.complete, params, "completion/complete");
    let values: string[] = [];
    if (ref.type === "ref/prompt") {
      const prompt = s.kit.prompts.find((x) => x.name === ref.name);
      if (!prompt) throw invalidParams(`Unknown prompt: ${JSON.stringify(ref.name)}.`);
      values = promptArgumentValues(argument.name).filter((x) => x.startsWith(argument.value.toLowerCase()));
    } else {
      const template = s.kit.templates.find((t) => t.uriTemplate === ref.uri);
      if (!template) throw invalidParams(`Unknown resource template: ${JSON.stringify(ref.uri)}.`);
      values = (await template.complete?.(argument.name, argument.value, resourceContext(s))) ?? [];
    }
    return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } };
  },
};

async function dispatch(s: Session, request: { method: string; params?: unknown }, extra: Extra): Promise<Record<string, unknown>> {
  // ping reaches us only when takeOverBuiltins emptied the SDK's table; it needs no initialize.
  const builtin = builtinRequest(request);
  if (builtin) return builtin;
  const handler = Object.hasOwn(HANDLERS, request.method) ? HANDLERS[request.method] : undefined;
  const needs = request.method.split("/")[0]!;
  if (!handler) throw rpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
  if (needs in CAPABILITY_OF && !s.kit.capabilities[CAPABILITY_OF[needs]!]) {
    const key = needs === "completion" ? "" : ` (mcp.enable_${needs === "logging" ? "logging" : needs} is false)`;
    throw rpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}: ${needs} ${needs === "logging" ? "is" : "are"} disabled on this server${key}.`);
  }
  if (request.method !== "initialize" && !s.initializing) {
    throw rpcError(ErrorCode.InvalidRequest, `Send initialize before ${request.method}.`);
  }
  const params = request.params as Record<string, unknown> | undefined;
  try {
    return await handler(s, params ?? {}, extra);
  } catch (error) {
    if (error instanceof Error) error.message = s.kit.redact(error.message);
    throw error;
  }
}

/** The client's notifications the SDK does not handle itself (all of them once takeOverBuiltins did). */
function onNotification(s: Session, notification: { method: string }) {
  if (notification.method === "notifications/roots/list_changed") {
    sdkParse(RootsListChangedNotificationSchema, notification);
    s.rootsReady = refreshRoots(s);
    return s.rootsReady;
  }
  builtinNotification(s.server, notification);
}

/** Ask the client for its roots: they narrow explicit roots, or are the workspace when there are none. */
async function refreshRoots(s: Session) {
  const { server, deps } = s;
  const { log } = deps;
  if (!server.getClientCapabilities()?.roots) return;
  try {
    const { roots } = await server.listRoots(undefined, { timeout: 10_000 });
    const { paths, skipped } = await clientRootPaths(roots.map((r) => r.uri));
    for (const uri of skipped) log.warn("client root ignored: not an existing file:// folder", { uri });
    const next = rootsWithClient(deps.workspace, paths);
    if (next.ignored) {
      const text = `The client's roots (${next.ignored.join(", ")}) lie outside this server's roots (${deps.workspace.roots.join(", ")}); serving ${deps.workspace.roots.join(", ")}.`;
      log.warn(text);
      if (deps.config.mcp.enable_logging) server.notification({ method: "notifications/message", params: { level: "warning", logger: "tfo-mcp", data: text } }).catch(() => {});
    }
    s.workspace = { ...deps.workspace, roots: next.roots, explicit: next.explicit, why: next.why, unavailable: next.roots.length ? undefined : s.workspace.unavailable };
    log.info("workspace roots", { roots: s.workspace.roots.join(","), why: s.workspace.why });
  } catch (error) {
    log.warn("roots/list failed; keeping the roots in effect", { error: (error as Error).message });
  }
}

/** Records the session's end (and its start, if storage never opened). Storage stays open: it may be shared. */
async function endSession(s: Session) {
  const { stats, deps } = s;
  stats.state = "closed";
  if (stats.client) deps.telemetry?.sessionEvent("closed", sessionInfo(s));
  if (stats.client) deps.activity?.emit({ type: "session.ended", ...common(s), transport: deps.transport ?? "stdio", calls: stats.toolCalls, duration_ms: Date.now() - stats.startedAt });
  if (!stats.client && !s.storeUsed) return;
  try {
    const store = await storeOf(s);
    await recordSessionStart(s, store);
    await store.updateSession(stats.sessionId!, { ended_at: new Date().toISOString(), calls: stats.toolCalls });
  } catch (error) {
    deps.log.warn("session not recorded: storage unavailable", { error: (error as Error).message });
  }
}

/**
 * One MCP session's Server. `kit`: what the server's sessions share (serverKit), when the
 * caller keeps one; a kit built from another config or tool list is not used. `sessionId`:
 * the transport's id for the session (http's Mcp-Session-Id), so that logs, spans, events
 * and the stored session row say the same one; a new one otherwise.
 */
export function createServer(deps: ServerDeps, kit?: ServerKit, sessionId: string = crypto.randomUUID()) {
  if (!kit || !fits(kit, deps)) kit = serverKit(deps);
  const stats: Stats = {
    startedAt: Date.now(),
    toolCalls: 0,
    toolErrors: 0,
    sessionId,
    state: "created",
    offered: kit.offered,
    backends: deps.backends,
  };
  const server = new Server(kit.serverInfo, kit.serverOptions);
  // Our dispatch table answers these; the SDK's own would report a bad shape as an internal error.
  server.removeRequestHandler("initialize");
  server.removeRequestHandler("logging/setLevel");
  kit.sdkConstants = shareSdkConstants(server, kit.sdkConstants);
  const s: Session = {
    deps,
    kit,
    server,
    stats,
    workspace: deps.workspace,
    storeUsed: false,
    sessionRecorded: false,
    negotiated: SUPPORTED_PROTOCOL_VERSIONS[0]!,
    initializing: false,
  };
  // Calls wait for a refresh under way, so none runs against roots the client has just narrowed.
  server.oninitialized = () => {
    stats.state = "ready";
    if (server.getClientCapabilities()?.roots) s.rootsReady = refreshRoots(s);
  };
  // The SDK's ping, cancelled, progress and initialized handlers are ~1 KB a Server: one
  // fallback per session answers them as they do (sdk-internals.ts).
  takeOverBuiltins(server);
  server.fallbackNotificationHandler = async (notification) => onNotification(s, notification);
  server.fallbackRequestHandler = (request, extra) => dispatch(s, request, extra as unknown as Extra) as never;
  return { server, stats, endSession: () => endSession(s) };
}
