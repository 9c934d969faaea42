// Contract test for the SDK's private parts we use (src/server/sdk-internals.ts): an SDK
// upgrade that renames or removes one fails here, loudly, naming it.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import pkg from "../package.json" with { type: "json" };
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { RootsListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  missingInternals,
  missingTables,
  PROTOCOL_TABLES,
  protocolEntryPoints,
  releaseEmptyTables,
  sdkInitialize,
  shareSdkConstants,
  STREAMABLE_TABLES,
  takeOverBuiltins,
} from "../src/server/sdk-internals.ts";

test("the SDK is pinned to the exact version installed", () => {
  const installed = JSON.parse(readFileSync(join(import.meta.dir, "..", "node_modules", "@modelcontextprotocol", "sdk", "package.json"), "utf8"));
  expect(pkg.dependencies["@modelcontextprotocol/sdk"]).toBe(installed.version);
});

test("every private method we rely on exists in the pinned SDK", () => {
  expect(missingInternals(new Server({ name: "t", version: "1" }, { capabilities: {} }))).toEqual([]);
  expect(protocolEntryPoints(new Server({ name: "t", version: "1" }, { capabilities: {} }))).toBeDefined();
});

test("_oninitialize negotiates and records the client, as the public getters then report", async () => {
  const server = new Server({ name: "t", version: "1" }, { capabilities: { tools: {} } });
  const result = await sdkInitialize(server, { protocolVersion: "2025-06-18", capabilities: { roots: {} }, clientInfo: { name: "c", version: "9" } });
  expect(result).toMatchObject({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "t", version: "1" } });
  expect(server.getClientCapabilities()).toEqual({ roots: {} });
  expect(server.getClientVersion()).toEqual({ name: "c", version: "9" });
});

test("a server missing them is reported by name (what an upgrade that broke us would look like)", () => {
  const server = new Server({ name: "t", version: "1" }, { capabilities: {} });
  Object.defineProperty(server, "_onresponse", { value: undefined });
  expect(missingInternals(server)).toEqual(["_onresponse"]);
  expect(protocolEntryPoints(server)).toBeUndefined();
});

test("the pinned SDK's Server registers exactly the built-ins we take over, and they can be taken over", () => {
  const server = new Server({ name: "t", version: "1" }, { capabilities: {} });
  server.removeRequestHandler("initialize");
  server.removeRequestHandler("logging/setLevel");
  expect(takeOverBuiltins(server)).toBe(true);
  // Taken over once, the tables are empty: a second call finds nothing it knows and leaves them.
  expect(takeOverBuiltins(server)).toBe(false);
  // A handler set since (an SDK that registers more) means the SDK keeps answering itself.
  const other = new Server({ name: "t", version: "1" }, { capabilities: {} });
  other.removeRequestHandler("initialize");
  other.removeRequestHandler("logging/setLevel");
  other.setNotificationHandler(RootsListChangedNotificationSchema, () => {});
  expect(takeOverBuiltins(other)).toBe(false);
});

test("the SDK's per-request tables are where we swap them, and only empty ones are swapped", () => {
  const server = new Server({ name: "t", version: "1" }, { capabilities: {} });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => "s" });
  expect(missingTables(server, PROTOCOL_TABLES)).toEqual([]);
  expect(missingTables(transport, STREAMABLE_TABLES)).toEqual([]);
  const holder = { full: new Map([[1, 1]]), empty: new Map(), emptySet: new Set() };
  const { full, empty, emptySet } = holder;
  releaseEmptyTables(holder, ["full", "empty", "emptySet"]);
  expect(holder.full).toBe(full);
  expect(holder.empty).not.toBe(empty);
  expect(holder.empty.size).toBe(0);
  expect(holder.emptySet).not.toBe(emptySet);
});

test("Servers share one copy of the SDK's constant log-level table", () => {
  const a = new Server({ name: "t", version: "1" }, { capabilities: {} });
  const b = new Server({ name: "t", version: "1" }, { capabilities: {} });
  const shared = shareSdkConstants(a, undefined);
  expect(shared?.levelSeverity).toBeInstanceOf(Map);
  expect(shareSdkConstants(b, shared)).toBe(shared);
  expect((b as unknown as { LOG_LEVEL_SEVERITY: unknown }).LOG_LEVEL_SEVERITY).toBe(shared!.levelSeverity);
});
