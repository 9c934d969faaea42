// What a Streamable HTTP session has sent on its event streams, kept so that a client whose
// stream was cut can reconnect with Last-Event-ID and get what it missed. One store per
// session, dropped with it, bounded by a count of events and their bytes: the oldest go
// first. A resume is served only when every event after its Last-Event-ID is still kept;
// otherwise the caller says so instead of replaying with a hole in it.
import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export const MAX_EVENTS = 1000;
// Per session: with http.max_sessions at 1,000, at most ~1 GiB if every session filled its own.
export const MAX_EVENT_BYTES = 1024 * 1024;

type Kept = { streamId: string; message: JSONRPCMessage; bytes: number };

// Ids are `<stream id>.<sequence>`: the SDK's stream ids are UUIDs (or "_GET_stream"), no dots.
const parse = (eventId: string): { streamId: string; seq: number } | undefined => {
  const dot = eventId.lastIndexOf(".");
  const seq = Number(eventId.slice(dot + 1));
  return dot > 0 && Number.isSafeInteger(seq) && seq >= 0 ? { streamId: eventId.slice(0, dot), seq } : undefined;
};

export type SessionEvents = EventStore & {
  /** Whether a resume from `eventId` can be served without a gap. */
  canResume(eventId: string): boolean;
  readonly size: number;
  readonly bytes: number;
  /** Lets go of what is kept outside this process (Redis), when the session ends. */
  dispose?(): void;
};

export function sessionEvents(limits: { maxEvents: number; maxBytes: number } = { maxEvents: MAX_EVENTS, maxBytes: MAX_EVENT_BYTES }): SessionEvents {
  // Sequence numbers are consecutive: events[i] has sequence first + i.
  const events: Kept[] = [];
  let first = 0;
  let next = 0;
  let bytes = 0;
  const dropOldest = () => {
    bytes -= events.shift()!.bytes;
    first++;
  };
  const canResume = (eventId: string) => {
    const at = parse(eventId);
    // Every event after `at` is kept: at.seq + 1 >= first, and `at` was handed out.
    return at !== undefined && at.seq + 1 >= first && at.seq < next && (at.seq < first || events[at.seq - first]!.streamId === at.streamId);
  };

  return {
    async storeEvent(streamId, message) {
      const seq = next++;
      const size = JSON.stringify(message).length;
      events.push({ streamId, message, bytes: size });
      bytes += size;
      while (events.length > limits.maxEvents || (bytes > limits.maxBytes && events.length > 0)) dropOldest();
      return `${streamId}.${seq}`;
    },
    async getStreamIdForEventId(eventId) {
      return canResume(eventId) ? parse(eventId)!.streamId : undefined;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = parse(lastEventId);
      if (!at || !canResume(lastEventId)) return "";
      // A snapshot: events stored while replaying go out live on the stream this replay registers.
      const after = events.slice(Math.max(0, at.seq + 1 - first)).map((e, i) => ({ ...e, seq: Math.max(first, at.seq + 1) + i }));
      for (const e of after) {
        // Priming events (an empty message) only hand the client an id; there is nothing to resend.
        if (e.streamId === at.streamId && Object.keys(e.message).length > 0) await send(`${e.streamId}.${e.seq}`, e.message);
      }
      return at.streamId;
    },
    canResume,
    get size() {
      return events.length;
    },
    get bytes() {
      return bytes;
    },
  };
}
