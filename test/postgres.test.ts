// What only PostgreSQL has to get right: replicas migrating one database at once, turns of
// one conversation serialized across two pools (two replicas), recovery after the server
// drops every connection, and clear, bounded failures. Each test has a database of its own.
import { afterEach, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { defaults, type Config } from "../src/config/schema.ts";
import { openConfiguredStore, openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/port.ts";
import { PG_MIGRATIONS, migrate, postgresStore, splitConnections } from "../src/store/postgres.ts";
import { freshDatabase, postgresUrl, type TestDatabase } from "./helpers/postgres-db.ts";
import { until } from "./helpers/wait.ts";

if (!postgresUrl) console.log("skipped: postgres.test.ts (TFO_TEST_POSTGRES_URL unset; scripts/services.sh start DIR, then . DIR/env)");

/** The same database with a password in the URL: the test server trusts loopback, so any password opens it. */
const withPassword = (url: string) => {
  const u = new URL(url);
  u.username = "postgres";
  u.password = "s3cret-pw";
  return u.toString();
};

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

const conversation = (id: string) => ({ id, title: id, system_prompt: null, model: null });

describe("pool sizes (pure)", () => {
  test.each([
    [1, { queries: 1, locks: 1 }],
    [2, { queries: 1, locks: 1 }],
    [4, { queries: 1, locks: 3 }],
    [25, { queries: 7, locks: 18 }],
  ])("max %p", (max, want) => {
    expect(splitConnections(max)).toEqual(want);
  });
});

describe.skipIf(!postgresUrl)("PostgreSQL store", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const database = async () => {
    const db = await freshDatabase("tfo_pg");
    cleanups.push(() => db.drop());
    return db;
  };
  const opened = async (db: TestDatabase, max = 4) => {
    const store = await postgresStore(db.url, { max });
    cleanups.push(() => store.close());
    return store;
  };
  const schemaVersion = async (db: TestDatabase) => ((await db.admin`SELECT version FROM tfo_mcp_schema`)[0] as { version: number }).version;

  test("replicas starting at once on an empty database all open it, and it is migrated once", async () => {
    const db = await database();
    const stores = await Promise.all([1, 2, 3, 4].map(() => opened(db)));
    expect(await schemaVersion(db)).toBe(PG_MIGRATIONS.length);
    expect((await db.admin`SELECT count(*)::int AS n FROM tfo_mcp_schema`)[0]).toEqual({ n: 1 });
    const tables = (await db.admin`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`).map((r: { tablename: string }) => r.tablename);
    expect(tables).toEqual(["api_keys", "audit", "conversations", "sessions", "tfo_mcp_schema", "turns"]);
    await stores[0]!.createConversation(conversation("c_1"));
    expect((await stores[3]!.getConversation("c_1"))?.id).toBe("c_1");
  });

  test("opening again migrates nothing and keeps what was stored", async () => {
    const db = await database();
    const first = await postgresStore(db.url, { max: 2 });
    await first.createConversation(conversation("c_kept"));
    await first.beginTurn("c_kept", "hello", "m");
    first.close();
    const again = await opened(db, 2);
    expect(await schemaVersion(db)).toBe(PG_MIGRATIONS.length);
    expect((await again.getConversation("c_kept"))?.turns).toBe(1);
    await expect(again.beginTurn("c_gone", "x", "m")).rejects.toThrow("no conversation c_gone");
    const sql = new SQL(db.url, { max: 1, database: db.name });
    cleanups.push(() => sql.close());
    expect(await migrate(sql, "here")).toBe(PG_MIGRATIONS.length);
    expect(await schemaVersion(db)).toBe(PG_MIGRATIONS.length);
  });

  test("a database written by a newer tfo-mcp is refused, saying so, without the password", async () => {
    const db = await database();
    (await opened(db)).close();
    await db.admin`UPDATE tfo_mcp_schema SET version = ${PG_MIGRATIONS.length + 1}`;
    const error = await openStore(withPassword(db.url)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(new RegExp(`written by a newer tfo-mcp \\(schema ${PG_MIGRATIONS.length + 1}, this one knows ${PG_MIGRATIONS.length}\\).*database\\.postgres_url`));
    expect(error?.message).toContain(db.name);
    expect(error?.message).not.toContain("s3cret-pw");
  });

  test("a turn waiting for its conversation stops waiting when cancelled, or after the bound, and never runs", async () => {
    const db = await database();
    const a = await opened(db);
    const b = await postgresStore(db.url, { max: 4, lockWaitMs: 400 });
    cleanups.push(() => b.close());
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holds = false;
    const holding = a.serialize("c_wait", async () => {
      holds = true;
      await held;
    });
    expect(await until(() => holds)).toBe(true);
    let ran = 0;
    const cancel = new AbortController();
    const cancelled = b.serialize("c_wait", async () => void ran++, cancel.signal).catch((e: Error) => e);
    expect(await until(async () => (await waiterPids(db)).length === 1, 3000, 10)).toBe(true);
    cancel.abort();
    expect((await cancelled as Error).name).toBe("AbortError");
    const started = performance.now();
    const bounded = await b.serialize("c_wait", async () => void ran++).catch((e: Error) => e);
    expect((bounded as Error).message).toContain("another turn of this conversation has been running for over 0 s");
    expect(performance.now() - started).toBeLessThan(3000);
    release();
    await holding;
    expect(ran).toBe(0);
    // Nothing is left holding or waiting: the conversation is free.
    expect(await b.serialize("c_wait", async () => "free")).toBe("free");
  });

  test("serialize holds one conversation across two replicas: the second waits for PostgreSQL's lock until the first is done", async () => {
    const db = await database();
    const [a, b] = [await opened(db), await opened(db)];
    await a.createConversation(conversation("c_shared"));
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.serialize("c_shared", async () => {
      events.push("a+");
      await held;
      events.push("a-");
    });
    expect(await until(() => events.includes("a+"))).toBe(true);
    const second = b.serialize("c_shared", async () => {
      events.push("b+");
    });
    expect(await until(async () => (await waiterPids(db)).length === 1, 3000, 10)).toBe(true);
    expect(events).toEqual(["a+"]);
    // Another conversation on the second replica is not held up meanwhile.
    expect(await b.serialize("c_other", async () => "free")).toBe("free");
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(["a+", "a-", "b+"]);
  });

  test("turns of one conversation from two replicas never interleave and are numbered without a gap", async () => {
    const db = await database();
    const replicas = [await opened(db), await opened(db)];
    await replicas[0]!.createConversation(conversation("c_busy"));
    let inside = 0;
    let overlaps = 0;
    const turn = (store: Store, n: number) =>
      store.serialize("c_busy", async () => {
        if (++inside > 1) overlaps++;
        const history = await store.turns("c_busy");
        const seq = await store.beginTurn("c_busy", `m${n}`, "m");
        // Each turn sees every turn before it finished, as a real one builds its history.
        expect(history.every((t) => t.status === "done")).toBe(true);
        await Bun.sleep(1);
        await store.finishTurn("c_busy", seq, { ok: true, assistant: `r${n}`, model: "m", stop_reason: null, input_tokens: 1, output_tokens: 1 });
        inside--;
      });
    await Promise.all(Array.from({ length: 24 }, (_, n) => turn(replicas[n % 2]!, n)));
    expect(overlaps).toBe(0);
    const turns = await replicas[1]!.turns("c_busy");
    expect(turns.map((t) => t.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(turns.every((t) => t.status === "done")).toBe(true);
  });

  test("turns waiting for their conversations never starve the queries of the turns that hold them", async () => {
    const db = await database();
    const config: Config = { ...defaults, storage: { ...defaults.storage, backend: "postgres" }, database: { ...defaults.database, postgres_url: withPassword(db.url), postgres_max_conns: 4 } };
    const store = await openConfiguredStore(config);
    cleanups.push(() => store.close());
    expect(store.describe).not.toContain("s3cret-pw");
    expect(store.describe).toContain(db.name);
    const server = new SQL(postgresUrl!, { max: 1 });
    cleanups.push(() => server.close());
    const connections = async () => ((await server`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name}`)[0] as { n: number }).n;
    let most = 0;
    const ids = Array.from({ length: 8 }, (_, i) => `c_${i}`);
    for (const id of ids) await store.createConversation(conversation(id));
    await Promise.all(
      ids.map((id) =>
        store.serialize(id, async () => {
          const seq = await store.beginTurn(id, "x", "m");
          most = Math.max(most, await connections());
          await store.finishTurn(id, seq, { ok: false, error: "e" });
        }),
      ),
    );
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
    expect((await store.counts()).conversations).toBe(8);
  });

  test("after the server drops every connection, calls fail clearly (never the password) and work again", async () => {
    const db = await database();
    const a = await postgresStore(withPassword(db.url), { max: 4 });
    cleanups.push(() => a.close());
    const b = await opened(db);
    await a.createConversation(conversation("c_r"));
    // A turn waiting for its conversation whose connection is dropped tries once more on
    // another; dropped again, it says so.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holds = false;
    const holding = b.serialize("c_r", async () => {
      holds = true;
      await held;
      return "held";
    });
    expect(await until(() => holds)).toBe(true);
    // Its outcome is taken at once: a rejection nobody waits for yet fails the test run.
    const waiter = a.serialize("c_r", async () => "ran").then(
      () => undefined,
      (e: Error) => e,
    );
    const waitingPid = async () => (await waiterPids(db))[0];
    const terminated: number[] = [];
    for (let drop = 1; drop <= 2; drop++) {
      let pid: number | undefined;
      // A new waiter each time: the one just dropped may still be listed while it exits.
      expect(await until(async () => (pid = await waitingPid()) !== undefined && !terminated.includes(pid), 3000, 10)).toBe(true);
      terminated.push(pid!);
      await db.admin`SELECT pg_terminate_backend(${pid!})`;
    }
    const lost = await waiter;
    expect(lost?.message).toMatch(/^PostgreSQL at postgres:\/\/postgres:\*+@127\.0\.0\.1:\d+\/tfo_pg_\w+ is unreachable \(.+\); the call did not run/);
    expect(lost?.message).not.toContain("s3cret-pw");
    // The holder's own connection dropped while it runs: its result still comes back, and
    // the conversation is free again (the server let go of the lock with the session).
    const holderPid = (await db.admin`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`)[0] as { pid: number };
    await db.admin`SELECT pg_terminate_backend(${holderPid.pid})`;
    release();
    expect(await holding).toBe("held");
    expect(await a.serialize("c_r", async () => "free again")).toBe("free again");

    // A query the server is running when its connection is dropped says so.
    const blocker = await db.admin.reserve();
    cleanups.push(() => blocker.release());
    await blocker`BEGIN`;
    await blocker`SELECT id FROM conversations WHERE id = 'c_r' FOR UPDATE`;
    const blocked = a.beginTurn("c_r", "blocked", "m").then(
      () => undefined,
      (e: Error) => e,
    );
    const blockedPid = async () => (await db.admin`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)[0] as { pid: number } | undefined;
    expect(await until(async () => (await blockedPid()) !== undefined, 3000, 10)).toBe(true);
    await db.admin`SELECT pg_terminate_backend(${(await blockedPid())!.pid})`;
    const dropped = await blocked;
    expect(dropped?.message).toMatch(/^PostgreSQL at postgres:\/\/postgres:\*+@127\.0\.0\.1:\d+\/tfo_pg_\w+ is unreachable \(.+\); the call did not complete/);
    expect(dropped?.message).not.toContain("s3cret-pw");
    await blocker`ROLLBACK`;

    // Every connection of the database dropped at once, pools and locks alike.
    const failures: string[] = [];
    const works = async () => {
      try {
        await a.counts();
        return true;
      } catch (e) {
        failures.push((e as Error).message);
        return false;
      }
    };
    expect(await works()).toBe(true);
    const killed = await db.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
    expect(killed.length).toBeGreaterThan(0);
    expect(await until(works, 10_000, 20)).toBe(true);
    for (const message of failures) {
      expect(message).toMatch(/^PostgreSQL at postgres:\/\/postgres:\*+@.* is unreachable \(.+\); the call did not complete/);
      expect(message).not.toContain("s3cret-pw");
    }
    expect((await a.getConversation("c_r"))?.id).toBe("c_r");
    expect(await until(async () => (await a.serialize("c_r", async () => "again").catch(() => "failed")) === "again", 10_000, 20)).toBe(true);
    expect(await b.beginTurn("c_r", "after", "m")).toBe(1);
  });

  test("the URL's database is the one opened, whatever PGDATABASE says", async () => {
    const db = await database();
    const before = process.env.PGDATABASE;
    process.env.PGDATABASE = "tfo_no_such_database";
    try {
      const store = await opened(db, 2);
      await store.createConversation(conversation("c_here"));
    } finally {
      if (before === undefined) delete process.env.PGDATABASE;
      else process.env.PGDATABASE = before;
    }
    expect((await db.admin`SELECT id FROM conversations`)[0]).toEqual({ id: "c_here" });
  });

  test("a server that refuses the connection is a clear error at once, naming the URL without its password", async () => {
    const url = `postgres://tfo:s3cret-pw@127.0.0.1:${await freePort()}/tfo_mcp`;
    const started = performance.now();
    const error = await openStore(url).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(performance.now() - started).toBeLessThan(3000);
    expect(error?.message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/tfo:\*+@127\.0\.0\.1:\d+\/tfo_mcp: .+ Check that the server is running/);
    expect(error?.message).not.toContain("s3cret-pw");
  });

  test("a server that never answers is an error after the connect timeout, not a hang", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanups.push(() => silent.stop(true));
    const started = performance.now();
    const error = await postgresStore(`postgres://tfo:s3cret-pw@127.0.0.1:${silent.port}/tfo_mcp`, { connectTimeoutSeconds: 1 }).then(
      () => undefined,
      (e: Error) => e,
    );
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(4000);
    expect(error?.message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/tfo:\*+@127\.0\.0\.1:\d+\/tfo_mcp: .*timeout/i);
    expect(error?.message).not.toContain("s3cret-pw");
  });

  test("a database that does not exist is named in the error", async () => {
    const url = new URL(postgresUrl!);
    url.pathname = "/tfo_no_such_database";
    const error = await openStore(url.toString()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^cannot connect to PostgreSQL at .*tfo_no_such_database: database "tfo_no_such_database" does not exist\. Check/);
  });
});

/**
 * Connections asking for a conversation's lock that another holds: they poll with
 * pg_try_advisory_lock (a blocking wait could be neither cancelled nor bounded).
 */
async function waiterPids(db: { admin: import("bun").SQL }): Promise<number[]> {
  const rows = await db.admin`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_try_advisory_lock%' AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted) AND pid <> pg_backend_pid()`;
  return rows.map((r: { pid: number }) => r.pid);
}
