// sqlite:PATH — conversations and sessions in one file (bun:sqlite, WAL), migrated on open.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { nowIso, type AuditRecord, type Session, type Turn } from "../sessions/records.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { keyedQueue, type Store, type StoredConversation } from "./port.ts";

/** Each entry moves the schema one version up; PRAGMA user_version says where a file stands. */
export const MIGRATIONS = [
  `CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     title TEXT NOT NULL,
     system_prompt TEXT,
     model TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE turns (
     conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     user TEXT NOT NULL,
     assistant TEXT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
     model TEXT,
     stop_reason TEXT,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     created_at TEXT NOT NULL,
     PRIMARY KEY (conversation_id, seq)
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     client_name TEXT NOT NULL,
     client_version TEXT NOT NULL,
     protocol_version TEXT NOT NULL,
     started_at TEXT NOT NULL,
     ended_at TEXT,
     calls INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX conversations_updated ON conversations(updated_at);`,
  `CREATE TABLE api_keys (
     name TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     roots TEXT NOT NULL,
     tools TEXT NOT NULL,
     read_only INTEGER NOT NULL,
     rate_limit INTEGER NOT NULL,
     max_sessions INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT,
     revoked_at TEXT
   );`,
  // Whose a conversation is: a tenant's key name; NULL for the server's own (and every older row).
  `ALTER TABLE conversations ADD COLUMN owner TEXT;
   CREATE INDEX conversations_owner ON conversations(owner, updated_at);`,
  // Claude's tool use inside a turn (JSON, bounded), and the audit trail of calls and reads.
  `ALTER TABLE turns ADD COLUMN exchange TEXT;
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     tenant TEXT,
     session_id TEXT,
     kind TEXT NOT NULL CHECK (kind IN ('tool', 'resource')),
     name TEXT NOT NULL,
     ms REAL NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
     args TEXT NOT NULL
   );
   CREATE INDEX audit_tenant ON audit(tenant, id);`,
];

