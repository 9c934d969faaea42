// The ClickHouse sink against the real server of scripts/services.sh
// (TFO_TEST_CLICKHOUSE_URL, Debian's 18.16): a database of this run's own, created by the
// sink from the URL's path and dropped after. An HTTP relay written here sits in front of
// ClickHouse where a test needs it to go away and come back.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { createLogger } from "../src/log.ts";
import { openClickHouse } from "../src/events/clickhouse.ts";
import { callsPerToolPerTenantPerDay } from "../src/events/clickhouse-table.ts";
import type { Sink } from "../src/events/open.ts";
import type { PublishedEvent } from "../src/events/port.ts";
import { until } from "./helpers/wait.ts";

const chUrl = process.env.TFO_TEST_CLICKHOUSE_URL;
if (!chUrl) console.log("skipped: ClickHouse sink tests (TFO_TEST_CLICKHOUSE_URL unset; scripts/services.sh start DIR, then . DIR/env)");
const runId = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
const database = `tfo_events_test_${runId}`;
let tables = 0;
const newTable = () => `events_${++tables}`;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
afterAll(async () => {
  if (chUrl) await fetch(`${chUrl}/`, { method: "POST", body: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
});
const logTo = (lines: string[] = []) => createLogger({ level: "debug", format: "json", output: "stderr", write: (l) => lines.push(l) });

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const res = await fetch(`${chUrl}/`, { method: "POST", body: `${sql} FORMAT JSONEachRow` });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as T);
}
const countOf = async (table: string) => Number((await query<{ c: string }>(`SELECT count() AS c FROM ${database}.${table}`))[0]!.c);

const call = (i: number, over: Partial<PublishedEvent> = {}): PublishedEvent =>
  ({ type: "tool.called", at: "2025-06-01T10:00:00.000Z", tenant: "alice", session_id: "s-1", replica: "r1", tool: `tool_${i}`, ms: i, outcome: "ok", error_type: null, args: { path: "string(4)" }, ...over }) as PublishedEvent;

async function sink(table: string, opts: { batchSize?: number; flushIntervalMs?: number; url?: string; capacity?: number; lines?: string[] } = {}): Promise<Sink> {
  const s = await openClickHouse({
    url: opts.url ?? `${chUrl}/${database}`,
    log: logTo(opts.lines),
    table,
    batchSize: opts.batchSize ?? 500,
    flushIntervalMs: opts.flushIntervalMs ?? 60_000,
    capacity: opts.capacity,
    retryDelay: () => 20,
  });
  cleanup.push(() => s.close(Date.now() + 1000));
  return s;
}

/** Forwards HTTP to ClickHouse; stop() and start() again on the same port make ClickHouse go away and return. */
function relay() {
  let server: Server<undefined> | undefined;
  let port = 0;
  const start = () => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch: async (req) => {
        const url = new URL(req.url);
        const res = await fetch(`${chUrl}${url.pathname}${url.search}`, { method: req.method, body: await req.text(), headers: req.headers });
        return new Response(await res.text(), { status: res.status });
      },
    });
    port = server.port!;
  };
  start();
  cleanup.push(() => server?.stop(true));
  return { url: () => `http://127.0.0.1:${port}/${database}`, stop: () => server?.stop(true), start };
}

