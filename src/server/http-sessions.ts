// The http server's sessions: each belongs to the principal that opened it, counts against
// that principal's cap and the server's, and expires after a quiet spell with nothing open.
// Plain bookkeeping with an injected clock; http.ts owns the transports and the timer.
import type { Principal } from "./http-auth.ts";

export type SessionEntry<T> = {
  id: string;
  principal: Principal;
  /** what the server keeps for the session (its transport and how to end it) */
  value: T;
  /** responses still open: a call in flight, or a GET stream the client listens on */
  open: number;
  lastActive: number;
};

export type Refusal = { status: 429 | 503; message: string };

/** A place held for a session being opened, so that concurrent initializes cannot overshoot a cap. */
export type Place = { principal: Principal; held: boolean };

/** `lowered` hears of every principal whose count went down (Redis mirrors them for the other replicas). */
export function sessionTable<T>(
  limits: { maxTotal: number; maxPerPrincipal: number; idleMs: number },
  now: () => number = () => performance.now(),
  lowered?: (principal: Principal) => void,
) {
  const byId = new Map<string, SessionEntry<T>>();
  const held = new Map<Principal, number>();
  let total = 0;
  const hold = (principal: Principal, by: number) => {
    const n = (held.get(principal) ?? 0) + by;
    if (n === 0) held.delete(principal);
    else held.set(principal, n);
    total += by;
    if (by < 0) lowered?.(principal);
  };

  return {
    /**
     * Holds a place for a new session of `principal`, or says which cap refuses it. `own`:
     * the principal's own cap (a tenant's --max-sessions) in place of maxPerPrincipal.
     */
    reserve(principal: Principal, own?: { max: number; source: string }): Place | Refusal {
      const cap = own ?? { max: limits.maxPerPrincipal, source: "http.max_sessions_per_key" };
      if ((held.get(principal) ?? 0) >= cap.max) {
        return { status: 429, message: `${principal} already has ${cap.max} open sessions (${cap.source}): end one (DELETE) or wait for idle ones to expire` };
      }
      if (total >= limits.maxTotal) {
        return { status: 503, message: `the server already has ${limits.maxTotal} open sessions (http.max_sessions); try again later` };
      }
      hold(principal, 1);
      return { principal, held: true };
    },
    /** Gives back a place that did not become a session. */
    release(place: Place) {
      if (!place.held) return;
      place.held = false;
      hold(place.principal, -1);
    },
    /** The session takes over its place. */
    add(id: string, place: Place, value: T): SessionEntry<T> {
      const entry: SessionEntry<T> = { id, principal: place.principal, value, open: 0, lastActive: now() };
      if (!place.held) hold(place.principal, 1);
      place.held = false;
      byId.set(id, entry);
      return entry;
    },
    /** The session, if it exists and belongs to `principal`; another's is as unknown as a made-up id. */
    get(id: string, principal: Principal): SessionEntry<T> | undefined {
      const entry = byId.get(id);
      return entry?.principal === principal ? entry : undefined;
    },
    remove(id: string): SessionEntry<T> | undefined {
      const entry = byId.get(id);
      if (!entry) return undefined;
      byId.delete(id);
      hold(entry.principal, -1);
      return entry;
    },
    opened(entry: SessionEntry<T>) {
      entry.open++;
      entry.lastActive = now();
    },
    closed(entry: SessionEntry<T>) {
      entry.open--;
      entry.lastActive = now();
    },
    /** Sessions with nothing open and no activity for the idle timeout. */
    idle(): SessionEntry<T>[] {
      const t = now();
      const out: SessionEntry<T>[] = [];
      for (const entry of byId.values()) if (entry.open === 0 && t - entry.lastActive >= limits.idleMs) out.push(entry);
      return out;
    },
    /** Sessions and places held by `principal`. */
    heldBy(principal: Principal): number {
      return held.get(principal) ?? 0;
    },
    principals: () => held.keys(),
    all(): SessionEntry<T>[] {
      return [...byId.values()];
    },
    get size() {
      return byId.size;
    },
    /** Sessions plus places held for sessions being opened. */
    get held() {
      return total;
    },
  };
}
