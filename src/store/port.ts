// The storage port: what the rest of the program may ask of storage. Adapters: memory, sqlite, postgres.
import type { AuditRecord, Conversation, Session, Turn, TurnOutcome } from "../sessions/records.ts";
import type { ApiKey } from "../tenants/keys.ts";

/**
 * A conversation and whose it is: the name of the API key (tenant) whose session started it,
 * or null for the server's own (stdio, http.api_keys, a server without keys).
 */
export type StoredConversation = Conversation & { owner: string | null };

/**
 * The `owner` argument of the conversation queries: left out, every conversation (the
 * `conversations` command); a name or null, only that owner's: another's is as unknown as
 * a missing id.
 */
export type Owner = string | null;

export type Store = {
  /** "memory" or "sqlite:/path" — shown in health and logs */
  describe: string;
  createConversation(c: { id: string; title: string; system_prompt: string | null; model: string | null; owner?: Owner }): Promise<StoredConversation>;
  getConversation(id: string, owner?: Owner): Promise<StoredConversation | undefined>;
  listConversations(limit: number, owner?: Owner): Promise<StoredConversation[]>;
  deleteConversation(id: string, owner?: Owner): Promise<boolean>;
  turns(conversationId: string): Promise<Turn[]>;
  /** stores the user's message as a pending turn and returns its number */
  beginTurn(conversationId: string, user: string, model: string): Promise<number>;
  finishTurn(conversationId: string, seq: number, outcome: TurnOutcome): Promise<void>;
  startSession(s: Omit<Session, "ended_at" | "calls">): Promise<void>;
  updateSession(id: string, change: { ended_at?: string; calls?: number }): Promise<void>;
  listSessions(limit: number): Promise<Session[]>;
  /** with `owner`, only that owner's conversations are counted */
  counts(owner?: Owner): Promise<{ conversations: number; sessions: number }>;
  /** API keys (tenants): only hashes are stored */
  addKey(k: ApiKey): Promise<void>;
  listKeys(): Promise<ApiKey[]>;
  /** an active (not revoked) key by the hash of what a client sent */
  keyByHash(hash: string): Promise<ApiKey | undefined>;
  /** false when there is no such active key */
  revokeKey(name: string, at: string): Promise<boolean>;
  /** a new hash for an active key (rotate); false when there is none */
  replaceKeyHash(name: string, hash: string): Promise<boolean>;
  touchKey(name: string, at: string): Promise<void>;
  /** one audit record per tool call and resource read */
  addAudit(a: AuditRecord): Promise<void>;
  /** newest first; with `tenant`, only that tenant's */
  listAudit(limit: number, tenant?: Owner): Promise<AuditRecord[]>;
  /**
   * runs fn alone for this key: turns of one conversation never interleave. A `signal`
   * aborted while waiting ends the wait (the call rejects, fn never runs).
   */
  serialize<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  close(): void;
};

/** A per-key queue: each call starts when the previous one for the same key has settled. */
export function keyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async function serialize<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    // A call cancelled while it waited must not run when its turn comes.
    const start = () => {
      signal?.throwIfAborted();
      return fn();
    };
    const run = previous.then(start, start);
    const tail = run.catch(() => {});
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
