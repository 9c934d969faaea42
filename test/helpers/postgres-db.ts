// A PostgreSQL database of a test's own on the server of TFO_TEST_POSTGRES_URL (scripts/services.sh),
// created empty and dropped after, so parallel runs and earlier runs never meet.
import { SQL } from "bun";

export const postgresUrl = process.env.TFO_TEST_POSTGRES_URL;

export type TestDatabase = {
  /** the URL of the new database (the server's URL with its path replaced) */
  url: string;
  name: string;
  /** a connection into it, for looking at what a store wrote */
  admin: SQL;
  drop(): Promise<void>;
};

export async function freshDatabase(prefix = "tfo_test"): Promise<TestDatabase> {
  if (!postgresUrl) throw new Error("TFO_TEST_POSTGRES_URL is unset (scripts/services.sh start DIR, then . DIR/env)");
  const name = `${prefix}_${process.pid}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const server = new SQL(postgresUrl, { max: 1 });
  // template0: nobody is ever connected to it, so parallel runs never block each other's CREATE.
  await server.unsafe(`CREATE DATABASE ${name} TEMPLATE template0`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const admin = new SQL(url.toString(), { max: 2, database: name });
  return {
    url: url.toString(),
    name,
    admin,
    async drop() {
      await admin.close();
      // FORCE: a store a failed test left open must not keep the database alive.
      await server.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await server.close();
    },
  };
}
