// The MCP server: the SDK's low-level Server for initialize, ping, cancellation and
// progress plumbing, and one dispatch table of our own for everything else, so that every
// request's params are checked by valibot and a bad shape is answered with -32602 and a
// sentence that says what was wrong.
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
import { argumentShape, errorResult, type Extra, type Handler, invalidParams, lazyValidator, parseParams, rpcError, toCallResult } from "./results.ts";
import { runTool } from "./run-tool.ts";
import { sdkInitialize } from "./sdk-internals.ts";
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

const LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
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

export function createServer(deps: ServerDeps) {
  const { config, log } = deps;
  // Narrowed by the client's roots (roots/list); the configured workspace is the ceiling.
  let workspace = deps.workspace;
  let rootsReady: Promise<void> = Promise.resolve();
  const mcp = config.mcp;
  const tools = offeredTools(deps.tools, config);
  const resources = mcp.enable_resources ? deps.resources : [];
  const templates = mcp.enable_resources ? deps.resourceTemplates : [];
  const prompts = mcp.enable_prompts ? deps.prompts : [];
  const toolsByName = new Map(tools.map((t) => [t.name, t]));
  const sessionId = crypto.randomUUID();
  const stats: Stats = {
    startedAt: Date.now(),
    toolCalls: 0,
    toolErrors: 0,
    sessionId,
    state: "created",
    offered: { tools: tools.length, resources: resources.length + templates.length, prompts: prompts.length },
    backends: deps.backends,
  };
  let storeUsed = false;
  let sessionRecorded = false;
  /**
   * Storage on first use (deps.openStore opens it once and retries a failed open). The
   * session is recorded then, or at the end: opening a database stays off start-up and
   * out of an idle server's memory.
   */
  const store = async (): Promise<Store> => {
    const s = await deps.openStore();
    storeUsed = true;
    // A session row that cannot be written must not make storage unusable.
    await recordSessionStart(s).catch((error) => log.warn("session not recorded", { error: (error as Error).message }));
    return s;
  };
  async function recordSessionStart(s: Store) {
    if (sessionRecorded || !stats.client) return;
    sessionRecorded = true;
    await s.startSession({
      id: sessionId,
      client_name: stats.client.name,
      client_version: stats.client.version,
      protocol_version: negotiated,
      started_at: new Date(stats.startedAt).toISOString(),
    });
  }
  const deadlines = deadlineWatch();
  // No configured secret leaves the server: not in a file read, a command's output, or an
  // upstream error body that repeats the Authorization header.
  // The config's secrets and the OTLP header values from the environment.
  const secrets = [...secretValues(config), ...envSecretValues(process.env)];
  const redact = redactor(secrets);
  // Walks the result and redacts its strings where they are: no JSON round trip of a 10 MB
  // file read on every call, and a secret holding " or \ still matches (escaped JSON did not).
  const scrubbed = <T>(result: T): T => (secrets.length === 0 ? result : (redactDeep(result, redact) as T));
  const resourceContext = (signal?: AbortSignal): ResourceContext => ({ config, workspace, stats, signal, store });
  let clientLogLevel: (typeof LEVELS)[number] | undefined;
  let negotiated = SUPPORTED_PROTOCOL_VERSIONS[0]!;
  let initializing = false;
  const telemetry = deps.telemetry;
  const activity = deps.activity;
  const transport = deps.transport ?? "stdio";
  const common = () => ({ at: new Date().toISOString(), tenant: deps.tenant ?? null, session_id: sessionId });
  const session = (): SessionInfo => ({
    sessionId,
    clientName: stats.client?.name,
    clientVersion: stats.client?.version,
    protocolVersion: stats.protocolVersion,
    attributes: deps.telemetryAttributes,
  });

  const capabilities: Record<string, object> = {};
  if (tools.length) capabilities.tools = { listChanged: false };
  if (resources.length || templates.length) capabilities.resources = { listChanged: false, subscribe: false };
  if (prompts.length) capabilities.prompts = { listChanged: false };
  if (mcp.enable_logging) capabilities.logging = {};
  capabilities.completions = {};

  const server = new Server(
    { name: config.server.name, version: config.server.version || VERSION, title: "TelemetryFlow MCP" },
    {
      capabilities,
      // The SDK builds an Ajv instance up front for elicitation, which we never send;
      // building it on first use keeps that cost off every start-up.
      jsonSchemaValidator: lazyValidator(),
      instructions:
        "Tools to read, write, list and search files inside the workspace roots, run commands there, read system information and ask Claude. Paths are relative to the first workspace root.",
    },
  );
  // Our dispatch table answers these; the SDK's own would report a bad shape as an internal error.
  server.removeRequestHandler("initialize");
  server.removeRequestHandler("logging/setLevel");

  // Built on the first tools/list (or claude_conversation with tools), not at start-up.
  let toolLists: { current: unknown[]; legacy: unknown[]; listed: ListedTool[] } | undefined;
  const buildToolLists = () => {
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

  /** Sends a log line to the client once it has asked for logs with logging/setLevel. */
  function notifyClient(level: (typeof LEVELS)[number], data: unknown) {
    if (!clientLogLevel || LEVELS.indexOf(level) < LEVELS.indexOf(clientLogLevel)) return;
    server.notification({ method: "notifications/message", params: { level, logger: "tfo-mcp", data } }).catch(() => {});
  }

  function sampler(): ToolContext["sample"] {
    if (!server.getClientCapabilities()?.sampling) return undefined;
    return async (request: SamplingRequest, signal: AbortSignal) =>
      (await server.createMessage(request as Parameters<typeof server.createMessage>[0], { signal, timeout: config.claude.timeout * 1000 })) as unknown as SamplingResult;
  }

  /**
   * The session's tools for a tool that calls tools: Claude's tool_use inside
   * claude_conversation goes through dispatchTool like a client's call, under the same
   * tenant scope, and its spans join the calling tool's trace.
   */
  function sessionTools(extra: Extra, span: SpanHandle | undefined): SessionTools {
    return {
      list: () => (toolLists ??= buildToolLists()).listed,
      whyNotOffered(name) {
        if (toolsByName.has(name)) return undefined;
        const hidden = deps.tools.find((t) => t.name === name);
        return hidden ? (whyNotOffered(hidden, config) ?? `${name} is not offered in this session.`) : undefined;
      },
      async call(name, args, signal) {
        // No progress token: the calling tool reports progress for the whole loop.
        const inner: Extra = { signal: AbortSignal.any([extra.signal, signal]), requestId: extra.requestId, sendNotification: extra.sendNotification };
        try {
          return await dispatchTool(name, args, inner, span ? { traceparent: span.traceparent() } : undefined, "claude_conversation");
        } catch (error) {
          // An unknown tool is a protocol fault to a client; to a model, a result it can read.
          return scrubbed(errorResult((error as Error)?.message ?? String(error)));
        }
      },
    };
  }

  async function callTool(tool: Tool, rawArgs: unknown, extra: Extra, span: SpanHandle | undefined): Promise<ToolOutput> {
    await rootsReady;
    const sampleTools = server.getClientCapabilities()?.sampling?.tools !== undefined;
    return runTool(tool, rawArgs, extra, { config, workspace, log, store, sample: sampler(), sampleTools, tools: sessionTools(extra, span), deadlines, span });
  }

  /**
   * One tool call as the server runs it for anyone, a client's tools/call or Claude's
   * tool_use inside claude_conversation (`via`): offered-tools check, the call, telemetry,
   * the audit line, the activity event, and the result scrubbed of secrets.
   */
  async function dispatchTool(name: string, args: unknown, extra: Extra, carrier: Carrier | undefined, via?: string): Promise<ToolOutput> {
    const tool = toolsByName.get(name);
    // A tool this config hides (read-only, commands off) answers why, as a result the model can read.
    const hidden = tool ? undefined : deps.tools.find((t) => t.name === name);
    if (hidden && mcp.enable_tools) return errorResult(whyNotOffered(hidden, config) ?? `${name} is not offered.`);
    if (!tool) throw invalidParams(`Unknown tool: ${JSON.stringify(name)}. Available tools: ${[...toolsByName.keys()].join(", ")}.`);
    const started = performance.now();
    stats.toolCalls++;
    const op = telemetry?.begin("tool", name, session(), carrier);
    let out: ToolOutput;
    let errorType = "tool_error";
    try {
      out = await callTool(tool, args, extra, op?.span);
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
    activity?.emit({ type: "tool.called", ...common(), ...audit, error_type: out.isError ? errorType : null });
    notifyClient(out.isError ? "warning" : "info", audit);
    return scrubbed(out);
  }

  async function readResource(uri: string, extra: Extra) {
    await rootsReady;
    const ctx = resourceContext(extra.signal);
    try {
      const fixed = resources.find((r) => r.uri === uri);
      if (fixed) return scrubbed({ contents: [await fixed.read(ctx)] });
      for (const template of templates) {
        const vars = template.match(uri);
        if (vars) return scrubbed({ contents: [await template.read(uri, vars, ctx)] });
      }
    } catch (error) {
      if (error instanceof ResourceError) throw rpcError(error.code === "not_found" ? -32002 : ErrorCode.InvalidParams, error.message, { uri });
      throw error;
    }
    throw rpcError(-32002, `Resource not found: ${uri}. Known: ${resources.map((r) => r.uri).join(", ")}, and file:/// URIs inside the workspace.`, { uri });
  }

  function getPrompt(name: string, args: Record<string, string>) {
    const prompt = prompts.find((x) => x.name === name);
    if (!prompt) throw invalidParams(`Unknown prompt: ${JSON.stringify(name)}. Available prompts: ${prompts.map((x) => x.name).join(", ")}.`);
    const problem = checkPromptArguments(prompt, args);
    if (problem) throw invalidParams(`Invalid arguments: ${problem}.`);
    return { description: prompt.description, messages: [{ role: "user", content: { type: "text", text: prompt.render(args) } }] };
  }

  const handlers: Record<string, Handler> = {
    async initialize(params) {
      const parsed = parseParams(p.initialize, params, "initialize");
      const { clientInfo } = parsed;
      // Set before the first await: requests queued behind initialize must see it.
      initializing = true;
      stats.state = "initializing";
      stats.client = { name: clientInfo.name, version: clientInfo.version };
      // Now that the client is known, the advice can name its config file.
      if (workspace.unavailable && deps.noWorkspace) workspace = { ...workspace, unavailable: noWorkspaceMessage(deps.noWorkspace.cwd, deps.noWorkspace.home, clientInfo.name) };
      const result = (await sdkInitialize(server, { ...params, ...parsed })) as { protocolVersion: string };
      if (mcp.protocol_version && SUPPORTED_PROTOCOL_VERSIONS.includes(mcp.protocol_version)) result.protocolVersion = mcp.protocol_version;
      negotiated = result.protocolVersion;
      stats.protocolVersion = negotiated;
      log.info("session started", { client: stats.client?.name, client_version: stats.client?.version, protocol: negotiated });
      telemetry?.sessionEvent("initialized", session());
      activity?.emit({ type: "session.started", ...common(), transport, client_name: clientInfo.name, client_version: clientInfo.version, protocol_version: negotiated });
      return result;
    },

    // Not MCP: the Python server answered it and ended the session; clients written for it send it.
    async shutdown() {
      setTimeout(() => void server.close(), 0);
      return {};
    },

    async "logging/setLevel"(params) {
      clientLogLevel = parseParams(p.setLevel, params, "logging/setLevel").level;
      return {};
    },

    async "tools/list"() {
      toolLists ??= buildToolLists();
      return { tools: negotiated >= STRUCTURED_SINCE ? toolLists.current : toolLists.legacy };
    },

    async "tools/call"(params, extra) {
      const { name, arguments: args } = parseParams(p.callTool, params, "tools/call");
      return toCallResult(await dispatchTool(name, args, extra, carrierOf(params)), negotiated >= STRUCTURED_SINCE);
    },

    async "resources/list"() {
      return { resources: resources.map(({ read: _r, ...meta }) => meta) };
    },

    async "resources/templates/list"() {
      return { resourceTemplates: templates.map((t) => ({ uriTemplate: t.uriTemplate, name: t.name, title: t.title, description: t.description })) };
    },

    async "resources/read"(params, extra) {
      const { uri } = parseParams(p.readResource, params, "resources/read");
      const op = telemetry?.begin("resource", uri, session(), carrierOf(params));
      const started = performance.now();
      // The scheme only: a file:// or conversation:// URI names what was read.
      const read = (errorType: string | null) =>
        activity?.emit({ type: "resource.read", ...common(), scheme: uri.split(":", 1)[0] ?? "", ms: Math.round((performance.now() - started) * 10) / 10, outcome: errorType ? "error" : "ok", error_type: errorType });
      try {
        const result = await readResource(uri, extra);
        op?.end();
        read(null);
        return result;
      } catch (error) {
        op?.end({ errorType: errorTypeOf(error), message: (error as Error)?.message });
        read(errorTypeOf(error));
        throw error;
      }
    },

    async "prompts/list"() {
      return { prompts: prompts.map(({ render: _r, ...meta }) => meta) };
    },

    async "prompts/get"(params) {
      const { name, arguments: args = {} } = parseParams(p.getPrompt, params, "prompts/get");
      const op = telemetry?.begin("prompt", name, session(), carrierOf(params));
      try {
        const result = getPrompt(name, args);
        op?.end();
        return result;
      } catch (error) {
        op?.end({ errorType: errorTypeOf(error), message: (error as Error)?.message });
        throw error;
      }
    },

    async "completion/complete"(params) {
      const { ref, argument } = parseParams(p.complete, params, "completion/complete");
      let values: string[] = [];
      if (ref.type === "ref/prompt") {
        const prompt = prompts.find((x) => x.name === ref.name);
        if (!prompt) throw invalidParams(`Unknown prompt: ${JSON.stringify(ref.name)}.`);
        values = promptArgumentValues(argument.name).filter((x) => x.startsWith(argument.value.toLowerCase()));
      } else {
        const template = templates.find((t) => t.uriTemplate === ref.uri);
        if (!template) throw invalidParams(`Unknown resource template: ${JSON.stringify(ref.uri)}.`);
        values = (await template.complete?.(argument.name, argument.value, resourceContext())) ?? [];
      }
      return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } };
    },
  };

  /** Ask the client for its roots: they narrow explicit roots, or are the workspace when there are none. */
  async function refreshRoots() {
    if (!server.getClientCapabilities()?.roots) return;
    try {
      const { roots } = await server.listRoots(undefined, { timeout: 10_000 });
      const { paths, skipped } = await clientRootPaths(roots.map((r) => r.uri));
      for (const uri of skipped) log.warn("client root ignored: not an existing file:// folder", { uri });
      const next = rootsWithClient(deps.workspace, paths);
      if (next.ignored) {
        const text = `The client's roots (${next.ignored.join(", ")}) lie outside this server's roots (${deps.workspace.roots.join(", ")}); serving ${deps.workspace.roots.join(", ")}.`;
        log.warn(text);
        if (mcp.enable_logging) server.notification({ method: "notifications/message", params: { level: "warning", logger: "tfo-mcp", data: text } }).catch(() => {});
      }
      workspace = { ...deps.workspace, roots: next.roots, explicit: next.explicit, why: next.why, unavailable: next.roots.length ? undefined : workspace.unavailable };
      log.info("workspace roots", { roots: workspace.roots.join(","), why: workspace.why });
    } catch (error) {
      log.warn("roots/list failed; keeping the roots in effect", { error: (error as Error).message });
    }
  }
  // Calls wait for a refresh under way, so none runs against roots the client has just narrowed.
  server.oninitialized = () => {
    stats.state = "ready";
    rootsReady = refreshRoots();
  };
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
    rootsReady = refreshRoots();
    return rootsReady;
  });

  server.fallbackRequestHandler = async (request, extra) => {
    const handler = Object.hasOwn(handlers, request.method) ? handlers[request.method] : undefined;
    const needs = request.method.split("/")[0]!;
    if (!handler) throw rpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    if (needs in CAPABILITY_OF && !capabilities[CAPABILITY_OF[needs]!]) {
      const key = needs === "completion" ? "" : ` (mcp.enable_${needs === "logging" ? "logging" : needs} is false)`;
      throw rpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}: ${needs} ${needs === "logging" ? "is" : "are"} disabled on this server${key}.`);
    }
    if (request.method !== "initialize" && !initializing) {
      throw rpcError(ErrorCode.InvalidRequest, `Send initialize before ${request.method}.`);
    }
    const params = request.params as Record<string, unknown> | undefined;
    try {
      return (await handler(params ?? {}, extra as unknown as Extra)) as never;
    } catch (error) {
      if (error instanceof Error) error.message = redact(error.message);
      throw error;
    }
  };

  /** Records the session's end (and its start, if storage never opened). Storage stays open: it may be shared. */
  async function endSession() {
    stats.state = "closed";
    if (stats.client) telemetry?.sessionEvent("closed", session());
    if (stats.client) activity?.emit({ type: "session.ended", ...common(), transport, calls: stats.toolCalls, duration_ms: Date.now() - stats.startedAt });
    if (!stats.client && !storeUsed) return;
    try {
      const s = await store();
      await recordSessionStart(s);
      await s.updateSession(sessionId, { ended_at: new Date().toISOString(), calls: stats.toolCalls });
    } catch (error) {
      log.warn("session not recorded: storage unavailable", { error: (error as Error).message });
    }
  }

  return { server, stats, endSession };
}
