// storage.audit: each tool call and resource read becomes an audit record in the store,
// written after the call has answered, a few at a time. A record that cannot be written is
// dropped and counted (and logged once per run of failures): the audit trail never fails
// or slows the call it describes.
import type { Logger } from "../log.ts";
import type { AuditRecord } from "../sessions/records.ts";
import type { Store } from "../store/port.ts";
import { boundedQueue } from "./bounded-queue.ts";
import type { Sink } from "./open.ts";
import type { PublishedEvent } from "./port.ts";

/** Pure: the audit record of a call or a read; undefined for a session's start or end. */
export function auditRecordOf(e: PublishedEvent): AuditRecord | undefined {
  const common = { at: e.at, tenant: e.tenant, session_id: e.session_id };
  if (e.type === "tool.called") return { ...common, kind: "tool", name: e.tool, ms: e.ms, outcome: e.outcome, args: JSON.stringify(e.args) };
  if (e.type === "resource.read") return { ...common, kind: "resource", name: e.scheme, ms: e.ms, outcome: e.outcome, args: "{}" };
  return undefined;
}

export type AuditSinkOptions = { openStore: () => Promise<Store>; log: Logger; capacity?: number; batch?: number };

export function auditSink(opts: AuditSinkOptions): Sink {
  const { openStore, log } = opts;
  const batchSize = opts.batch ?? 20;
  const queue = boundedQueue<AuditRecord>(opts.capacity ?? 10_000);
  let writing: Promise<void> | undefined;
  let sent = 0;
  let failed = 0;
  let failing = false;
  let stopped = false;

  async function writeAll() {
    while (queue.size > 0) {
      const batch = queue.take(batchSize);
      let store: Store;
      try {
        store = await openStore();
      } catch (error) {
        failedBatch(batch.length, error);
        continue;
      }
      const results = await Promise.allSettled(batch.map((record) => store.addAudit(record)));
      const errors = results.filter((r) => r.status === "rejected");
      sent += batch.length - errors.length;
      if (errors.length) failedBatch(errors.length, errors[0]!.reason);
      else if (failing) {
        failing = false;
        log.info("audit: records are written again");
      }
    }
  }
  function failedBatch(count: number, error: unknown) {
    failed += count;
    if (failing) return;
    failing = true;
    log.warn("audit: records could not be written and were dropped", { error: (error as Error)?.message ?? String(error), records: count });
  }
  function start() {
    if (writing || stopped) return;
    writing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(writeAll)
      .finally(() => {
        writing = undefined;
        if (queue.size > 0) start();
      });
  }

  return {
    push(event) {
      if (stopped) return;
      const record = auditRecordOf(event);
      if (!record) return;
      queue.push(record);
      start();
    },
    async close(deadline) {
      start();
      while (writing && Date.now() < deadline) await Promise.race([writing, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      stopped = true;
      if (queue.size > 0) log.warn("audit: records not written before close", { records: queue.size });
    },
    state: () => ({ name: "audit", status: stopped ? "closed" : failing ? "failing" : "writing", buffered: queue.size, dropped: queue.dropped + failed, sent }),
  };
}
