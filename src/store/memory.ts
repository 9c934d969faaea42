// memory: storage that lasts as long as the process. For tests and for people who want no file.
import { nowIso, type AuditRecord, type Session, type Turn } from "../sessions/records.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { keyedQueue, type Owner, type Store, type StoredConversation } from "./port.ts";

type Row = Omit<StoredConversation, "turns">;

const MAX_AUDIT = 10_000;

export function memoryStore(): Store {
  const conversations = new Map<string, Row>();
  const turns = new Map<string, Turn[]>();
  const sessions = new Map<string, Session>();
  const keys = new Map<string, ApiKey>();
  const audit: AuditRecord[] = [];
  const withCount = (c: Row): StoredConversation => ({ ...c, turns: turns.get(c.id)?.length ?? 0 });
  const visible = (c: Row | undefined, owner: Owner | undefined): c is Row => c !== undefined && (owner === undefined || c.owner === owner);
  const touch = (id: string) => {
    const c = conversations.get(id);
    if (c) conversations.set(id, { ...c, updated_at: nowIso() });
  };
  return {
    describe: "memory",
    async createConversation(c) {
      const now = nowIso();
      const record = { ...c, owner: c.owner ?? null, created_at: now, updated_at: now };
      conversations.set(c.id, record);
      turns.set(c.id, []);
      return withCount(record);
    },
    async getConversation(id, owner) {
      const c = conversations.get(id);
      return visible(c, owner) ? withCount(c) : undefined;
    },
    async listConversations(limit, owner) {
      return [...conversations.values()]
        .filter((c) => visible(c, owner))
        .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
        .slice(0, limit)
        .map(withCount);
    },
    async deleteConversation(id, owner) {
      if (!visible(conversations.get(id), owner)) return false;
      turns.delete(id);
      return conversations.delete(id);
    },
    async turns(id) {
      return [...(turns.get(id) ?? [])];
    },
    async beginTurn(id, user, model) {
      const list = turns.get(id);
      if (!list) throw new Error(`no conversation ${id}`);
      const seq = list.length + 1;
      list.push({ seq, user, assistant: null, status: "pending", model, stop_reason: null, input_tokens: 0, output_tokens: 0, error: null, created_at: nowIso(), exchange: null });
      touch(id);
      return seq;
    },
    async finishTurn(id, seq, outcome) {
      const list = turns.get(id);
      const index = list?.findIndex((t) => t.seq === seq) ?? -1;
      if (!list || index < 0) return;
      const t = list[index]!;
      list[index] = outcome.ok
        ? { ...t, status: "done", assistant: outcome.assistant, model: outcome.model, stop_reason: outcome.stop_reason, input_tokens: outcome.input_tokens, output_tokens: outcome.output_tokens, exchange: outcome.exchange ?? null }
        : { ...t, status: "failed", error: outcome.error };
      touch(id);
    },
    async startSession(s) {
      sessions.set(s.id, { ...s, ended_at: null, calls: 0 });
    },
    async updateSession(id, change) {
      const s = sessions.get(id);
      if (s) sessions.set(id, { ...s, ...change });
    },
    async listSessions(limit) {
      return [...sessions.values()].sort((a, b) => b.started_at.localeCompare(a.started_at)).slice(0, limit);
    },
    async counts(owner) {
      const count = owner === undefined ? conversations.size : [...conversations.values()].filter((c) => c.owner === owner).length;
      return { conversations: count, sessions: sessions.size };
    },
    async addKey(k) {
      if (keys.has(k.name) || [...keys.values()].some((x) => x.hash === k.hash)) throw new Error(`UNIQUE constraint failed: api_keys.name`);
      keys.set(k.name, { ...k });
    },
    async listKeys() {
      return [...keys.values()].sort((a, b) => a.name.localeCompare(b.name)).map((k) => ({ ...k }));
    },
    async keyByHash(hash) {
      const found = [...keys.values()].find((k) => k.hash === hash && !k.revoked_at);
      return found && { ...found };
    },
    async revokeKey(name, at) {
      const k = keys.get(name);
      if (!k || k.revoked_at) return false;
      keys.set(name, { ...k, revoked_at: at });
      return true;
    },
    async replaceKeyHash(name, hash) {
      const k = keys.get(name);
      if (!k || k.revoked_at) return false;
      keys.set(name, { ...k, hash });
      return true;
    },
    async touchKey(name, at) {
      const k = keys.get(name);
      if (k) keys.set(name, { ...k, last_used_at: at });
    },
    async addAudit(a) {
      audit.push({ ...a });
      // A process-lifetime store: keep the newest, like a log that rotates.
      if (audit.length > MAX_AUDIT) audit.splice(0, audit.length - MAX_AUDIT);
    },
    async listAudit(limit, tenant) {
      return audit.filter((a) => tenant === undefined || a.tenant === tenant).slice(-limit).reverse().map((a) => ({ ...a }));
    },
    serialize: keyedQueue(),
    close() {},
  };
}
