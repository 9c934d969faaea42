// PostgreSQL through Bun's built-in SQL client: the store several replicas share. The records
// are the sqlite adapter's, column for column (times as ISO text), migrated on open.
import { SQL, type ReservedSQL } from "bun";
import { maskUrlCredentials } from "../config/describe.ts";
import { nowIso, type AuditRecord, type Session, type Turn } from "../sessions/records.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { keyedQueue, type Store, type StoredConversation } from "./port.ts";

/**
 * Each entry moves the schema one version up; tfo_mcp_schema says where a database stands.
 * Versions count this adapter's own steps (they are not sqlite's user_version). The first one
 * is sqlite's final shape; "user" is quoted because it is a reserved word here.
 */
export const PG_MIGRATIONS = [
  `CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     title TEXT NOT NULL,
     system_prompt TEXT,
     model TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     owner TEXT
   );
   CREATE INDEX conversations_updated ON conversations(updated_at);
   CREATE INDEX conversations_owner ON conversations(owner, updated_at);
   CREATE TABLE turns (
     conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     "user" TEXT NOT NULL,
     assistant TEXT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
     model TEXT,
     stop_reason TEXT,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     created_at TEXT NOT NULL,
     exchange TEXT,
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
   CREATE TABLE api_keys (
     name TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     roots TEXT NOT NULL,
     tools TEXT NOT NULL,
     read_only BOOLEAN NOT NULL,
     rate_limit INTEGER NOT NULL,
     max_sessions INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT,
     revoked_at TEXT
   );
   CREATE TABLE audit (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     at TEXT NOT NULL,
     tenant TEXT,
     session_id TEXT,
     kind TEXT NOT NULL CHECK (kind IN ('tool', 'resource')),
     name TEXT NOT NULL,
     ms DOUBLE PRECISION NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
     args TEXT NOT NULL
   );
   CREATE INDEX audit_tenant ON audit(tenant, id);`,
];

// Advisory lock keys. Migrations take one bigint key (above the int4 range, so no two-key lock
// can equal it); serialize takes (SERIALIZE_SPACE, hashtext(key)), a space of its own.
const MIGRATE_LOCK = 0x74666f6d6370n; // "tfomcp"
const SERIALIZE_SPACE = 0x74666f6d; // "tfom"

/**
 * PostgreSQL's text cannot hold NUL (SQLite's can): a message or a reply with one would fail
 * its turn after Claude answered. It is stored as U+FFFD, the one change made to a text.
 */
const text = <T extends string | null>(value: T): T => (value !== null && value.includes("\0") ? (value.replaceAll("\0", "\uFFFD") as T) : value);

/** Seconds to wait for a connection: an unreachable server is an error in seconds, not a hang. */
export const CONNECT_TIMEOUT_SECONDS = 5;

/** Opens the pools and migrates; rejects with what to check when the server does not answer. */
export async function postgresStore(url: string, options: { max?: number; connectTimeoutSeconds?: number; lockWaitMs?: number } = {}): Promise<Store> {
  const where = maskUrlCredentials(url);
  const { queries: queryConns, locks: lockConns } = splitConnections(options.max ?? 10);
  const connect = (max: number) =>
    new SQL(url, {
      max,
      connectionTimeout: options.connectTimeoutSeconds ?? CONNECT_TIMEOUT_SECONDS,
      // Bun lets PGDATABASE win over the URL's database; the URL in the config is what counts.
      ...databaseOf(url),
    });
  const sql = connect(queryConns);
  // serialize() holds a connection for as long as fn runs (a whole Claude call). They come
  // from a pool of their own: were they taken from `sql`, as many waiting turns as the pool
  // has connections would leave none for the queries their holders run, and wait forever.
  const locks = connect(lockConns);
  try {
    await reachable(sql, where);
    await migrate(sql, where);
  } catch (error) {
    await Promise.all([sql.close(), locks.close()]);
    throw error;
  }
  return withClearErrors(store(sql, locks, where, options.lockWaitMs ?? LOCK_WAIT_MS), where);
}

/** `max` connections in all: a quarter (at least one) for queries, the rest for serialize's locks. */
export function splitConnections(max: number): { queries: number; locks: number } {
  const queries = Math.max(1, Math.ceil(max / 4));
  return { queries, locks: Math.max(1, max - queries) };
}

function databaseOf(url: string): { database?: string } {
  try {
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    return name ? { database: name } : {};
  } catch {
    return {};
  }
}

/** The first query: whatever stops it (no server, a wrong password, no such database) is said here. */
async function reachable(sql: SQL, where: string): Promise<void> {
  try {
    await sql`SELECT 1`;
  } catch (error) {
    throw new Error(
      `cannot connect to PostgreSQL at ${where}: ${(error as Error).message}. Check that the server is running and accepts connections from this machine, and the host, port, user, password and database in database.postgres_url.`,
      { cause: error },
    );
  }
}

