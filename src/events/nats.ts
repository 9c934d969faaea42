// Activity events to NATS, off the request path. push() only appends to a bounded buffer;
// once per turn of the event loop the buffer goes out as one write of up to BATCH PUB
// frames followed by a PING. The server handles a connection's frames in order, so its
// PONG says every frame before that PING arrived: only then do those events leave memory.
// A connection that breaks puts its unanswered events back at the head of the buffer, and
// they go first, in order, once a reconnect (with backoff) succeeds. An event may arrive
// twice if the break fell between the server taking a frame and its PONG reaching us.
import { maskUrlCredentials } from "../config/describe.ts";
import type { Logger } from "../log.ts";
import { boundedQueue } from "./bounded-queue.ts";
import { connectNats, type NatsConnection, parseNatsUrl, publishFrame, type ServerLine } from "./nats-wire.ts";
import type { Sink } from "./open.ts";
import type { PublishedEvent } from "./port.ts";

export type NatsSinkOptions = {
  url: string;
  log: Logger;
  /** most events held while NATS is slow or away; beyond, the oldest are dropped */
  capacity?: number;
  /** the handshake at start and on each reconnect */
  connectTimeoutMs?: number;
  /** a PING when idle this often; no PONG within it means the server is gone */
  pingIntervalMs?: number;
  /** waits before reconnect attempt `attempt` (1-based); tests pass their own */
  beforeReconnect?: (attempt: number) => Promise<void>;
};

// 500 events of ~300 bytes: ~150 KB per write. Four batches unanswered at most, so a slow
// server holds back the sender rather than the socket's buffer growing.
const BATCH = 500;
const MAX_UNANSWERED = 4;

/** 100 ms doubled per attempt up to 5 s, ±20 %: a restarted server is found within seconds. */
export function reconnectDelay(attempt: number, random = Math.random): number {
  return Math.round(Math.min(100 * 2 ** (attempt - 1), 5000) * (0.8 + 0.4 * random()));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export async function openNats(opts: NatsSinkOptions): Promise<Sink> {
  const { log } = opts;
  const where = maskUrlCredentials(opts.url);
  const parsed = parseNatsUrl(opts.url);
  if (!parsed.ok) throw new Error(`queue.nats_url: ${parsed.error}`);
  const target = parsed.target;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  const pingIntervalMs = opts.pingIntervalMs ?? 10_000;
  const beforeReconnect = opts.beforeReconnect ?? ((attempt: number) => sleep(reconnectDelay(attempt)));

  const capacity = opts.capacity ?? 10_000;
  const queue = boundedQueue<PublishedEvent>(capacity, () => log.warn("nats: event buffer full; dropping the oldest events (counted in health)", { url: where, capacity }));
  /** sent, waiting for the PONG that follows them; an idle PING has no events */
  let unanswered: { events: PublishedEvent[]; sentAt: number }[] = [];
  let conn: NatsConnection | undefined;
  // Each connection's callbacks check this, so a dead connection's late close is ignored.
  let generation = 0;
  let attempt = 0;
  let sent = 0;
  let oversize = 0;
  let scheduled = false;
  let stopped = false;
  const serverErrors = new Set<string>();
  let progress: (() => void)[] = [];
  const wake = () => {
    const waiting = progress;
    progress = [];
    for (const w of waiting) w();
  };

  function onLine(line: ServerLine) {
    if (line.kind === "pong") {
      const answered = unanswered.shift();
      if (answered) sent += answered.events.length;
      schedule();
      wake();
    } else if (line.kind === "err" && serverErrors.size < 20 && !serverErrors.has(line.message)) {
      serverErrors.add(line.message);
      log.warn("nats: the server reported an error", { url: where, error: line.message });
    }
  }

  async function connectOnce() {
    const mine = ++generation;
    const c = await connectNats(target, connectTimeoutMs, {
      line: (line) => mine === generation && onLine(line),
      drain: () => mine === generation && schedule(),
      closed: (reason) => mine === generation && lost(reason),
    });
    if (stopped) {
      c.close();
      return;
    }
    conn = c;
    attempt = 0;
  }

  function lost(reason: string) {
    generation++;
    conn = undefined;
    queue.putBack(unanswered.flatMap((b) => b.events));
    unanswered = [];
    wake();
    if (stopped) return;
    log.warn("nats: connection lost; buffering events and reconnecting", { url: where, reason, buffered: queue.size });
    void reconnect();
  }

  async function reconnect() {
    while (!stopped && !conn) {
      attempt++;
      await beforeReconnect(attempt);
      if (stopped) return;
      try {
        await connectOnce();
        if (!conn) return;
        log.info("nats: reconnected; sending the buffered events", { url: where, buffered: queue.size });
        schedule();
        wake();
      } catch (error) {
        log.debug("nats: reconnect failed", { url: where, attempt, error: (error as Error).message });
      }
    }
  }

  function schedule() {
    if (scheduled || !conn) return;
    scheduled = true;
    setImmediate(pump);
  }

  function pump() {
    scheduled = false;
    const c = conn;
    if (!c) return;
    const maxPayload = c.info.max_payload ?? 1024 * 1024;
    while (queue.size > 0 && unanswered.length < MAX_UNANSWERED && c.backlog() === 0) {
      const batch = queue.take(BATCH);
      const frames: string[] = [];
      const events: PublishedEvent[] = [];
      for (const event of batch) {
        const { frame, bytes } = publishFrame(event);
        // The server would close the connection over it; it could never be sent.
        if (bytes > maxPayload) {
          if (oversize++ === 0) log.warn("nats: an event larger than the server's max_payload was dropped", { url: where, bytes, max_payload: maxPayload, type: event.type });
          continue;
        }
        frames.push(frame);
        events.push(event);
      }
      frames.push("PING\r\n");
      unanswered.push({ events, sentAt: Date.now() });
      c.write(frames.join(""));
    }
  }

  // A server that vanished without closing the socket (a host gone, a cable pulled) only
  // shows as a PING that stays unanswered.
  const liveness = setInterval(() => {
    const c = conn;
    if (!c) return;
    const oldest = unanswered[0];
    if (oldest && Date.now() - oldest.sentAt > pingIntervalMs) {
      log.warn("nats: no answer to PING; reconnecting", { url: where, waited_ms: Date.now() - oldest.sentAt });
      lost("no answer to PING");
      c.abort();
    } else if (!oldest) {
      unanswered.push({ events: [], sentAt: Date.now() });
      c.write("PING\r\n");
    }
  }, pingIntervalMs);
  liveness.unref();

  try {
    await connectOnce();
  } catch (error) {
    clearInterval(liveness);
    throw new Error(`NATS at ${where} (queue.nats_url) is not reachable: ${(error as Error).message}. Start NATS there, correct queue.nats_url, or set queue.backend: none.`);
  }
  log.info("nats: connected; publishing activity events", { url: where, server_version: conn?.info.version });

  const buffered = () => queue.size + unanswered.reduce((n, b) => n + b.events.length, 0);
  return {
    push(event) {
      if (stopped) return;
      queue.push(event);
      schedule();
    },
    async close(deadline) {
      while (buffered() > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          progress.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      stopped = true;
      clearInterval(liveness);
      const left = buffered();
      if (left > 0) log.warn("nats: events not sent before close", { url: where, events: left });
      generation++;
      conn?.close();
      conn = undefined;
    },
    state: () => ({
      name: "nats",
      status: stopped ? "closed" : conn ? "connected" : `reconnecting (attempt ${attempt})`,
      buffered: buffered(),
      dropped: queue.dropped + oversize,
      sent,
    }),
  };
}
