// The server in-process (createServer, as serve.ts and http.ts build it) with a real
// Activity from openActivity: NATS (TFO_TEST_NATS_URL), ClickHouse (TFO_TEST_CLICKHOUSE_URL)
// and the audit table all on. Tool calls, a resource read and the session's start and end
// reach all three; a secret written and read through the tools reaches none of them. Also
// measures what emit costs a tool call (echo calls/s with activity on and off).
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import * as v from "valibot";
import { type Config, configSchema } from "../src/config/schema.ts";
import { openActivity } from "../src/events/open.ts";
import type { Activity } from "../src/events/port.ts";
import { createLogger } from "../src/log.ts";
import { prompts } from "../src/prompts/index.ts";
import { resources, resourceTemplates } from "../src/resources/index.ts";
import { createServer } from "../src/server/create.ts";
import { memoryStore } from "../src/store/memory.ts";
import type { Store } from "../src/store/port.ts";
import { tools } from "../src/tools/index.ts";
import { testWorkspace } from "./helpers/direct.ts";
import { listToolsFirst, textOf } from "./helpers/client.ts";
import { natsSubscriber } from "./helpers/nats-subscriber.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const natsUrl = process.env.TFO_TEST_NATS_URL;
const chUrl = process.env.TFO_TEST_CLICKHOUSE_URL;
const missing = [!natsUrl && "TFO_TEST_NATS_URL", !chUrl && "TFO_TEST_CLICKHOUSE_URL"].filter(Boolean);
if (missing.length) console.log(`skipped: activity end to end (${missing.join(", ")} unset; scripts/services.sh start DIR, then . DIR/env)`);

