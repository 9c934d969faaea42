// What the server tells the outside about its activity: one event per tool call, resource
// read, session start and end. Sinks (NATS, ClickHouse, the store's audit table) take them
// off the request path; emit never waits and never throws. No file contents, arguments'
// values or secrets are ever in an event: names, shapes, durations and outcomes only.

type Common = {
  /** ISO time the event happened (for a call, when it ended) */
  at: string;
  /** the API key's name (tenant), null for the server's own sessions */
  tenant: string | null;
  session_id: string;
};

export type ActivityEvent =
  | (Common & { type: "tool.called"; tool: string; ms: number; outcome: "ok" | "error"; error_type: string | null; args: Record<string, string> })
  | (Common & { type: "resource.read"; scheme: string; ms: number; outcome: "ok" | "error"; error_type: string | null })
  | (Common & { type: "session.started"; transport: string; client_name: string; client_version: string; protocol_version: string })
  | (Common & { type: "session.ended"; transport: string; calls: number; duration_ms: number });

export type ActivityType = ActivityEvent["type"];

/** What a sink sends: the event and the replica that served it (server.replica or the host name). */
export type PublishedEvent = ActivityEvent & { replica: string };

/** The NATS subject of each event type. */
export const SUBJECTS: Record<ActivityType, string> = {
  "tool.called": "tfo.mcp.tools.called",
  "resource.read": "tfo.mcp.resources.read",
  "session.started": "tfo.mcp.sessions.started",
  "session.ended": "tfo.mcp.sessions.ended",
};

export type Activity = {
  /** Hands the event to every sink; returns at once. */
  emit(event: ActivityEvent): void;
  /** Sends what is buffered (bounded by the sinks' own timeouts), then stops. */
  close(): Promise<void>;
  /** One line per sink for health and `info`: "nats: connected, 0 buffered" */
  describe(): string[];
};

/** describe()'s lines ("nats: connected, 0 buffered") as a record for status://health. */
export function activityStates(activity: Activity | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of activity?.describe() ?? []) {
    const at = line.indexOf(": ");
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 2);
  }
  return out;
}
