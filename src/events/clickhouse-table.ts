// The table activity events go to in ClickHouse: one row per event, its schema, and the
// question it is kept for. The schema keeps to what ClickHouse 18.16 (Debian's) accepts:
// DateTime, no DateTime64, LowCardinality, Map or TTL.
import type { PublishedEvent } from "./port.ts";

// In a database of its own (upstream: tfo_mcp_analytics), so a short name.
export const DEFAULT_TABLE = "events";

export type Row = {
  day: string;
  ts: string;
  type: string;
  tenant: string;
  session_id: string;
  replica: string;
  tool: string;
  scheme: string;
  outcome: string;
  error_type: string;
  ms: number;
  args: string;
  transport: string;
  client_name: string;
  client_version: string;
  protocol_version: string;
  calls: number;
};

/** Pure: an event as a row. Absent fields are '' or 0 (18.16 fills no DEFAULT from JSON). `ms` of a session's end is its length. */
// What a client names itself is the client's to choose: a lone surrogate made ClickHouse 18.16
// refuse the whole insert (Code 25), and a megabyte name would ride in every batch.
const MAX_TEXT = 256;
const clean = (text: string, max = MAX_TEXT) => {
  const well = text.toWellFormed();
  return well.length > max ? `${well.slice(0, max - 1)}…` : well;
};

export function rowOf(e: PublishedEvent): Row {
  const row = rawRow(e);
  for (const [k, value] of Object.entries(row)) if (typeof value === "string") (row as Record<string, unknown>)[k] = clean(value, k === "args" ? 4096 : MAX_TEXT);
  return row;
}

function rawRow(e: PublishedEvent): Row {
  const row: Row = {
    day: e.at.slice(0, 10),
    ts: e.at.slice(0, 19).replace("T", " "),
    type: e.type,
    tenant: e.tenant ?? "",
    session_id: e.session_id,
    replica: e.replica,
    tool: "",
    scheme: "",
    outcome: "",
    error_type: "",
    ms: 0,
    args: "",
    transport: "",
    client_name: "",
    client_version: "",
    protocol_version: "",
    calls: 0,
  };
  if (e.type === "tool.called") Object.assign(row, { tool: e.tool, outcome: e.outcome, error_type: e.error_type ?? "", ms: e.ms, args: JSON.stringify(e.args) });
  else if (e.type === "resource.read") Object.assign(row, { scheme: e.scheme, outcome: e.outcome, error_type: e.error_type ?? "", ms: e.ms });
  else if (e.type === "session.started") Object.assign(row, { transport: e.transport, client_name: e.client_name, client_version: e.client_version, protocol_version: e.protocol_version });
  else Object.assign(row, { transport: e.transport, calls: e.calls, ms: e.duration_ms });
  return row;
}

/** Partitioned by month, sorted for per-tenant per-tool questions. ts is in UTC. */
export function createTableSql(qualified: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified} (
  day Date, ts DateTime('UTC'), type String, tenant String, session_id String, replica String,
  tool String, scheme String, outcome String, error_type String, ms Float64, args String,
  transport String, client_name String, client_version String, protocol_version String, calls UInt32
) ENGINE = MergeTree() PARTITION BY toYYYYMM(day) ORDER BY (tenant, tool, ts)`;
}

/**
 * Calls per tool per tenant per day (tenant '' is the server's own sessions):
 *
 *     SELECT day, tenant, tool, count() AS calls, countIf(outcome = 'error') AS errors
 *     FROM tfo_mcp_analytics.events
 *     WHERE type = 'tool.called'
 *     GROUP BY day, tenant, tool
 *     ORDER BY day, tenant, tool
 *
 * count() comes back over HTTP JSON as a string ("12"): ClickHouse quotes 64-bit integers.
 */
export function callsPerToolPerTenantPerDay(qualified: string): string {
  return `SELECT day, tenant, tool, count() AS calls, countIf(outcome = 'error') AS errors FROM ${qualified} WHERE type = 'tool.called' GROUP BY day, tenant, tool ORDER BY day, tenant, tool`;
}
