// Every use of a private part of @modelcontextprotocol/sdk, in one place. The SDK is
// pinned to an exact version in package.json; test/sdk-internals.test.ts fails loudly
// when an upgrade renames or removes any of these, before anything else can break.
//
// Why each is used:
// - _oninitialize: the SDK's own initialize answer (protocol negotiation, capabilities,
//   serverInfo) and the client state it records (getClientCapabilities, getClientVersion
//   read it). We parse initialize ourselves, to answer a bad shape with -32602, and then
//   hand the checked params to it.
// - _onrequest / _onnotification / _onresponse: the Protocol's entry points. Our stdio
//   transport has classified and validated each line already, so messages go straight to
//   them instead of through three zod parses each (a fifth of the CPU of an echo call).
// - _requestHandlers / _notificationHandlers, _oncancel / _onprogress: every Server
//   registers ping, notifications/cancelled, /progress and /initialized for itself, a handler,
//   a wrapper and a scope each plus two hash tables (~1 KB a Server). An http server keeps
//   one Server per session, so ours answer them from its fallback handlers instead, by the
//   SDK's own schemas and methods.
// - LOG_LEVEL_SEVERITY: a constant 8-entry Map every Server builds for itself (~0.9 KB);
//   the sessions of one http server share one copy.
// - the Protocol's and the Streamable HTTP transport's per-request tables (below): a Map or
//   Set keeps the hash table it grew after its last entry is deleted (~250 B each), so an
//   idle session held five such for nothing; an empty one is swapped for a new empty one.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { parseWithCompat } from "@modelcontextprotocol/sdk/server/zod-json-schema-compat.js";
import { CancelledNotificationSchema, InitializedNotificationSchema, PingRequestSchema, ProgressNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

type Internals = {
  _oninitialize(request: { method: "initialize"; params: unknown }): Promise<Record<string, unknown>>;
  _onrequest(message: unknown, extra?: unknown): void;
  _onnotification(message: unknown): void;
  _onresponse(message: unknown): void;
  _oncancel(notification: unknown): Promise<void>;
  _onprogress(notification: unknown): void;
  _requestHandlers: unknown;
  _notificationHandlers: unknown;
};

export const PRIVATE_METHODS = ["_oninitialize", "_onrequest", "_onnotification", "_onresponse", "_oncancel", "_onprogress"] as const;
const ENTRY_POINTS = ["_onrequest", "_onnotification", "_onresponse"];

/** The private methods this SDK version is missing (empty when all are there). */
export function missingInternals(server: Server): string[] {
  const s = server as unknown as Record<string, unknown>;
  return PRIVATE_METHODS.filter((name) => typeof s[name] !== "function");
}

/** The SDK's initialize result for checked params; it also records the client's capabilities and version. */
export function sdkInitialize(server: Server, params: unknown): Promise<Record<string, unknown>> {
  return (server as unknown as Internals)._oninitialize({ method: "initialize", params });
}

/** The Protocol's entry points, bound; undefined when this SDK version lacks them. */
export function protocolEntryPoints(server: Server) {
  if (missingInternals(server).some((m) => ENTRY_POINTS.includes(m))) return undefined;
  const s = server as unknown as Internals;
  return { request: s._onrequest.bind(server), notification: s._onnotification.bind(server), response: s._onresponse.bind(server) };
}

/** What the SDK registers on every Server (initialize and logging/setLevel are removed by create.ts). */
const BUILTIN_REQUESTS = ["ping"];
const BUILTIN_NOTIFICATIONS = ["notifications/cancelled", "notifications/progress", "notifications/initialized"];
const holdsExactly = (table: unknown, methods: string[]) => table instanceof Map && table.size === methods.length && methods.every((m) => table.has(m));

/**
 * Empties the Server's handler tables when they hold exactly the SDK's built-ins, so that
 * its fallback handlers get those messages and answer them with builtinRequest and
 * builtinNotification. Anything else in them (an SDK that registers more, a handler set
 * since) leaves them as they are, and the SDK answers as always. Returns whether it did.
 */
export function takeOverBuiltins(server: Server): boolean {
  const s = server as unknown as Internals;
  if (missingInternals(server).length > 0) return false;
  if (!holdsExactly(s._requestHandlers, BUILTIN_REQUESTS) || !holdsExactly(s._notificationHandlers, BUILTIN_NOTIFICATIONS)) return false;
  s._requestHandlers = new Map();
  s._notificationHandlers = new Map();
  return true;
}

/** ping's answer as the SDK's own handler gives it (a malformed ping throws the same error); undefined for another method. */
export function builtinRequest(request: { method: string }): Record<string, never> | undefined {
  if (request.method !== "ping") return undefined;
  parseWithCompat(PingRequestSchema, request);
  return {};
}

/** A built-in notification handled as the SDK's own handlers do; false for another method. */
export function builtinNotification(server: Server, notification: { method: string }): boolean {
  const s = server as unknown as Internals;
  switch (notification.method) {
    case "notifications/cancelled":
      void s._oncancel(parseWithCompat(CancelledNotificationSchema, notification));
      return true;
    case "notifications/progress":
      s._onprogress(parseWithCompat(ProgressNotificationSchema, notification));
      return true;
    case "notifications/initialized":
      parseWithCompat(InitializedNotificationSchema, notification);
      server.oninitialized?.();
      return true;
  }
  return false;
}

/** A message checked by one of the SDK's schemas as its handlers check them (zod 3 or 4); throws what they throw. */
export const sdkParse: <T>(schema: unknown, message: unknown) => T = parseWithCompat as never;

/** What Servers can share: the SDK only ever reads it. */
export type SdkConstants = { levelSeverity: Map<unknown, unknown> };

/**
 * Gives `server` the shared copy of the SDK's constant tables, or makes its own the shared
 * copy when there is none yet. An SDK without them is left alone (nothing is shared).
 */
export function shareSdkConstants(server: Server, shared: SdkConstants | undefined): SdkConstants | undefined {
  const s = server as unknown as { LOG_LEVEL_SEVERITY?: unknown };
  if (!(s.LOG_LEVEL_SEVERITY instanceof Map)) return shared;
  if (!shared) return { levelSeverity: s.LOG_LEVEL_SEVERITY };
  s.LOG_LEVEL_SEVERITY = shared.levelSeverity;
  return shared;
}

/** The Protocol's tables of requests in flight (both ways), empty between requests. */
export const PROTOCOL_TABLES = ["_requestHandlerAbortControllers", "_responseHandlers", "_progressHandlers", "_timeoutInfo", "_taskProgressTokens", "_requestResolvers", "_pendingDebouncedNotifications"] as const;
/** WebStandardStreamableHTTPServerTransport's tables of open streams, empty between requests. */
export const STREAMABLE_TABLES = ["_streamMapping", "_requestToStreamMapping", "_requestResponseMap", "_resumableStreams"] as const;

/** The tables in `names` that `holder` lacks or holds as something other than a Map or Set. */
export function missingTables(holder: object, names: readonly string[]): string[] {
  const h = holder as Record<string, unknown>;
  return names.filter((name) => !(h[name] instanceof Map || h[name] instanceof Set));
}

/**
 * Swaps each empty table of `names` for a new empty one, so the hash table it grew is let
 * go. The SDK reads them through `this` at every use and never holds one across an await,
 * so to it an empty table and a new empty one are the same, whatever else is in flight.
 */
export function releaseEmptyTables(holder: object, names: readonly string[]): void {
  const h = holder as Record<string, unknown>;
  for (const name of names) {
    const table = h[name];
    if (table instanceof Map && table.size === 0) h[name] = new Map();
    else if (table instanceof Set && table.size === 0) h[name] = new Set();
  }
}
