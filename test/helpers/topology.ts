// The team deployment of docker-compose.yml as plain processes: two `serve --transport http`
// binaries sharing PostgreSQL (a fresh database), Redis, and optionally NATS and ClickHouse,
// with HAProxy and deploy/haproxy.cfg in front. Used by test/replicas.test.ts and
// scripts/soak.ts; the servers come from scripts/services.sh (TFO_TEST_*_URL).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SQL, type Subprocess } from "bun";
import { cleanEnv, runBinary } from "./binary.ts";
import { type HttpBinary, serveHttpBinary } from "./http-server.ts";
import { tempDir } from "./tmp.ts";
import { until } from "./wait.ts";

export type Services = { postgres?: string; redis?: string; nats?: string; clickhouse?: string; haproxy?: string };

export function servicesFromEnv(): Services {
  return {
    postgres: process.env.TFO_TEST_POSTGRES_URL,
    redis: process.env.TFO_TEST_REDIS_URL,
    nats: process.env.TFO_TEST_NATS_URL,
    clickhouse: process.env.TFO_TEST_CLICKHOUSE_URL,
    haproxy: Bun.which("haproxy") ?? undefined,
  };
}

/** What the topology needs and is missing, named for a skip message. */
export function topologyMissing(s: Services): string[] {
  return [!s.postgres && "TFO_TEST_POSTGRES_URL", !s.redis && "TFO_TEST_REDIS_URL", !s.haproxy && "haproxy"].filter((x): x is string => Boolean(x));
}

export type Topology = {
  a: HttpBinary;
  b: HttpBinary;
  /** http://127.0.0.1:PORT/mcp through HAProxy */
  proxyUrl: string;
  /** the replicas' environment (backends switched on), for `keys` commands */
  env: Record<string, string>;
  /** the folder both replicas serve */
  root: string;
  /** the fresh database's URL */
  databaseUrl: string;
  /** the ClickHouse database the events go to, when ClickHouse is on */
  clickhouseDatabase: string;
  /** `tfo-mcp keys add NAME --root <root> FLAGS…`; the printed key */
  addKey(name: string, ...flags: string[]): Promise<string>;
  stop(): Promise<void>;
};

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export async function startTopology(s: Services, opts: { extraEnv?: Record<string, string>; redisUrl?: string } = {}): Promise<Topology> {
  const run = `${process.pid}_${Date.now().toString(36)}`;
  const database = `tfo_replicas_${run}`;
  const work = tempDir("tfo-replicas-");
  const root = join(work.path, "workspace");
  mkdirSync(root, { recursive: true });
  const admin = new SQL(s.postgres!);
  await admin.unsafe(`CREATE DATABASE ${database}`);
  await admin.close();
  const dbUrl = new URL(s.postgres!);
  dbUrl.pathname = `/${database}`;
  const env: Record<string, string> = {
    TELEMETRYFLOW_MCP_STORAGE__URL: "",
    TELEMETRYFLOW_MCP_STORAGE__BACKEND: "postgres",
    TELEMETRYFLOW_MCP_DATABASE__POSTGRES_URL: dbUrl.href,
    TELEMETRYFLOW_MCP_STORAGE__AUDIT: "true",
    TELEMETRYFLOW_MCP_CACHE__BACKEND: "redis",
    TELEMETRYFLOW_MCP_CACHE__REDIS_URL: opts.redisUrl ?? s.redis!,
    ...(s.nats ? { TELEMETRYFLOW_MCP_QUEUE__BACKEND: "nats", TELEMETRYFLOW_MCP_QUEUE__NATS_URL: s.nats } : {}),
    ...(s.clickhouse
      ? { TELEMETRYFLOW_MCP_ANALYTICS__BACKEND: "clickhouse", TELEMETRYFLOW_MCP_ANALYTICS__CLICKHOUSE_URL: `${s.clickhouse}/${database}`, TELEMETRYFLOW_MCP_ANALYTICS__FLUSH_INTERVAL: "1" }
      : {}),
    ...opts.extraEnv,
  };
  // The key is printed alone on its line (the line above names the store, which may hold "tfo_").
  const keyOf = (printed: string) => /^(tfo_[A-Za-z0-9_-]{20,})$/m.exec(printed)?.[1];
  async function addKey(name: string, ...flags: string[]): Promise<string> {
    const r = await runBinary(["keys", "add", name, "--root", root, ...flags], { env: cleanEnv(env) });
    const key = keyOf(r.stdout);
    if (r.code !== 0 || !key) throw new Error(`keys add ${name} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return key;
  }
  const replica = (name: string) => serveHttpBinary({ env: { ...env, TELEMETRYFLOW_MCP_SERVER__REPLICA: name }, args: ["--root", root] });
  const [a, b] = await Promise.all([replica("replica-a"), replica("replica-b")]);
  const port = await freePort();
  const proxy: Subprocess = Bun.spawn([s.haproxy!, "-db", "-f", join(import.meta.dir, "..", "..", "deploy", "haproxy.cfg")], {
    env: { ...process.env, TFO_PROXY_BIND: `127.0.0.1:${port}`, TFO_REPLICA_1: `127.0.0.1:${a.port}`, TFO_REPLICA_2: `127.0.0.1:${b.port}` },
    stdout: "ignore",
    stderr: "ignore",
  });
  const up = await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 10_000, 50);
  if (!up) throw new Error("haproxy did not come up");
  return {
    a,
    b,
    proxyUrl: `http://127.0.0.1:${port}/mcp`,
    env,
    root,
    databaseUrl: dbUrl.href,
    clickhouseDatabase: database,
    addKey,
    async stop() {
      proxy.kill();
      await Promise.all([a.stop(), b.stop()]);
      const admin = new SQL(s.postgres!);
      await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
      await admin.close();
      if (s.clickhouse) await fetch(`${s.clickhouse}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${database}`)}`, { method: "POST" }).catch(() => {});
      work.cleanup();
    },
  };
}