/**
 * Every pending migration, each in its own transaction under one advisory lock: replicas that
 * start at once take turns, and the ones after the first find nothing left to do.
 */
export async function migrate(sql: SQL, where: string): Promise<number> {
  for (;;) {
    let done: boolean;
    try {
      done = await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`;
        await tx`CREATE TABLE IF NOT EXISTS tfo_mcp_schema (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL)`;
        await tx`INSERT INTO tfo_mcp_schema (one, version) VALUES (true, 0) ON CONFLICT DO NOTHING`;
        const [row] = await tx`SELECT version FROM tfo_mcp_schema`;
        const version = (row as { version: number }).version;
        if (version > PG_MIGRATIONS.length) throw new NewerSchema(version);
        if (version === PG_MIGRATIONS.length) return true;
        await tx.unsafe(PG_MIGRATIONS[version]!);
        await tx`UPDATE tfo_mcp_schema SET version = ${version + 1}`;
        return false;
      });
    } catch (error) {
      if (error instanceof NewerSchema) {
        throw new Error(
          `the PostgreSQL database at ${where} was written by a newer tfo-mcp (schema ${error.version}, this one knows ${PG_MIGRATIONS.length}); upgrade tfo-mcp or use another database.postgres_url`,
        );
      }
      throw new Error(`migrating PostgreSQL at ${where} failed: ${(error as Error).message}${isConnectionError(error) ? " (the connection was lost; the next start carries on)" : ". Check that database.postgres_url's user may create tables in that database"}.`, {
        cause: error,
      });
    }
    if (done) return PG_MIGRATIONS.length;
  }
}

class NewerSchema extends Error {
  constructor(readonly version: number) {
    super(`schema ${version}`);
  }
}

/** Bun's own connection codes, and the server's: 08 connection exception, 57P0x shutting down or terminated. */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown };
  if (typeof e?.code === "string" && /^ERR_POSTGRES_(CONNECTION|TLS|SOCKET)/.test(e.code)) return true;
  return typeof e?.errno === "string" && (e.errno.startsWith("08") || /^57P0[1-3]$/.test(e.errno));
}

/** A lost connection says which server and that the call did not complete; other errors pass as they are. */
function withClearErrors(store: Store, where: string): Store {
  const clear = (error: unknown) =>
    isConnectionError(error)
      ? new Error(`PostgreSQL at ${where} is unreachable (${(error as Error).message}); the call did not complete, try again when the server is back`, { cause: error })
      : error;
  const out: Record<string, unknown> = { ...store };
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== "function" || name === "close" || name === "serialize") continue;
    out[name] = (...args: unknown[]) =>
      (method as (...a: unknown[]) => Promise<unknown>)(...args).catch((error) => {
        throw clear(error);
      });
  }
  return out as Store;
}

function store(sql: SQL, locks: SQL, where: string, lockWaitMs: number): Store {
  const conversations = (filter: SQL.Query<unknown> | undefined, tail: SQL.Query<unknown>) =>
    sql<StoredConversation[]>`SELECT c.id, c.title, c.system_prompt, c.model, c.owner, c.created_at, c.updated_at,
      (SELECT COUNT(*)::int FROM turns t WHERE t.conversation_id = c.id) AS turns
      FROM conversations c ${filter ?? sql``} ${tail}`;
  // IS NOT DISTINCT FROM, not =: NULL (the server's own) matches NULL.
  const ownedBy = (owner: string | null) => sql`c.owner IS NOT DISTINCT FROM ${owner}`;
  type KeyRow = Omit<ApiKey, "roots" | "tools"> & { roots: string; tools: string };
  const keyFrom = (row: KeyRow): ApiKey => ({ ...row, roots: JSON.parse(row.roots), tools: JSON.parse(row.tools) });
  const inProcess = keyedQueue();

  return {
    describe: where,
    async createConversation(c) {
      const now = nowIso();
      const [row] = await sql<StoredConversation[]>`
        INSERT INTO conversations (id, title, system_prompt, model, owner, created_at, updated_at)
        VALUES (${c.id}, ${text(c.title)}, ${text(c.system_prompt)}, ${c.model}, ${c.owner ?? null}, ${now}, ${now})
        RETURNING id, title, system_prompt, model, owner, created_at, updated_at, 0 AS turns`;
      return row!;
    },
    async getConversation(id, owner) {
      const [row] = await conversations(owner === undefined ? sql`WHERE c.id = ${id}` : sql`WHERE c.id = ${id} AND ${ownedBy(owner)}`, sql``);
      return row;
    },
    async listConversations(limit, owner) {
      return [...(await conversations(owner === undefined ? undefined : sql`WHERE ${ownedBy(owner)}`, sql`ORDER BY c.updated_at DESC LIMIT ${limit}`))];
    },
    async deleteConversation(id, owner) {
      const result = owner === undefined ? await sql`DELETE FROM conversations WHERE id = ${id}` : await sql`DELETE FROM conversations c WHERE c.id = ${id} AND ${ownedBy(owner)}`;
      return result.count > 0;
    },
    async turns(id) {
      return [
        ...(await sql<Turn[]>`SELECT seq, "user", assistant, status, model, stop_reason, input_tokens, output_tokens, error, created_at, exchange
          FROM turns WHERE conversation_id = ${id} ORDER BY seq`),
      ];
    },
    async beginTurn(id, user, model) {
      return sql.begin(async (tx) => {
        const now = nowIso();
        // The conversation's row lock makes concurrent beginTurns on one conversation take
        // turns, and the INSERT below, a statement of its own, sees the number the one before took.
        const touched = await tx`UPDATE conversations SET updated_at = ${now} WHERE id = ${id} RETURNING id`;
        if (touched.count === 0) throw new Error(`no conversation ${id}`);
        const [row] = await tx<{ seq: number }[]>`
          INSERT INTO turns (conversation_id, seq, "user", status, model, created_at)
          SELECT ${id}, COALESCE(MAX(seq), 0) + 1, ${text(user)}, 'pending', ${model}, ${now} FROM turns WHERE conversation_id = ${id}
          RETURNING seq`;
        return row!.seq;
      });
    },
    async finishTurn(id, seq, outcome) {
      const change = outcome.ok
        ? sql`UPDATE turns SET status = 'done', assistant = ${text(outcome.assistant)}, model = ${outcome.model}, stop_reason = ${outcome.stop_reason},
            input_tokens = ${outcome.input_tokens}, output_tokens = ${outcome.output_tokens}, exchange = ${text(outcome.exchange ?? null)}
            WHERE conversation_id = ${id} AND seq = ${seq}`
        : sql`UPDATE turns SET status = 'failed', error = ${text(outcome.error)} WHERE conversation_id = ${id} AND seq = ${seq}`;
      // One statement, one round trip: the turn and its conversation's updated_at together.
      await sql`WITH finished AS (${change} RETURNING 1) UPDATE conversations SET updated_at = ${nowIso()} WHERE id = ${id}`;
    },
    async startSession(s) {
      await sql`INSERT INTO sessions (id, client_name, client_version, protocol_version, started_at, ended_at, calls)
        VALUES (${s.id}, ${s.client_name}, ${s.client_version}, ${s.protocol_version}, ${s.started_at}, NULL, 0)
        ON CONFLICT (id) DO UPDATE SET client_name = EXCLUDED.client_name, client_version = EXCLUDED.client_version,
          protocol_version = EXCLUDED.protocol_version, started_at = EXCLUDED.started_at, ended_at = NULL, calls = 0`;
    },
    async updateSession(id, change) {
      await sql`UPDATE sessions SET ended_at = COALESCE(${change.ended_at ?? null}, ended_at), calls = COALESCE(${change.calls ?? null}::int, calls) WHERE id = ${id}`;
    },
    async listSessions(limit) {
      return [...(await sql<Session[]>`SELECT id, client_name, client_version, protocol_version, started_at, ended_at, calls FROM sessions ORDER BY started_at DESC LIMIT ${limit}`)];
    },
    async counts(owner) {
      const [row] = await sql<{ conversations: number; sessions: number }[]>`SELECT
        (SELECT COUNT(*)::int FROM conversations c ${owner === undefined ? sql`` : sql`WHERE ${ownedBy(owner)}`}) AS conversations,
        (SELECT COUNT(*)::int FROM sessions) AS sessions`;
      return { conversations: row!.conversations, sessions: row!.sessions };
    },
    async addKey(k) {
      await sql`INSERT INTO api_keys (name, hash, roots, tools, read_only, rate_limit, max_sessions, created_at, last_used_at, revoked_at)
        VALUES (${k.name}, ${k.hash}, ${JSON.stringify(k.roots)}, ${JSON.stringify(k.tools)}, ${k.read_only}, ${k.rate_limit}, ${k.max_sessions}, ${k.created_at}, NULL, NULL)`;
    },
    async listKeys() {
      // COLLATE "C": byte order, as sqlite sorts, whatever the database's locale.
      return (await sql<KeyRow[]>`SELECT name, hash, roots, tools, read_only, rate_limit, max_sessions, created_at, last_used_at, revoked_at FROM api_keys ORDER BY name COLLATE "C"`).map(keyFrom);
    },
    async keyByHash(hash) {
      const [row] = await sql<KeyRow[]>`SELECT name, hash, roots, tools, read_only, rate_limit, max_sessions, created_at, last_used_at, revoked_at FROM api_keys WHERE hash = ${hash} AND revoked_at IS NULL`;
      return row && keyFrom(row);
    },
    async revokeKey(name, at) {
      return (await sql`UPDATE api_keys SET revoked_at = ${at} WHERE name = ${name} AND revoked_at IS NULL`).count > 0;
    },
    async replaceKeyHash(name, hash) {
      return (await sql`UPDATE api_keys SET hash = ${hash} WHERE name = ${name} AND revoked_at IS NULL`).count > 0;
    },
    async touchKey(name, at) {
      await sql`UPDATE api_keys SET last_used_at = ${at} WHERE name = ${name}`;
    },
    async addAudit(a) {
      await sql`INSERT INTO audit (at, tenant, session_id, kind, name, ms, outcome, args) VALUES (${a.at}, ${a.tenant}, ${a.session_id}, ${a.kind}, ${a.name}, ${a.ms}, ${a.outcome}, ${a.args})`;
    },
    async listAudit(limit, tenant) {
      const filter = tenant === undefined ? sql`` : sql`WHERE tenant IS NOT DISTINCT FROM ${tenant}`;
      return [...(await sql<AuditRecord[]>`SELECT at, tenant, session_id, kind, name, ms, outcome, args FROM audit ${filter} ORDER BY id DESC LIMIT ${limit}`)];
    },
    // In this process a queue per key, so one key holds at most one connection; across
    // replicas a session-level advisory lock on that connection, held until fn settles.
    serialize: (key, fn, signal) => inProcess(key, () => acrossReplicas(locks, where, key, fn, signal, lockWaitMs), signal),
    close() {
      // Queries still running finish first; nothing new starts.
      Promise.all([sql.close({ timeout: 5 }), locks.close({ timeout: 5 })]).catch(() => {});
    },
  };
}

async function acrossReplicas<T>(locks: SQL, where: string, key: string, fn: () => Promise<T>, signal: AbortSignal | undefined, waitMs: number): Promise<T> {
  let c: ReservedSQL;
  try {
    c = await lockedConnection(locks, key, signal, waitMs);
  } catch (error) {
    throw isConnectionError(error) ? new Error(`PostgreSQL at ${where} is unreachable (${(error as Error).message}); the call did not run, try again when the server is back`, { cause: error }) : error;
  }
  try {
    return await fn();
  } finally {
    // A connection that may still hold the lock must not go back to the pool: closing it ends
    // the session, and the server drops the lock with it.
    const [row] = await c`SELECT pg_advisory_unlock(${SERIALIZE_SPACE}, hashtext(${key})) AS unlocked`.catch(() => []);
    if ((row as { unlocked?: boolean } | undefined)?.unlocked === true) await c.release().catch(() => {});
    else await c.close().catch(() => {});
  }
}

/**
 * How long a turn waits for the one before it on another replica: a long tool-use turn may
 * take minutes; a replica cut off mid-turn holds the lock until its connection is seen dead.
 */
export const LOCK_WAIT_MS = 10 * 60_000;

/**
 * A connection of the lock pool holding the key's lock. While another session holds it, it
 * asks again (from every 50 ms up to every second) until it gets it, the caller's `signal` is
 * aborted, or `waitMs` has passed: a blocking pg_advisory_lock could be neither cancelled nor
 * bounded.
 */
async function lockedConnection(locks: SQL, key: string, signal?: AbortSignal, waitMs = LOCK_WAIT_MS): Promise<ReservedSQL> {
  const until = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    const c = await locks.reserve();
    try {
      for (let pause = 50; ; pause = Math.min(1000, pause * 2)) {
        signal?.throwIfAborted();
        const [row] = await c`SELECT pg_try_advisory_lock(${SERIALIZE_SPACE}, hashtext(${key})) AS locked`;
        if ((row as { locked: boolean }).locked) return c;
        if (Date.now() >= until) {
          throw new Error(`another turn of this conversation has been running for over ${Math.round(waitMs / 1000)} s (perhaps on a replica that stopped answering); try again later`);
        }
        await Bun.sleep(pause);
      }
    } catch (error) {
      // A broken connection is not given back to the pool; a good one (cancelled, timed out) is.
      if (isConnectionError(error)) await c.close().catch(() => {});
      else await c.release().catch(() => {});
      // A connection the server dropped while it sat in the pool fails its first query. The
      // lock was not taken and nothing ran, so another connection may try once more.
      if (attempt >= 2 || !isConnectionError(error)) throw error;
    }
  }
}
