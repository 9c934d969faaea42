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
export const parseEventId = (eventId: string): { streamId: string; seq: number } | undefined => {
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

const DEFAULT_LIMITS = { maxEvents: MAX_EVENTS, maxBytes: MAX_EVENT_BYTES };

export function sessionEvents(limits: { maxEvents: number; maxBytes: number } = DEFAULT_LIMITS): SessionEvents {
  return new EventLog(limits);
}

// A class, not closures: an http server keeps one store per session, mostly idle, and
// methods on a prototype are one copy for all of them where closures were seven per
// session (~0.5 KB each).
class EventLog implements SessionEvents {
  // Sequence numbers are consecutive: events[i] has sequence first + i.
  private readonly events: Kept[] = [];
  private first = 0;
  private next = 0;
  private kept = 0;
  constructor(private readonly limits: { maxEvents: number; maxBytes: number }) {}

  get size() {
    return this.events.length;
  }
  get bytes() {
    return this.kept;
  }

  canResume(eventId: string) {
    const at = parseEventId(eventId);
    // Every event after `at` is kept: at.seq + 1 >= first, and `at` was handed out.
    return at !== undefined && at.seq + 1 >= this.first && at.seq < this.next && (at.seq < this.first || this.events[at.seq - this.first]!.streamId === at.streamId);
  }

  async storeEvent(streamId: string, message: JSONRPCMessage) {
    const seq = this.next++;
    const size = JSON.stringify(message).length;
    const { events, limits } = this;
    events.push({ streamId, message, bytes: size });
    this.kept += size;
    while (events.length > limits.maxEvents || (this.kept > limits.maxBytes && events.length > 0)) {
      this.kept -= events.shift()!.bytes;
      this.first++;
    }
    return `${streamId}.${seq}`;
  }

  async getStreamIdForEventId(eventId: string) {
    return this.canResume(eventId) ? parseEventId(eventId)!.streamId : undefined;
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }) {
    const at = parseEventId(lastEventId);
    if (!at || !this.canResume(lastEventId)) return "";
    const { first } = this;
    // A snapshot: events stored while replaying go out live on the stream this replay registers.
    const after = this.events.slice(Math.max(0, at.seq + 1 - first)).map((e, i) => ({ ...e, seq: Math.max(first, at.seq + 1) + i }));
    for (const e of after) {
      // Priming events (an empty message) only hand the client an id; there is nothing to resend.
      if (e.streamId === at.streamId && Object.keys(e.message).length > 0) await send(`${e.streamId}.${e.seq}`, e.message);
    }
    return at.streamId;
  }
}