describe.skipIf(!chUrl)("activity rows in ClickHouse", () => {
  test("the database and table are created on start; a full batch goes at once, the rest waits; the rows hold each field", async () => {
    const table = newTable();
    const s = await sink(table, { batchSize: 3 });
    expect(await countOf(table)).toBe(0);
    const events: PublishedEvent[] = [
      call(0),
      call(1, { tenant: null, outcome: "error", error_type: "tool_error" }),
      { type: "resource.read", at: "2025-06-01T10:00:01.000Z", tenant: "bob", session_id: "s-2", replica: "r2", scheme: "file", ms: 2.5, outcome: "ok", error_type: null },
      { type: "session.started", at: "2025-06-01T10:00:02.000Z", tenant: "bob", session_id: "s-2", replica: "r2", transport: "http", client_name: "cli", client_version: "9", protocol_version: "2025-06-18" },
      { type: "session.ended", at: "2025-06-01T10:00:03.000Z", tenant: "bob", session_id: "s-2", replica: "r2", transport: "http", calls: 4, duration_ms: 1500 },
      call(5),
      call(6),
    ];
    for (const e of events) s.push(e);
    expect(await until(() => s.state().sent === 6)).toBe(true);
    expect(await countOf(table)).toBe(6);
    // The seventh row is not a batch: it waits for flush_interval (a minute here) or close.
    expect(s.state()).toMatchObject({ sent: 6, buffered: 1 });
    await s.close(Date.now() + 2000);
    expect(await countOf(table)).toBe(7);
    const rows = await query(`SELECT * FROM ${database}.${table} ORDER BY ts, tool`);
    expect(rows.find((r) => r.tool === "tool_1")).toMatchObject({ day: "2025-06-01", ts: "2025-06-01 10:00:00", type: "tool.called", tenant: "", outcome: "error", error_type: "tool_error", ms: 1, args: '{"path":"string(4)"}', replica: "r1", session_id: "s-1" });
    expect(rows.find((r) => r.type === "resource.read")).toMatchObject({ scheme: "file", tool: "", tenant: "bob", ms: 2.5 });
    expect(rows.find((r) => r.type === "session.started")).toMatchObject({ transport: "http", client_name: "cli", client_version: "9", protocol_version: "2025-06-18" });
    expect(rows.find((r) => r.type === "session.ended")).toMatchObject({ calls: 4, ms: 1500 });
  });

  test("fewer rows than a batch go together flush_interval after the first of them", async () => {
    const table = newTable();
    const s = await sink(table, { batchSize: 1000, flushIntervalMs: 400 });
    const started = performance.now();
    s.push(call(1));
    await Bun.sleep(300);
    s.push(call(2));
    expect(await until(() => s.state().sent === 2, 5000, 2)).toBe(true);
    const waited = performance.now() - started;
    // From the first row (400 ms), not the last (700 ms).
    expect(waited).toBeGreaterThanOrEqual(390);
    expect(waited).toBeLessThan(650);
    // One insert for both: never a state with one sent and one waiting.
    expect(await countOf(table)).toBe(2);
  });

  test("a client's name ClickHouse could not read (a lone surrogate, a megabyte) is cleaned, and nothing behind it waits", async () => {
    const table = newTable();
    const s = await sink(table, { batchSize: 3, flushIntervalMs: 50 });
    s.push({ type: "session.started", at: "2025-06-01T10:00:00.000Z", tenant: null, session_id: "s-2", replica: "r1", transport: "http", client_name: "evil\ud800", client_version: "x".repeat(1_000_000), protocol_version: "2025-06-18" } as PublishedEvent);
    for (let i = 0; i < 5; i++) s.push(call(i));
    expect(await until(() => s.state().sent === 6, 5000, 10)).toBe(true);
    const [row] = await query<{ client_name: string; n: string }>(`SELECT client_name, length(client_version) AS n FROM ${database}.${table} WHERE type = 'session.started'`);
    expect(row!.client_name).toBe("evil\ufffd");
    expect(Number(row!.n)).toBeLessThanOrEqual(256 * 3);
  });

  test("a row ClickHouse refuses as unreadable is dropped and counted; the rest of its batch lands", async () => {
    const table = newTable();
    // A relay that spoils one row's number on its way in, as a bug or a bad value would.
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        const url = new URL(req.url);
        const body = (await req.text()).replace('"ms":13,', '"ms":"thirteen",');
        const res = await fetch(`${chUrl}${url.pathname}${url.search}`, { method: "POST", body });
        return new Response(await res.text(), { status: res.status });
      },
    });
    cleanup.push(() => server.stop(true));
    const s = await sink(table, { url: `http://127.0.0.1:${server.port}/${database}`, batchSize: 4, flushIntervalMs: 50 });
    for (const i of [11, 12, 13, 14, 15, 16]) s.push(call(i));
    expect(await until(() => s.state().sent === 5, 5000, 10)).toBe(true);
    expect(s.state().dropped).toBe(1);
    expect(s.state().status).toBe("connected");
    expect((await query<{ tool: string }>(`SELECT tool FROM ${database}.${table} ORDER BY ms`)).map((r) => r.tool)).toEqual(["tool_11", "tool_12", "tool_14", "tool_15", "tool_16"]);
  });

  test("calls per tool per tenant per day (the query in clickhouse-table.ts), reached by a clickhouse:// URL", async () => {
    const table = newTable();
    const { host } = new URL(chUrl!);
    const s = await sink(table, { url: `clickhouse://${host}/${database}`, batchSize: 100 });
    const day1 = "2025-06-01T23:59:59.000Z";
    const day2 = "2025-06-02T00:00:00.000Z";
    for (let i = 0; i < 3; i++) s.push(call(0, { tool: "read_file", at: day1 }));
    s.push(call(0, { tool: "read_file", at: day1, outcome: "error", error_type: "tool_error" }));
    s.push(call(0, { tool: "read_file", at: day2 }));
    s.push(call(0, { tool: "echo", at: day1, tenant: null }));
    s.push(call(0, { tool: "echo", at: day1, tenant: "bob" }));
    // Not calls: a read and a session, left out of the count.
    s.push({ type: "resource.read", at: day1, tenant: "alice", session_id: "s", replica: "r", scheme: "file", ms: 1, outcome: "ok", error_type: null });
    s.push({ type: "session.ended", at: day1, tenant: "alice", session_id: "s", replica: "r", transport: "stdio", calls: 6, duration_ms: 9 });
    await s.close(Date.now() + 2000);
    const rows = await query(callsPerToolPerTenantPerDay(`${database}.${table}`));
    expect(rows).toEqual([
      { day: "2025-06-01", tenant: "", tool: "echo", calls: "1", errors: "0" },
      { day: "2025-06-01", tenant: "alice", tool: "read_file", calls: "4", errors: "1" },
      { day: "2025-06-01", tenant: "bob", tool: "echo", calls: "1", errors: "0" },
      { day: "2025-06-02", tenant: "alice", tool: "read_file", calls: "1", errors: "0" },
    ]);
  });

  test("while ClickHouse is away rows are kept (the oldest dropped beyond the bound, counted, logged once) and land when it returns", async () => {
    const table = newTable();
    const r = relay();
    const lines: string[] = [];
    const s = await sink(table, { url: r.url(), batchSize: 5, capacity: 20, lines });
    r.stop();
    for (let i = 0; i < 30; i++) s.push(call(i));
    expect(await until(() => s.state().status.startsWith("retrying"))).toBe(true);
    expect(s.state()).toMatchObject({ buffered: 20, dropped: 10, sent: 0 });
    expect(lines.filter((l) => l.includes("row buffer full")).length).toBe(1);
    expect(lines.filter((l) => l.includes("insert failed")).length).toBe(1);
    r.start();
    expect(await until(() => s.state().sent === 20, 10_000)).toBe(true);
    const tools = (await query<{ tool: string }>(`SELECT tool FROM ${database}.${table} ORDER BY ms`)).map((x) => x.tool);
    expect(tools).toEqual(Array.from({ length: 20 }, (_, i) => `tool_${i + 10}`));
    expect(s.state().status).toBe("connected");
    expect(lines.join("\n")).toContain("inserts work again");
  });

  test("a table dropped while the server runs is made again and the rows land", async () => {
    const table = newTable();
    const s = await sink(table, { batchSize: 1 });
    s.push(call(1));
    expect(await until(() => s.state().sent === 1)).toBe(true);
    await query(`DROP TABLE ${database}.${table}`).catch(() => {});
    s.push(call(2));
    expect(await until(() => s.state().sent === 2, 10_000)).toBe(true);
    expect(await countOf(table)).toBe(1);
  });
});

describe("ClickHouse not there at start", () => {
  test("a refused port is a clear error naming the URL, password masked", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const error = await openClickHouse({ url: `clickhouse://bob:pa55word-x@127.0.0.1:${port}/db`, log: logTo(), batchSize: 10, flushIntervalMs: 1000 }).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(error).toContain(`ClickHouse at clickhouse://bob:********@127.0.0.1:${port}/db (analytics.clickhouse_url, via the HTTP interface at port ${port}) is not reachable`);
    expect(error).toContain("analytics.backend: none");
    expect(error).not.toContain("pa55word-x");
  });

  test("a server that never answers fails the start within the start timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanup.push(() => silent.stop(true));
    const started = performance.now();
    const error = await openClickHouse({ url: `http://127.0.0.1:${silent.port}/db`, log: logTo(), batchSize: 10, flushIntervalMs: 1000, startTimeoutMs: 300 }).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(error).toContain("no answer in time");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
