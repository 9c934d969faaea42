// The reference team deployment (docker-compose.yml + deploy/haproxy.cfg). No Docker engine
// runs on the build machines, so the compose file is checked here statically: every setting
// it gives the replicas is one tfo-mcp accepts and means what the comments say, and HAProxy
// accepts the proxy's config (test/replicas.test.ts runs the same file with real processes).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.ts";
import { backendProblems } from "../src/config/schema.ts";
import { tempDir } from "./helpers/tmp.ts";

const root = join(import.meta.dir, "..");
type Service = { image?: string; build?: string; environment?: Record<string, string>; command?: string[]; entrypoint?: string[]; volumes?: string[]; ports?: string[] };
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const replicas = Object.entries(services).filter(([, s]) => s.build === ".");

describe("docker-compose.yml", () => {
  test("two tfo-mcp replicas built from this repository, behind a proxy, with the four shared servers", () => {
    expect(replicas.map(([name]) => name)).toEqual(["replica1", "replica2"]);
    for (const name of ["proxy", "postgres", "redis", "nats", "clickhouse"]) expect(services[name]).toBeDefined();
    // Images are pinned to a major version at least: `latest` changes under a team.
    for (const [name, s] of Object.entries(services)) if (s.image) expect(`${name}: ${s.image}`).toMatch(/:\d/);
  });

  test("each replica's environment loads as a valid config that switches every backend on", async () => {
    const home = tempDir("tfo-compose");
    for (const [name, s] of replicas) {
      const env = { ...s.environment!, ANTHROPIC_API_KEY: "" };
      const loaded = await loadConfig({ env, cwd: home.path, home: home.path, systemFile: join(home.path, "none.yaml") });
      if (!loaded.ok) throw new Error(`${name}: ${JSON.stringify(loaded.problems)}`);
      const c = loaded.config;
      expect([c.storage.backend, c.cache.backend, c.queue.backend, c.analytics.backend]).toEqual(["postgres", "redis", "nats", "clickhouse"]);
      expect(c.storage.audit).toBe(true);
      expect(c.server.replica).toBe(name);
      expect(c.http.trusted_proxies.length).toBeGreaterThan(0);
      expect(backendProblems(c)).toEqual([]);
      // The URLs name the compose services, not localhost (upstream's defaults).
      for (const url of [c.database.postgres_url, c.cache.redis_url, c.queue.nats_url, c.analytics.clickhouse_url]) {
        expect(Object.keys(services)).toContain(new URL(url).hostname);
      }
    }
    home.cleanup();
  });

  test("replicas serve http on all interfaces of their container, with the mounted workspace as root", () => {
    for (const [, s] of replicas) {
      expect(s.entrypoint).toEqual(["tfo-mcp"]);
      const args = s.command!.join(" ");
      expect(args).toContain("serve --transport http --host 0.0.0.0 --port 8080");
      expect(args).toContain("--root /workspace");
      expect(s.volumes).toContain("./workspace:/workspace");
    }
  });

  test("the proxy uses deploy/haproxy.cfg and points at both replicas", () => {
    const proxy = services.proxy!;
    expect(proxy.volumes?.[0]).toStartWith("./deploy/haproxy.cfg:");
    expect(proxy.environment).toMatchObject({ TFO_REPLICA_1: "replica1:8080", TFO_REPLICA_2: "replica2:8080" });
  });
});

describe("deploy/haproxy.cfg", () => {
  const cfg = readFileSync(join(root, "deploy/haproxy.cfg"), "utf8");

  test("a session sticks to the replica that answered its initialize, and is sent elsewhere when that one is down", () => {
    expect(cfg).toContain("stick store-response res.hdr(mcp-session-id)");
    expect(cfg).toContain("stick match req.hdr(mcp-session-id)");
    expect(cfg).toContain("option redispatch");
    expect(cfg).toContain("http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost");
  });

  const haproxy = Bun.which("haproxy");
  if (!haproxy) console.log("skipped: haproxy -c (haproxy is not installed; scripts/services.sh installs it)");
  test.skipIf(!haproxy)("HAProxy accepts it with the compose file's addresses", () => {
    const run = Bun.spawnSync([haproxy!, "-c", "-f", join(root, "deploy/haproxy.cfg")], {
      env: { ...process.env, TFO_PROXY_BIND: services.proxy!.environment!.TFO_PROXY_BIND!, TFO_REPLICA_1: "127.0.0.1:8081", TFO_REPLICA_2: "127.0.0.1:8082" },
    });
    expect(run.stdout.toString() + run.stderr.toString()).toContain("Configuration file is valid");
    expect(run.exitCode).toBe(0);
  });
});
