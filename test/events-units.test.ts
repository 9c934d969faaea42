// The pure parts of the activity sinks as tables (URLs, frames, rows, audit records, the
// bounded buffer, which sinks a config switches on), the fan-out, and the audit sink
// against the real memory store. NATS and ClickHouse themselves: events-nats, events-clickhouse.
import { expect, test } from "bun:test";
import * as v from "valibot";
import { configSchema } from "../src/config/schema.ts";
import { createLogger } from "../src/log.ts";
import { auditRecordOf, auditSink } from "../src/events/audit.ts";
import { boundedQueue } from "../src/events/bounded-queue.ts";
import { parseClickHouseUrl } from "../src/events/clickhouse.ts";
import { rowOf } from "../src/events/clickhouse-table.ts";
import { connectCommand, parseNatsUrl, publishFrame, readServerLine } from "../src/events/nats-wire.ts";
import { reconnectDelay } from "../src/events/nats.ts";
import { activityPlan, fanOut, openActivity, type Sink } from "../src/events/open.ts";
import type { PublishedEvent } from "../src/events/port.ts";
import { memoryStore } from "../src/store/memory.ts";
import { until } from "./helpers/wait.ts";

const logTo = (lines: string[]) => createLogger({ level: "debug", format: "json", output: "stderr", write: (l) => lines.push(l) });
const at = "2025-03-04T05:06:07.890Z";
const common = { at, tenant: "alice", session_id: "s-1", replica: "r1" };
const toolCalled: PublishedEvent = { ...common, type: "tool.called", tool: "read_file", ms: 2.5, outcome: "error", error_type: "tool_error", args: { path: "string(9)" } };
const resourceRead: PublishedEvent = { ...common, tenant: null, type: "resource.read", scheme: "file", ms: 1, outcome: "ok", error_type: null };
const started: PublishedEvent = { ...common, type: "session.started", transport: "http", client_name: "c", client_version: "1", protocol_version: "2025-06-18" };
const ended: PublishedEvent = { ...common, type: "session.ended", transport: "http", calls: 3, duration_ms: 1234 };

test.each([
  ["nats://127.0.0.1:4222", { host: "127.0.0.1", port: 4222 }],
  ["nats://nats", { host: "nats", port: 4222 }],
  ["nats://me:p%40ss@h:5", { host: "h", port: 5, user: "me", pass: "p@ss" }],
  ["nats://s3cr3tToken@h:5", { host: "h", port: 5, token: "s3cr3tToken" }],
  ["nats://[::1]:4222", { host: "::1", port: 4222 }],
])("NATS URL %s", (url, target) => {
  expect(parseNatsUrl(url)).toEqual({ ok: true, target: target as never });
});

test.each([["http://h:4222", "not a NATS URL"], ["nats:", "no host"], ["nonsense", "not a URL"]])("NATS URL %s is refused: %s", (url, why) => {
  const r = parseNatsUrl(url);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error).toContain(why);
});

test("CONNECT carries user and password, or the token, and asks for no +OK", () => {
  const body = (line: string) => JSON.parse(line.slice("CONNECT ".length));
  expect(body(connectCommand({ host: "h", port: 1, user: "u", pass: "p" }))).toMatchObject({ verbose: false, pedantic: false, name: "tfo-mcp", user: "u", pass: "p" });
  expect(body(connectCommand({ host: "h", port: 1, token: "t" }))).toMatchObject({ auth_token: "t" });
  expect(body(connectCommand({ host: "h", port: 1 }))).not.toHaveProperty("user");
  expect(connectCommand({ host: "h", port: 1 }).endsWith("\r\n")).toBe(true);
});

test("a PUB frame goes to the event's subject and counts its payload in bytes, not characters", () => {
  const e: PublishedEvent = { ...toolCalled, tenant: "zoë-東京" };
  const { frame, bytes } = publishFrame(e);
  const [head, payload] = frame.split("\r\n");
  expect(head).toBe(`PUB tfo.mcp.tools.called ${bytes}`);
  expect(bytes).toBe(new TextEncoder().encode(payload!).length);
  expect(bytes).toBeGreaterThan(payload!.length);
  expect(JSON.parse(payload!)).toEqual(e);
  expect(publishFrame(ended).frame.startsWith("PUB tfo.mcp.sessions.ended ")).toBe(true);
});

test.each([
  ["PING", { kind: "ping" }],
  ["PONG", { kind: "pong" }],
  ["+OK", { kind: "ok" }],
  ["-ERR 'Authorization Violation'", { kind: "err", message: "Authorization Violation" }],
  ['INFO {"max_payload":1048576}', { kind: "info", info: { max_payload: 1048576 } }],
  ["INFO {broken", { kind: "other", line: "INFO {broken" }],
])("server line %s", (line, parsed) => {
  expect(readServerLine(line)).toEqual(parsed as never);
});

