// A Streamable HTTP session's resumability events kept in Redis instead of this process's
// memory: a capped list per session, with the bounds, ids and gap rule of http-events.ts.
// The session itself lives in one replica, so that replica hands out the sequence numbers
// and keeps the small index (stream id and size of each event) that the bounds and the gap
// rule need; the messages, up to MAX_EVENT_BYTES a session, are in Redis. Writes are not
// waited for (one connection keeps them in order, so a replay sent later reads them); one that
// fails makes every resume from before it refused, as a gap.
import type { SessionEvents } from "../server/http-events.ts";
// Ids are `<stream id>.<sequence>`, as in http-events.ts.
import { MAX_EVENT_BYTES, MAX_EVENTS, parseEventId as parse } from "../server/http-events.ts";
import type { SharedRedis } from "./redis.ts";

type Indexed = { streamId: string; bytes: number };

// An entry: "<seq> <stream id> <message JSON>"; stream ids hold no spaces (UUIDs, "_GET_stream").
const entry = (seq: number, streamId: string, json: string) => `${seq} ${streamId} ${json}`;
const unpack = (text: string): { seq: number; streamId: string; json: string } => {
  const a = text.indexOf(" ");
  const b = text.indexOf(" ", a + 1);
  return { seq: Number(text.slice(0, a)), streamId: text.slice(a + 1, b), json: text.slice(b + 1) };
};

/**
 * `ttlMs`: how long the list outlives its last write (the session's idle timeout): a replica
 * that dies leaves nothing behind for longer. `dispose` deletes it with the session.
 */
export function redisSessionEvents(
  redis: SharedRedis,
  o: { ttlMs: number; id?: string; maxEvents?: number; maxBytes?: number },
): SessionEvents & { dispose(): void } {
  const maxEvents = o.maxEvents ?? MAX_EVENTS;
  const maxBytes = o.maxBytes ?? MAX_EVENT_BYTES;
  const key = `${redis.prefix}events:${o.id ?? crypto.randomUUID()}`;
  // index[i] is the event with sequence first + i, as in http-events.ts.
  const index: Indexed[] = [];
  let first = 0;
  let next = 0;
  let bytes = 0;
  let expirySetAt = Number.NEGATIVE_INFINITY;
  // Every event below this sequence may be missing from Redis (a write failed, or Redis was away).
  let lostBelow = 0;
  const lose = (seq: number) => {
    lostBelow = Math.max(lostBelow, seq + 1);
  };
  // A Redis that came back may have come back empty: what was written before is suspect.
  let epoch = redis.epoch;
  const sameRedis = () => {
    if (redis.epoch !== epoch) {
      epoch = redis.epoch;
      lose(next - 1);
    }
  };

  const canResume = (eventId: string) => {
    sameRedis();
    const at = parse(eventId);
    return (
      at !== undefined && at.seq + 1 >= first && at.seq + 1 >= lostBelow && at.seq < next && (at.seq < first || index[at.seq - first]!.streamId === at.streamId)
    );
  };

  return {
    async storeEvent(streamId, message) {
      sameRedis();
      const seq = next++;
      const json = JSON.stringify(message);
      index.push({ streamId, bytes: json.length });
      bytes += json.length;
      const before = first;
      while (index.length > maxEvents || (bytes > maxBytes && index.length > 0)) {
        bytes -= index.shift()!.bytes;
        first++;
      }
      if (!redis.up) lose(seq);
      else if (index.length === 0) {
        // Larger than the whole budget: nothing is kept, this one included.
        redis.send("DEL", [key]).catch(() => lose(seq));
      } else {
        // Sent in order on the one connection, none waited for; most events need the push alone.
        const failed = () => lose(seq);
        redis.send("RPUSH", [key, entry(seq, streamId, json)]).catch(failed);
        if (first !== before) redis.send("LTRIM", [key, String(-index.length), "-1"]).catch(failed);
        const t = performance.now();
        if (t - expirySetAt > o.ttlMs / 10) {
          expirySetAt = t;
          redis.send("PEXPIRE", [key, String(o.ttlMs)]).catch(failed);
        }
      }
      return `${streamId}.${seq}`;
    },
    async getStreamIdForEventId(eventId) {
      return canResume(eventId) ? parse(eventId)!.streamId : undefined;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = parse(lastEventId);
      if (!at || !canResume(lastEventId)) return "";
      const from = Math.max(first, at.seq + 1);
      const upTo = next;
      const got = from < upTo ? ((await redis.send("LRANGE", [key, String(from - upTo), "-1"])) as string[]) : [];
      const events = got.map(unpack).filter((e) => e.seq >= from && e.seq < upTo);
      // Redis flushed or restarted without this replica noticing: a replay with a hole is refused.
      if (events.length !== upTo - from || events.some((e, i) => e.seq !== from + i)) {
        lose(upTo - 1);
        throw new Error(`events ${from}..${upTo - 1} of the session are no longer in Redis; open a new stream without Last-Event-ID`);
      }
      for (const e of events) {
        // Priming events (an empty message) only hand the client an id.
        if (e.streamId === at.streamId && e.json !== "{}") await send(`${e.streamId}.${e.seq}`, JSON.parse(e.json));
      }
      return at.streamId;
    },
    canResume,
    get size() {
      return index.length;
    },
    get bytes() {
      return bytes;
    },
    dispose() {
      if (redis.up) redis.send("DEL", [key]).catch(() => {});
    },
  };
}