export function migrate(db: Database): number {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length) {
    throw new Error(`the database was written by a newer tfo-mcp (schema ${current}, this one knows ${MIGRATIONS.length}); upgrade tfo-mcp or use another storage.url`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}

const CONVERSATION = `SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turns FROM conversations c`;

export function sqliteStore(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  migrate(db);

  const q = {
    insertConversation: db.query(
      "INSERT INTO conversations (id, title, system_prompt, model, owner, created_at, updated_at) VALUES ($id, $title, $system_prompt, $model, $owner, $now, $now)",
    ),
    getConversation: db.query(`${CONVERSATION} WHERE c.id = $id`),
    // IS, not =: NULL (the server's own) matches NULL.
    getOwnedConversation: db.query(`${CONVERSATION} WHERE c.id = $id AND c.owner IS $owner`),
    listConversations: db.query(`${CONVERSATION} ORDER BY c.updated_at DESC LIMIT $limit`),
    listOwnedConversations: db.query(`${CONVERSATION} WHERE c.owner IS $owner ORDER BY c.updated_at DESC LIMIT $limit`),
    deleteConversation: db.query("DELETE FROM conversations WHERE id = $id"),
    deleteOwnedConversation: db.query("DELETE FROM conversations WHERE id = $id AND owner IS $owner"),
    turns: db.query("SELECT seq, user, assistant, status, model, stop_reason, input_tokens, output_tokens, error, created_at, exchange FROM turns WHERE conversation_id = $id ORDER BY seq"),
    nextSeq: db.query("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM turns WHERE conversation_id = $id"),
    insertTurn: db.query("INSERT INTO turns (conversation_id, seq, user, status, model, created_at) VALUES ($id, $seq, $user, 'pending', $model, $now)"),
    finishDone: db.query(
      "UPDATE turns SET status = 'done', assistant = $assistant, model = $model, stop_reason = $stop_reason, input_tokens = $input_tokens, output_tokens = $output_tokens, exchange = $exchange WHERE conversation_id = $id AND seq = $seq",
    ),
    finishFailed: db.query("UPDATE turns SET status = 'failed', error = $error WHERE conversation_id = $id AND seq = $seq"),
    touch: db.query("UPDATE conversations SET updated_at = $now WHERE id = $id"),
    startSession: db.query(
      "INSERT OR REPLACE INTO sessions (id, client_name, client_version, protocol_version, started_at, calls) VALUES ($id, $client_name, $client_version, $protocol_version, $started_at, 0)",
    ),
    updateSession: db.query("UPDATE sessions SET ended_at = COALESCE($ended_at, ended_at), calls = COALESCE($calls, calls) WHERE id = $id"),
    listSessions: db.query("SELECT * FROM sessions ORDER BY started_at DESC LIMIT $limit"),
    counts: db.query("SELECT (SELECT COUNT(*) FROM conversations) AS conversations, (SELECT COUNT(*) FROM sessions) AS sessions"),
    ownedCounts: db.query("SELECT (SELECT COUNT(*) FROM conversations WHERE owner IS $owner) AS conversations, (SELECT COUNT(*) FROM sessions) AS sessions"),
    addKey: db.query(
      "INSERT INTO api_keys (name, hash, roots, tools, read_only, rate_limit, max_sessions, created_at) VALUES ($name, $hash, $roots, $tools, $read_only, $rate_limit, $max_sessions, $created_at)",
    ),
    listKeys: db.query("SELECT * FROM api_keys ORDER BY name"),
    keyByHash: db.query("SELECT * FROM api_keys WHERE hash = $hash AND revoked_at IS NULL"),
    revokeKey: db.query("UPDATE api_keys SET revoked_at = $at WHERE name = $name AND revoked_at IS NULL"),
    replaceKeyHash: db.query("UPDATE api_keys SET hash = $hash WHERE name = $name AND revoked_at IS NULL"),
    touchKey: db.query("UPDATE api_keys SET last_used_at = $at WHERE name = $name"),
    addAudit: db.query("INSERT INTO audit (at, tenant, session_id, kind, name, ms, outcome, args) VALUES ($at, $tenant, $session_id, $kind, $name, $ms, $outcome, $args)"),
    listAudit: db.query("SELECT at, tenant, session_id, kind, name, ms, outcome, args FROM audit ORDER BY id DESC LIMIT $limit"),
    listTenantAudit: db.query("SELECT at, tenant, session_id, kind, name, ms, outcome, args FROM audit WHERE tenant IS $tenant ORDER BY id DESC LIMIT $limit"),
  };
  type KeyRow = Omit<ApiKey, "roots" | "tools" | "read_only"> & { roots: string; tools: string; read_only: number };
  const keyFrom = (row: KeyRow): ApiKey => ({ ...row, roots: JSON.parse(row.roots), tools: JSON.parse(row.tools), read_only: row.read_only === 1 });

  const beginTurn = db.transaction((id: string, user: string, model: string) => {
    const { seq } = q.nextSeq.get({ id }) as { seq: number };
    const now = nowIso();
    q.insertTurn.run({ id, seq, user, model, now });
    q.touch.run({ id, now });
    return seq;
  });

  return {
    describe: `sqlite:${path}`,
    async createConversation(c) {
      q.insertConversation.run({ id: c.id, title: c.title, system_prompt: c.system_prompt, model: c.model, owner: c.owner ?? null, now: nowIso() });
      return q.getConversation.get({ id: c.id }) as StoredConversation;
    },
    async getConversation(id, owner) {
      const row = owner === undefined ? q.getConversation.get({ id }) : q.getOwnedConversation.get({ id, owner });
      return (row as StoredConversation | null) ?? undefined;
    },
    async listConversations(limit, owner) {
      return (owner === undefined ? q.listConversations.all({ limit }) : q.listOwnedConversations.all({ limit, owner })) as StoredConversation[];
    },
    async deleteConversation(id, owner) {
      return (owner === undefined ? q.deleteConversation.run({ id }) : q.deleteOwnedConversation.run({ id, owner })).changes > 0;
    },
    async turns(id) {
      return q.turns.all({ id }) as Turn[];
    },
    async beginTurn(id, user, model) {
      return beginTurn(id, user, model);
    },
    async finishTurn(id, seq, outcome) {
      if (outcome.ok) {
        const { assistant, model, stop_reason, input_tokens, output_tokens } = outcome;
        q.finishDone.run({ id, seq, assistant, model, stop_reason, input_tokens, output_tokens, exchange: outcome.exchange ?? null });
      }
      else q.finishFailed.run({ id, seq, error: outcome.error });
      q.touch.run({ id, now: nowIso() });
    },
    async startSession(s) {
      q.startSession.run(s);
    },
    async updateSession(id, change) {
      q.updateSession.run({ id, ended_at: change.ended_at ?? null, calls: change.calls ?? null });
    },
    async listSessions(limit) {
      return q.listSessions.all({ limit }) as Session[];
    },
    async counts(owner) {
      return (owner === undefined ? q.counts.get() : q.ownedCounts.get({ owner })) as { conversations: number; sessions: number };
    },
    async addKey(k) {
      q.addKey.run({ name: k.name, hash: k.hash, roots: JSON.stringify(k.roots), tools: JSON.stringify(k.tools), read_only: k.read_only ? 1 : 0, rate_limit: k.rate_limit, max_sessions: k.max_sessions, created_at: k.created_at });
    },
    async listKeys() {
      return (q.listKeys.all() as KeyRow[]).map(keyFrom);
    },
    async keyByHash(hash) {
      const row = q.keyByHash.get({ hash }) as KeyRow | null;
      return row ? keyFrom(row) : undefined;
    },
    async revokeKey(name, at) {
      return q.revokeKey.run({ name, at }).changes > 0;
    },
    async replaceKeyHash(name, hash) {
      return q.replaceKeyHash.run({ name, hash }).changes > 0;
    },
    async touchKey(name, at) {
      q.touchKey.run({ name, at });
    },
    async addAudit(a) {
      q.addAudit.run(a);
    },
    async listAudit(limit, tenant) {
      return (tenant === undefined ? q.listAudit.all({ limit }) : q.listTenantAudit.all({ limit, tenant })) as AuditRecord[];
    },
    serialize: keyedQueue(),
    close() {
      db.close();
    },
  };
}
