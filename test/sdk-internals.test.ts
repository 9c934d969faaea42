// Contract test for the SDK's private parts we use (src/server/sdk-internals.ts): an SDK
// upgrade that renames or removes one fails here, loudly, naming it.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import pkg from "../package.json" with { type: "json" };
import { missingInternals, protocolEntryPoints, sdkInitialize } from "../src/server/sdk-internals.ts";

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
