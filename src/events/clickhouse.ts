// Activity events into a ClickHouse table over its HTTP interface (plain fetch, no client
// package): one row per event, sent `INSERT … FORMAT JSONEachRow` in batches of
// analytics.batch_size rows, or analytics.flush_interval seconds after the first waiting
// row. A failed insert keeps its rows at the head of a bounded buffer and is retried with
// backoff; beyond the buffer the oldest rows are dropped and counted. The table: clickhouse-table.ts.
import { maskUrlCredentials } from "../config/describe.ts";
import type { Logger } from "../log.ts";
import { boundedQueue } from "./bounded-queue.ts";
import { createTableSql, DEFAULT_TABLE, rowOf } from "./clickhouse-table.ts";
import type { Sink } from "./open.ts";
import type { PublishedEvent } from "./port.ts";

const NATIVE_PORT = "9000";
const HTTP_PORT = "8123";

export type ClickHouseTarget = { base: string; database: string; authorization?: string; note?: string };

/**
 * Pure: http(s)://[user:password@]host:port[/database], or upstream's
 * clickhouse://host:9000/database. ClickHouse's native protocol (port 9000) is not spoken
 * here: a clickhouse:// URL goes to the HTTP interface on the same host, port 8123 unless
 * the URL names a port other than 9000. No database in the URL: ClickHouse's `default`.
 */
export function parseClickHouseUrl(url: string): { ok: true; target: ClickHouseTarget } | { ok: false; error: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, error: `${JSON.stringify(maskUrlCredentials(url))} is not a URL; use http://host:8123/database or clickhouse://host:9000/database` };
  }
  if (!["http:", "https:", "clickhouse:"].includes(u.protocol)) return { ok: false, error: `${u.protocol}// is not a ClickHouse URL; use http://host:8123/database or clickhouse://host:9000/database` };
  if (!u.hostname) return { ok: false, error: "the ClickHouse URL names no host; use http://host:8123/database" };
  const database = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, "")) || "default";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) return { ok: false, error: `${JSON.stringify(database)} is not a database name ClickHouse takes unquoted (letters, digits, _)` };
  let base = `${u.protocol}//${u.host}`;
  let note: string | undefined;
  if (u.protocol === "clickhouse:") {
    const port = u.port === "" || u.port === NATIVE_PORT ? HTTP_PORT : u.port;
    base = `http://${u.hostname}:${port}`;
    note = u.port === "" || u.port === NATIVE_PORT ? `the HTTP interface at port ${HTTP_PORT} (ClickHouse's native protocol, port 9000, is not spoken)` : `the HTTP interface at port ${port}`;
  }
  const user = decodeURIComponent(u.username);
  const authorization = user || u.password ? `Basic ${btoa(`${user || "default"}:${decodeURIComponent(u.password)}`)}` : undefined;
  return { ok: true, target: { base, database, authorization, note } };
}

export type ClickHouseOptions = {
  url: string;
  log: Logger;
  batchSize: number;
  flushIntervalMs: number;
  /** tests use their own */
  table?: string;
  /** most rows held while ClickHouse is away (at least four batches) */
  capacity?: number;
  /** reaching the server and creating the database and table, in all */
  startTimeoutMs?: number;
  /** each insert */
  requestTimeoutMs?: number;
  /** before retry `attempt` (1-based) of a failed insert */
  retryDelay?: (attempt: number) => number;
};

/** 1 s doubled per failure up to 30 s. */
// ClickHouse's codes for rows it cannot read (parse errors, bad UTF-8, type mismatches): the
// row's fault, so retrying it would fail the same way forever.
const DATA_ERROR = /Code: (6|25|26|27|38|41|53|62|69|70|72|117|130|131)\b/;

export const insertRetryDelay = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000);

