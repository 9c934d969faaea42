// The config → the activity sinks it switches on (NATS, ClickHouse, the audit table), and
// the fan-out that hands each event to all of them. In the default config no sink is on
// and nothing here runs: openActivity answers undefined and the server's
// `activity?.emit` is one property read per call. Each sink's module is imported only
// when its key switches it on.
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/port.ts";
import type { Activity, ActivityEvent, PublishedEvent } from "./port.ts";

export type SinkState = { name: string; status: string; buffered: number; dropped: number; sent: number };

/** What each sink offers the fan-out. push never throws and never waits. */
export type Sink = {
  push(event: PublishedEvent): void;
  /** Sends what is buffered until `deadline` (epoch ms), then lets go of its connection. */
  close(deadline: number): Promise<void>;
  state(): SinkState;
};

export const describeSink = (s: SinkState) => `${s.name}: ${s.status}, ${s.buffered} buffered, ${s.dropped} dropped, ${s.sent} sent`;

/** How long close() may take in all: a stopping server must not hang on an absent backend. */
export const CLOSE_WITHIN_MS = 3000;

/** One fan-out over the sinks. A sink that throws loses its event; the others still get it. */
export function fanOut(sinks: readonly Sink[], replica: string, closeWithinMs = CLOSE_WITHIN_MS): Activity {
  let closed: Promise<void> | undefined;
  return {
    emit(event: ActivityEvent) {
      if (closed) return;
      const published: PublishedEvent = { ...event, replica };
      for (const sink of sinks) {
        try {
          sink.push(published);
        } catch {}
      }
    },
    close() {
      closed ??= (async () => {
        const deadline = Date.now() + closeWithinMs;
        let timer: ReturnType<typeof setTimeout> | undefined;
        // Each sink stops at the deadline; this bound holds even for one that does not.
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, closeWithinMs + 100)));
        await Promise.race([Promise.all(sinks.map((s) => s.close(deadline).catch(() => {}))), late]);
        clearTimeout(timer);
      })();
      return closed;
    },
    describe: () => sinks.map((s) => describeSink(s.state())),
  };
}

export type ActivityPlan = { nats: boolean; clickhouse: boolean; audit: boolean; notes: string[] };

/** Pure: which sinks the config switches on, and what to say about one it leaves off. */
export function activityPlan(config: Config): ActivityPlan {
  const notes: string[] = [];
  const natsBackend = config.queue.backend === "nats";
  if (natsBackend && !config.queue.queue_enabled) notes.push("queue.backend is nats but queue.queue_enabled is false: no activity events are published to NATS");
  return { nats: natsBackend && config.queue.queue_enabled, clickhouse: config.analytics.backend === "clickhouse", audit: config.storage.audit, notes };
}

/**
 * The server's Activity, or undefined when no sink is on. Rejects, naming the backend and
 * its URL (credentials masked), when a switched-on backend does not answer at start: a
 * clear error, never a silent fallback. `replica` names this process on every event.
 */
export async function openActivity(config: Config, log: Logger, openStore: () => Promise<Store>, replica: string): Promise<Activity | undefined> {
  const plan = activityPlan(config);
  for (const note of plan.notes) log.info(note);
  if (!plan.nats && !plan.clickhouse && !plan.audit) return undefined;
  const opening: Promise<Sink>[] = [];
  if (plan.nats) opening.push(import("./nats.ts").then((m) => m.openNats({ url: config.queue.nats_url, log })));
  if (plan.clickhouse) {
    const { analytics } = config;
    opening.push(import("./clickhouse.ts").then((m) => m.openClickHouse({ url: analytics.clickhouse_url, log, batchSize: analytics.batch_size, flushIntervalMs: analytics.flush_interval * 1000 })));
  }
  if (plan.audit) opening.push(import("./audit.ts").then((m) => m.auditSink({ openStore, log })));
  const results = await Promise.allSettled(opening);
  const sinks = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failures = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error)?.message ?? String(r.reason)] : []));
  if (failures.length) {
    // Let go of the sinks that did open: a server that will not start must not hold sockets.
    await Promise.all(sinks.map((s) => s.close(Date.now()).catch(() => {})));
    throw new Error(failures.join("; "));
  }
  return fanOut(sinks, replica);
}