test("reconnect backoff doubles from 100 ms and stops growing at 5 s", () => {
  const mid = () => 0.5;
  expect([1, 2, 3, 7, 20].map((n) => reconnectDelay(n, mid))).toEqual([100, 200, 400, 5000, 5000]);
});

test.each([
  ["http://127.0.0.1:8123", { base: "http://127.0.0.1:8123", database: "default" }],
  ["https://ch.example:8443/analytics", { base: "https://ch.example:8443", database: "analytics" }],
  ["clickhouse://localhost:9000/tfo_mcp_analytics", { base: "http://localhost:8123", database: "tfo_mcp_analytics" }],
  ["clickhouse://localhost/db", { base: "http://localhost:8123", database: "db" }],
  ["clickhouse://localhost:18123/db", { base: "http://localhost:18123", database: "db" }],
  ["http://bob:pw@h:8123/db", { base: "http://h:8123", database: "db", authorization: `Basic ${btoa("bob:pw")}` }],
])("ClickHouse URL %s", (url, expected) => {
  const r = parseClickHouseUrl(url);
  expect(r.ok).toBe(true);
  if (r.ok) expect(r.target).toMatchObject(expected);
});

test("a clickhouse:// URL says it goes to the HTTP interface; a bad database or scheme is refused", () => {
  const mapped = parseClickHouseUrl("clickhouse://localhost:9000/db");
  expect(mapped.ok && mapped.target.note).toContain("port 8123");
  for (const [url, why] of [["tcp://h:9000/db", "not a ClickHouse URL"], ["http://h:8123/my-db", "not a database name"], ["x", "not a URL"]] as const) {
    const r = parseClickHouseUrl(url);
    expect(r.ok ? "" : r.error).toContain(why);
  }
});

test("rows: one per event, '' for a null tenant, UTC time, a session's length as ms", () => {
  expect(rowOf(toolCalled)).toMatchObject({ day: "2025-03-04", ts: "2025-03-04 05:06:07", type: "tool.called", tenant: "alice", tool: "read_file", scheme: "", outcome: "error", error_type: "tool_error", ms: 2.5, args: '{"path":"string(9)"}', replica: "r1" });
  expect(rowOf(resourceRead)).toMatchObject({ tenant: "", tool: "", scheme: "file", outcome: "ok", error_type: "", ms: 1 });
  expect(rowOf(started)).toMatchObject({ transport: "http", client_name: "c", protocol_version: "2025-06-18", ms: 0 });
  expect(rowOf(ended)).toMatchObject({ calls: 3, ms: 1234, outcome: "" });
  // The same columns for every type: JSONEachRow on 18.16 refuses an unknown field.
  const keys = Object.keys(rowOf(toolCalled)).sort();
  for (const e of [resourceRead, started, ended]) expect(Object.keys(rowOf(e)).sort()).toEqual(keys);
});

test("audit records: a call's name and argument shape, a read's scheme; nothing for sessions", () => {
  expect(auditRecordOf(toolCalled)).toEqual({ at, tenant: "alice", session_id: "s-1", kind: "tool", name: "read_file", ms: 2.5, outcome: "error", args: '{"path":"string(9)"}' });
  expect(auditRecordOf(resourceRead)).toEqual({ at, tenant: null, session_id: "s-1", kind: "resource", name: "file", ms: 1, outcome: "ok", args: "{}" });
  expect(auditRecordOf(started)).toBeUndefined();
  expect(auditRecordOf(ended)).toBeUndefined();
});

test("the bounded queue drops the oldest when full, counts them, says so once, and takes back undelivered items at the head", () => {
  let said = 0;
  const q = boundedQueue<number>(3, () => said++);
  for (let i = 1; i <= 3; i++) q.push(i);
  expect(said).toBe(0);
  for (let i = 4; i <= 5; i++) q.push(i);
  expect([q.size, q.dropped, said]).toEqual([3, 2, 1]);
  const taken = q.take(2);
  expect(taken).toEqual([3, 4]);
  q.push(6);
  q.putBack(taken);
  // [3, 4] back before [5, 6] would be 4 items: the oldest (3) goes.
  expect([q.dropped, q.take(10)]).toEqual([3, [4, 5, 6]]);
  expect(q.size).toBe(0);
  const big = boundedQueue<number>(10_000);
  for (let i = 0; i < 50_000; i++) big.push(i);
  expect(big.take(1)).toEqual([40_000]);
  expect(big.dropped).toBe(40_000);
});

