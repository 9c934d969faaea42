// The shared backends from the binary's side: each is switched on by its key, checked at
// start-up (an unreachable one stops the server with an error naming it, password masked),
// and once on, a stdio session's calls reach NATS, ClickHouse and the audit table.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBinary, cleanEnv } from "./helpers/binary.ts";
import { connectBinary, resourceText } from "./helpers/client.ts";
import { natsSubscriber } from "./helpers/nats-subscriber.ts";
import { freshDatabase } from "./helpers/postgres-db.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const dir = tempDir("tfo-backends-");
afterAll(() => dir.cleanup());

// Nothing listens on port 1 of loopback: every connection is refused at once.
test.each([
  ["storage.backend postgres", { TELEMETRYFLOW_MCP_STORAGE__BACKEND: "postgres", TELEMETRYFLOW_MCP_DATABASE__POSTGRES_URL: "postgres://tfo:pg-secret-pw@127.0.0.1:1/tfo" }, /cannot connect to PostgreSQL at postgres:\/\/tfo:\*+@127\.0\.0\.1:1\/tfo/],
  ["queue.backend nats", { TELEMETRYFLOW_MCP_QUEUE__BACKEND: "nats", TELEMETRYFLOW_MCP_QUEUE__NATS_URL: "nats://tfo:nats-secret-pw@127.0.0.1:1" }, /NATS.*127\.0\.0\.1:1/],
  ["analytics.backend clickhouse", { TELEMETRYFLOW_MCP_ANALYTICS__BACKEND: "clickhouse", TELEMETRYFLOW_MCP_ANALYTICS__CLICKHOUSE_URL: "http://tfo:ch-secret-pw@127.0.0.1:1/db" }, /ClickHouse.*127\.0\.0\.1:1/],
])("%s that does not answer stops serve with exit 1, naming it, password masked", async (_what, env, message) => {
  const started = performance.now();
  const r = await runBinary(["serve", "--root", dir.path], { env: cleanEnv(env as Record<string, string>), stdin: "" });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/secret-pw/);
  expect(performance.now() - started).toBeLessThan(10_000);
});

const natsUrl = process.env.TFO_TEST_NATS_URL;
const pgUrl = process.env.TFO_TEST_POSTGRES_URL;
const clickhouseUrl = process.env.TFO_TEST_CLICKHOUSE_URL;
if (!natsUrl || !pgUrl) console.log("skipped: a stdio session's events over NATS and its audit in PostgreSQL (TFO_TEST_NATS_URL / TFO_TEST_POSTGRES_URL unset; scripts/services.sh)");

describe.skipIf(!natsUrl || !pgUrl)("a stdio session with every backend on", () => {
  test("its calls reach NATS (transport stdio, replica named), the audit table in PostgreSQL, and ClickHouse; never the file's contents", async () => {
    const db = await freshDatabase("tfo_backends");
    const chDatabase = `tfo_backends_${process.pid}_${Date.now().toString(36)}`;
    const nats = await natsSubscriber(natsUrl!, "tfo.mcp.>");
    writeFileSync(join(dir.path, "secret.txt"), "contents-never-published\n");
    const env = {
      TELEMETRYFLOW_MCP_STORAGE__BACKEND: "postgres",
      TELEMETRYFLOW_MCP_DATABASE__POSTGRES_URL: db.url,
      TELEMETRYFLOW_MCP_STORAGE__AUDIT: "true",
      TELEMETRYFLOW_MCP_QUEUE__BACKEND: "nats",
      TELEMETRYFLOW_MCP_QUEUE__NATS_URL: natsUrl!,
      TELEMETRYFLOW_MCP_SERVER__REPLICA: `stdio-${process.pid}`,
      ...(clickhouseUrl ? { TELEMETRYFLOW_MCP_ANALYTICS__BACKEND: "clickhouse", TELEMETRYFLOW_MCP_ANALYTICS__CLICKHOUSE_URL: `${clickhouseUrl}/${chDatabase}` } : {}),
    };
    try {
      const c = await connectBinary({ args: ["--root", dir.path], env });
      await c.client.callTool({ name: "read_file", arguments: { path: "secret.txt" } });
      await c.client.callTool({ name: "read_file", arguments: { path: "missing.txt" } });
      const health = JSON.parse(resourceText(await c.client.readResource({ uri: "status://health" })));
      expect(health.backends.nats).toStartWith("connected");
      if (clickhouseUrl) expect(health.backends).toHaveProperty("clickhouse");
      expect(health.storage.url).toStartWith("postgres://");
      await c.close();
      const mine = () => nats.messages.filter((m) => m.data.replica === `stdio-${process.pid}`);
      // Closing the client ends the process; it sends what it buffered before it exits.
      expect(await until(() => mine().some((m) => m.subject === "tfo.mcp.sessions.ended"), 10_000, 50)).toBe(true);
      const subjects = mine().map((m) => m.subject);
      expect(subjects).toEqual(["tfo.mcp.sessions.started", "tfo.mcp.tools.called", "tfo.mcp.tools.called", "tfo.mcp.resources.read", "tfo.mcp.sessions.ended"]);
      expect(mine()[3]!.data).toMatchObject({ scheme: "status", outcome: "ok" });
      expect(mine()[0]!.data).toMatchObject({ transport: "stdio", tenant: null, client_name: "tfo-e2e" });
      expect(mine().slice(1, 3).map((m) => m.data.outcome)).toEqual(["ok", "error"]);
      expect(JSON.stringify(mine())).not.toContain("contents-never-published");

      const audit = await db.admin`SELECT kind, name, outcome, args FROM audit ORDER BY id`;
      expect(audit.map((r: { kind: string; name: string; outcome: string }) => [r.kind, r.name, r.outcome])).toEqual([
        ["tool", "read_file", "ok"],
        ["tool", "read_file", "error"],
        ["resource", "status", "ok"],
      ]);
      expect(JSON.parse(audit[0].args)).toEqual({ path: "string(10)" });

      if (clickhouseUrl) {
        const q = `SELECT count() AS n FROM ${chDatabase}.events WHERE type = 'tool.called' FORMAT JSONEachRow`;
        const rows = async () => Number(JSON.parse((await (await fetch(`${clickhouseUrl}/?query=${encodeURIComponent(q)}`)).text()) || '{"n":0}').n);
        expect(await until(async () => (await rows().catch(() => 0)) === 2, 10_000, 100)).toBe(true);
      }
    } finally {
      nats.close();
      await db.drop();
      if (clickhouseUrl) await fetch(`${clickhouseUrl}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${chDatabase}`)}`, { method: "POST" }).catch(() => {});
    }
  }, 60_000);
});
