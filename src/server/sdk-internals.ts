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
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";

type Internals = {
  _oninitialize(request: { method: "initialize"; params: unknown }): Promise<Record<string, unknown>>;
  _onrequest(message: unknown, extra?: unknown): void;
  _onnotification(message: unknown): void;
  _onresponse(message: unknown): void;
};

export const PRIVATE_METHODS = ["_oninitialize", "_onrequest", "_onnotification", "_onresponse"] as const;

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
  if (missingInternals(server).some((m) => m !== "_oninitialize")) return undefined;
  const s = server as unknown as Internals;
  return { request: s._onrequest.bind(server), notification: s._onnotification.bind(server), response: s._onresponse.bind(server) };
}