test("which sinks a config switches on; queue_enabled false with nats says so", () => {
  const plan = (c: Record<string, Record<string, unknown>>) => activityPlan(v.parse(configSchema, c));
  expect(plan({})).toEqual({ nats: false, clickhouse: false, audit: false, notes: [] });
  expect(plan({ queue: { backend: "nats" }, analytics: { backend: "clickhouse" }, storage: { audit: true } })).toMatchObject({ nats: true, clickhouse: true, audit: true });
  const off = plan({ queue: { backend: "nats", queue_enabled: false } });
  expect(off.nats).toBe(false);
  expect(off.notes.join()).toContain("queue_enabled is false");
  // A URL alone switches nothing on.
  expect(plan({ queue: { nats_url: "nats://x:1" }, analytics: { clickhouse_url: "http://x:1" } })).toMatchObject({ nats: false, clickhouse: false });
});

test("the default config opens no sink; queue_enabled false logs why nothing is published", async () => {
  const lines: string[] = [];
  const open = () => Promise.reject(new Error("no store wanted"));
  expect(await openActivity(v.parse(configSchema, {}), logTo(lines), open, "r")).toBeUndefined();
  expect(await openActivity(v.parse(configSchema, { queue: { backend: "nats", queue_enabled: false, nats_url: "nats://127.0.0.1:1" } }), logTo(lines), open, "r")).toBeUndefined();
  expect(lines.join("\n")).toContain("queue.queue_enabled is false");
});

test("the fan-out stamps the replica, survives a sink that throws, never waits, and closes within its bound", async () => {
  const got: PublishedEvent[] = [];
  const throwing: Sink = { push: () => { throw new Error("boom"); }, close: async () => {}, state: () => ({ name: "bad", status: "x", buffered: 0, dropped: 0, sent: 0 }) };
  // A sink whose close never ends: the fan-out's close must still return.
  const stuck: Sink = { push: (e) => got.push(e), close: () => new Promise(() => {}), state: () => ({ name: "stuck", status: "connected", buffered: 1, dropped: 2, sent: 3 }) };
  const activity = fanOut([throwing, stuck], "replica-7", 200);
  const { replica: _r, ...event } = toolCalled;
  expect(() => activity.emit(event)).not.toThrow();
  expect(got).toEqual([{ ...event, replica: "replica-7" }]);
  expect(activity.describe()).toEqual(["bad: x, 0 buffered, 0 dropped, 0 sent", "stuck: connected, 1 buffered, 2 dropped, 3 sent"]);
  const started = performance.now();
  await activity.close();
  expect(performance.now() - started).toBeLessThan(2000);
  activity.emit(event);
  expect(got.length).toBe(1);
});

test("storage.audit: calls and reads become audit records in the store, sessions do not; close waits for them", async () => {
  const store = memoryStore();
  const lines: string[] = [];
  const activity = await openActivity(v.parse(configSchema, { storage: { audit: true } }), logTo(lines), async () => store, "r");
  expect(activity).toBeDefined();
  const strip = ({ replica: _r, ...e }: PublishedEvent) => e;
  for (let i = 0; i < 45; i++) activity!.emit(strip({ ...toolCalled, tool: `t${i}` } as PublishedEvent));
  activity!.emit(strip(resourceRead));
  activity!.emit(strip(started));
  await activity!.close();
  const records = await store.listAudit(100);
  expect(records.length).toBe(46);
  expect(records[0]).toMatchObject({ kind: "resource", name: "file" });
  expect(records.at(-1)).toMatchObject({ kind: "tool", name: "t0", tenant: "alice", args: '{"path":"string(9)"}' });
  expect(activity!.describe()).toEqual(["audit: closed, 0 buffered, 0 dropped, 46 sent"]);
});

test("an audit record the store refuses is dropped, counted and logged once; the next ones are written", async () => {
  const store = memoryStore();
  let refuse = true;
  const flaky = { ...store, addAudit: (a: Parameters<typeof store.addAudit>[0]) => (refuse ? Promise.reject(new Error("disk full")) : store.addAudit(a)) };
  const lines: string[] = [];
  const sink = auditSink({ openStore: async () => flaky, log: logTo(lines) });
  sink.push(toolCalled);
  sink.push(toolCalled);
  expect(await until(() => sink.state().dropped === 2)).toBe(true);
  expect(lines.filter((l) => l.includes("disk full")).length).toBe(1);
  refuse = false;
  sink.push(resourceRead);
  await sink.close(Date.now() + 1000);
  expect((await store.listAudit(10)).map((r) => r.kind)).toEqual(["resource"]);
  expect(sink.state()).toMatchObject({ dropped: 2, sent: 1 });
});