const runId = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
const database = `tfo_events_e2e_${runId}`;
const quiet = createLogger({ level: "silent", format: "json", output: "stderr", write: () => {} });
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
afterAll(async () => {
  if (chUrl) await fetch(`${chUrl}/`, { method: "POST", body: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
});

const configFor = (): Config =>
  v.parse(configSchema, {
    queue: { backend: "nats", nats_url: natsUrl },
    analytics: { backend: "clickhouse", clickhouse_url: `${chUrl}/${database}`, batch_size: 500, flush_interval: 1 },
    storage: { audit: true },
  });

/** createServer linked to an SDK client in memory, with the activity and tenant a transport would pass. */
async function session(root: string, config: Config, store: Store, activity: Activity | undefined, tenant: string | null) {
  const { server, endSession } = createServer({
    config,
    workspace: testWorkspace([root]),
    log: quiet,
    tools,
    resources,
    resourceTemplates,
    prompts,
    openStore: async () => store,
    activity,
    tenant,
    transport: "http",
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "events-e2e", version: "1.2.3" }, { capabilities: {} });
  await client.connect(clientSide);
  await listToolsFirst(client);
  return {
    client,
    end: async () => {
      await client.close();
      await endSession();
    },
  };
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${chUrl}/`, { method: "POST", body: `${sql} FORMAT JSONEachRow` });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

describe.skipIf(missing.length > 0)("activity from a real session to NATS, ClickHouse and the audit table", () => {
  test("calls, a read, start and end arrive everywhere with tenant, tool, duration and outcome; file contents, argument values and secrets nowhere", async () => {
    const dir = tempDir();
    cleanup.push(dir.cleanup);
    const secret = "sk-ant-api03-Zq9SECRETxVALUEy7Kd";
    const fileName = "private-plans-q3.txt";
    writeFileSync(join(dir.path, "existing.md"), `existing ${secret}\n`);
    const replica = `e2e-${runId}`;
    const store = memoryStore();
    const sub = await natsSubscriber(natsUrl!, "tfo.mcp.>");
    cleanup.push(() => sub.close());
    const activity = await openActivity(configFor(), quiet, async () => store, replica);
    expect(activity).toBeDefined();
    cleanup.push(() => activity!.close());

    const s = await session(dir.path, configFor(), store, activity, "alice");
    expect((await s.client.callTool({ name: "write_file", arguments: { path: fileName, content: `plans: ${secret}` } })).isError).toBeFalsy();
    expect(textOf(await s.client.callTool({ name: "read_file", arguments: { path: fileName } }))).toContain(secret);
    const missingRead = await s.client.callTool({ name: "read_file", arguments: { path: `absent-${secret}.txt` } });
    expect(missingRead.isError).toBe(true);
    await s.client.callTool({ name: "echo", arguments: { message: secret } });
    await s.client.readResource({ uri: `file://${join(dir.path, "existing.md")}` });
    await s.end();

    const mine = () => sub.messages.filter((m) => m.data.replica === replica);
    expect(await until(() => mine().length === 7, 5000)).toBe(true);
    expect(mine().map((m) => m.subject)).toEqual([
      "tfo.mcp.sessions.started",
      "tfo.mcp.tools.called",
      "tfo.mcp.tools.called",
      "tfo.mcp.tools.called",
      "tfo.mcp.tools.called",
      "tfo.mcp.resources.read",
      "tfo.mcp.sessions.ended",
    ]);
    const [start, write, read, failed, echo, resource, end] = mine().map((m) => m.data);
    expect(start).toMatchObject({ tenant: "alice", transport: "http", client_name: "events-e2e", client_version: "1.2.3" });
    expect(write).toMatchObject({ tool: "write_file", tenant: "alice", outcome: "ok", error_type: null, args: { path: `string(${fileName.length})`, content: expect.stringMatching(/^string\(\d+\)$/) } });
    expect(typeof write!.ms).toBe("number");
    expect(read).toMatchObject({ tool: "read_file", outcome: "ok" });
    expect(failed).toMatchObject({ tool: "read_file", outcome: "error", error_type: "tool_error" });
    expect(echo).toMatchObject({ tool: "echo", outcome: "ok" });
    expect(resource).toMatchObject({ scheme: "file", outcome: "ok", tenant: "alice" });
    expect(end).toMatchObject({ calls: 4, transport: "http" });
    expect(new Set(mine().map((m) => m.data.session_id)).size).toBe(1);

    await activity!.close();
    const stored = await rows(`SELECT * FROM ${database}.events WHERE replica = '${replica}' ORDER BY ts`);
    expect(stored.length).toBe(7);
    expect(stored.filter((r) => r.type === "tool.called").map((r) => r.tool).sort()).toEqual(["echo", "read_file", "read_file", "write_file"]);
    const audit = await store.listAudit(100);
    expect(audit.map((a) => `${a.kind}:${a.name}:${a.outcome}`).reverse()).toEqual(["tool:write_file:ok", "tool:read_file:ok", "tool:read_file:error", "tool:echo:ok", "resource:file:ok"]);
    expect(audit.every((a) => a.tenant === "alice")).toBe(true);

    const everything = JSON.stringify([mine(), stored, audit]);
    // The haystack holds what was published: the names and shapes are there.
    for (const present of ["write_file", replica, `string(${fileName.length})`]) expect(everything).toContain(present);
    for (const leak of [secret, "plans:", fileName, "existing.md", dir.path]) expect(everything).not.toContain(leak);
  }, 30_000);

  test("what emit costs a tool call: echo calls/s with all three sinks on and with activity off", async () => {
    const dir = tempDir();
    cleanup.push(dir.cleanup);
    const config = configFor();
    const store = memoryStore();
    const activity = await openActivity(config, quiet, async () => store, `bench-${runId}`);
    cleanup.push(() => activity!.close());
    const off = await session(dir.path, config, store, undefined, "alice");
    const on = await session(dir.path, config, store, activity, "alice");
    cleanup.push(off.end, on.end);
    const run = async (s: typeof on, n: number) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) await s.client.callTool({ name: "echo", arguments: { message: `m${i}` } });
      return performance.now() - started;
    };
    await run(off, 300);
    await run(on, 300);
    const n = 3000;
    const times = { off: 0, on: 0 };
    // Alternating rounds: drift on a shared machine falls on both sides.
    for (let round = 0; round < 4; round++) {
      times.off += await run(off, n / 4);
      times.on += await run(on, n / 4);
    }
    const perCall = (ms: number) => (ms * 1000) / n;
    console.log(
      `echo in-process: activity off ${Math.round(n / (times.off / 1000))} calls/s (${perCall(times.off).toFixed(1)} µs), on ${Math.round(n / (times.on / 1000))} calls/s (${perCall(times.on).toFixed(1)} µs): ${(perCall(times.on) - perCall(times.off)).toFixed(1)} µs per call`,
    );
    const emits = 5000;
    const event = { type: "tool.called" as const, at: new Date().toISOString(), tenant: "alice", session_id: "s", tool: "echo", ms: 0.1, outcome: "ok" as const, error_type: null, args: { message: "string(2)" } };
    const started = performance.now();
    for (let i = 0; i < emits; i++) activity!.emit(event);
    console.log(`emit to nats + clickhouse + audit: ${(((performance.now() - started) * 1e6) / emits).toFixed(0)} ns per event`);
    // Every one of the on-calls (and the emits) reached NATS.
    expect(await until(() => activity!.describe().some((line) => /^nats: connected, 0 buffered, 0 dropped, (\d+) sent/.exec(line)?.[1] === String(n + 300 + emits + 1)), 10_000)).toBe(true);
  }, 120_000);
});