export async function openClickHouse(opts: ClickHouseOptions): Promise<Sink> {
  const { log, batchSize, flushIntervalMs } = opts;
  const where = maskUrlCredentials(opts.url);
  const parsed = parseClickHouseUrl(opts.url);
  if (!parsed.ok) throw new Error(`analytics.clickhouse_url: ${parsed.error}`);
  const { base, database, authorization, note } = parsed.target;
  const table = opts.table ?? DEFAULT_TABLE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`ClickHouse table name ${JSON.stringify(table)}: letters, digits and _ only`);
  const qualified = `${database}.${table}`;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const retryDelay = opts.retryDelay ?? insertRetryDelay;
  const headers: Record<string, string> = authorization ? { authorization } : {};

  /** One statement; the query in the URL when there is a body (rows), else as the body. */
  async function run(sql: string, body: string | undefined, timeoutMs: number): Promise<string> {
    const url = body === undefined ? `${base}/` : `${base}/?query=${encodeURIComponent(sql)}`;
    const res = await fetch(url, { method: "POST", body: body ?? sql, headers, signal: AbortSignal.timeout(Math.max(1, timeoutMs)) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.trim().split("\n")[0]?.slice(0, 300)}`);
    return text;
  }
  const reason = (error: unknown) => {
    const e = error as Error & { code?: string };
    return e.name === "TimeoutError" ? "no answer in time" : (e.code ?? e.message);
  };

  // One bound for the whole start: a server that answers and then hangs does not get three.
  const startBy = Date.now() + (opts.startTimeoutMs ?? 5000);
  const left = () => startBy - Date.now();
  let version: string;
  try {
    version = (await run("SELECT version()", undefined, left())).trim();
  } catch (error) {
    throw new Error(`ClickHouse at ${where} (analytics.clickhouse_url${note ? `, via ${note}` : ""}) is not reachable: ${reason(error)}. Start ClickHouse there, correct analytics.clickhouse_url, or set analytics.backend: none.`);
  }
  const createTable = (timeoutMs = requestTimeoutMs) => run(createTableSql(qualified), undefined, timeoutMs);
  try {
    await run(`CREATE DATABASE IF NOT EXISTS ${database}`, undefined, left());
    await createTable(left());
  } catch (error) {
    throw new Error(`ClickHouse at ${where} did not create ${qualified}: ${reason(error)}`);
  }
  log.info("clickhouse: writing activity events", { url: where, table: qualified, server_version: version, ...(note ? { via: `${base} (${note})` } : {}) });

  const capacity = Math.max(opts.capacity ?? 10_000, batchSize * 4);
  const queue = boundedQueue<PublishedEvent>(capacity, () => log.warn("clickhouse: row buffer full; dropping the oldest rows (counted in health)", { url: where, capacity }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<boolean> | undefined;
  let inFlightRows = 0;
  let failures = 0;
  let sent = 0;
  let rejected = 0;
  let stopped = false;

  /** One insert of up to a batch; false when it failed (its rows are back at the head). */
  function send(timeoutMs: number): Promise<boolean> {
    const batch = queue.take(batchSize);
    const body = batch.map((e) => JSON.stringify(rowOf(e))).join("\n");
    inFlightRows = batch.length;
    inFlight = (async () => {
      try {
        await run(`INSERT INTO ${qualified} FORMAT JSONEachRow`, body, timeoutMs);
        sent += batch.length;
        if (failures > 0) log.info("clickhouse: inserts work again", { url: where, after_failures: failures });
        failures = 0;
        return true;
      } catch (error) {
        // Rows ClickHouse cannot read are dropped, each counted; retried, they would block every row behind them.
        if (DATA_ERROR.test((error as Error).message)) {
          const kept = await rowByRow(batch, timeoutMs);
          return kept;
        }
        queue.putBack(batch);
        if (failures++ === 0) log.warn("clickhouse: insert failed; keeping the rows and retrying", { url: where, error: reason(error), buffered: queue.size });
        // Someone dropped the table: make it again before the retry.
        if (/Code: 60\b/.test((error as Error).message)) await createTable().catch(() => {});
        return false;
      } finally {
        inFlight = undefined;
        inFlightRows = 0;
      }
    })();
    return inFlight;
  }

  /** A batch ClickHouse refused as data: each row alone, the unreadable ones dropped and counted. */
  async function rowByRow(batch: PublishedEvent[], timeoutMs: number): Promise<boolean> {
    for (const e of batch) {
      try {
        await run(`INSERT INTO ${qualified} FORMAT JSONEachRow`, JSON.stringify(rowOf(e)), timeoutMs);
        sent++;
      } catch (error) {
        if (!DATA_ERROR.test((error as Error).message)) {
          // Not the row's fault after all (the server went away): keep the rest for the retry.
          queue.putBack(batch.slice(batch.indexOf(e)));
          failures++;
          return false;
        }
        rejected++;
        if (rejected === 1) log.warn("clickhouse: a row was refused as unreadable and dropped (counted in health)", { url: where, error: reason(error) });
      }
    }
    return true;
  }

  function kick() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inFlight || retryTimer || stopped || queue.size === 0) return;
    void send(requestTimeoutMs).then((ok) => {
      if (stopped) return;
      if (!ok) {
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          kick();
        }, retryDelay(failures));
        retryTimer.unref();
      } else waitOrSend();
    });
  }

  /** A full batch goes now; fewer rows wait flush_interval from now. */
  function waitOrSend() {
    if (queue.size >= batchSize) return kick();
    if (queue.size > 0 && !timer && !inFlight && !retryTimer) {
      timer = setTimeout(kick, flushIntervalMs);
      timer.unref();
    }
  }

  return {
    push(event) {
      if (stopped) return;
      queue.push(event);
      waitOrSend();
    },
    async close(deadline) {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (retryTimer) clearTimeout(retryTimer);
      if (inFlight) await Promise.race([inFlight, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      // One attempt per batch within the deadline; a failure ends it (no retry loop at exit).
      while (queue.size > 0 && !inFlight && Date.now() < deadline) {
        if (!(await send(deadline - Date.now()))) break;
      }
      if (queue.size > 0) log.warn("clickhouse: rows not written before close", { url: where, rows: queue.size });
    },
    state: () => ({
      name: "clickhouse",
      status: stopped ? "closed" : failures > 0 ? `retrying (${failures} failed inserts)` : "connected",
      buffered: queue.size + inFlightRows,
      // Dropped: pushed out of a full buffer, or refused by ClickHouse as unreadable.
      dropped: queue.dropped + rejected,
      sent,
    }),
  };
}
