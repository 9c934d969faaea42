// Several replicas behind one address, as docker-compose.yml runs them, here as plain
// processes: two `serve --transport http` binaries sharing PostgreSQL, Redis, NATS and
// ClickHouse, and HAProxy with deploy/haproxy.cfg in front. Needs the servers of
// scripts/services.sh (TFO_TEST_POSTGRES_URL, TFO_TEST_REDIS_URL; NATS and ClickHouse
// add their own checks when present) and haproxy; says what it skipped otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, runBinary } from "./helpers/binary.ts";
import { resourceText, textOf } from "./helpers/client.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { connectHttp, type HttpBinary, initializeBody, MCP_HEADERS } from "./helpers/http-server.ts";
import { natsSubscriber } from "./helpers/nats-subscriber.ts";
import { servicesFromEnv, startTopology, type Topology, topologyMissing } from "./helpers/topology.ts";
import { until } from "./helpers/wait.ts";
import { callsPerToolPerTenantPerDay } from "../src/events/clickhouse-table.ts";

const services = servicesFromEnv();
const missing = topologyMissing(services);
if (missing.length) console.log(`skipped: replica tests (${missing.join(", ")} missing; scripts/services.sh start DIR, then . DIR/env)`);
if (!missing.length && !services.nats) console.log("skipped: replica events over NATS (TFO_TEST_NATS_URL unset)");
if (!missing.length && !services.clickhouse) console.log("skipped: replica rows in ClickHouse (TFO_TEST_CLICKHOUSE_URL unset)");
const natsUrl = services.nats;
const clickhouseUrl = services.clickhouse;

describe.skipIf(missing.length > 0)("two replicas sharing PostgreSQL and Redis behind HAProxy", () => {
  const fake = startFakeAnthropic();
  let t: Topology;
  let a: HttpBinary;
  let b: HttpBinary;
  let root: string;
  let proxyUrl: string;
  let env: Record<string, string>;
  let alice: string;
  let nats: Awaited<ReturnType<typeof natsSubscriber>> | undefined;
  // Names of this run's own: a tenant's shared Redis bucket outlives a run by a minute.
  const run = Date.now().toString(36);
  const addKey = (name: string, ...flags: string[]) => t.addKey(`${name}-${run}`, ...flags);
  let chDatabase = "";

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const ask = async (client: Awaited<ReturnType<typeof connectHttp>>["client"], message: string, conversationId?: string) => {
    const result = await client.callTool({ name: "claude_conversation", arguments: { message, ...(conversationId ? { conversation_id: conversationId } : {}) } });
    expect(result.isError ?? false).toBe(false);
    return { text: textOf(result), id: (result._meta as { conversation_id: string }).conversation_id };
  };

  beforeAll(async () => {
    if (natsUrl) nats = await natsSubscriber(natsUrl, "tfo.mcp.>");
    t = await startTopology(services, { extraEnv: { ANTHROPIC_API_KEY: "sk-ant-test-replicas", ANTHROPIC_BASE_URL: fake.url } });
    ({ a, b, root, proxyUrl, env } = t);
    chDatabase = t.clickhouseDatabase;
    writeFileSync(join(root, "notes.txt"), "shared by both replicas\n");
    alice = await addKey("alice");
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    nats?.close();
    fake.stop();
  }, 30_000);

  test("a conversation started through one replica continues through the other", async () => {
    const onA = await connectHttp(a.url, auth(alice));
    const first = await ask(onA.client, "remember the word lighthouse");
    await onA.client.close();

    const onB = await connectHttp(b.url, auth(alice));
    const before = fake.requests.length;
    const second = await ask(onB.client, "what was the word?", first.id);
    expect(second.id).toBe(first.id);
    // Replica B sent replica A's turn as history.
    const sent = JSON.stringify(fake.requests[before]!.body.messages);
    expect(sent).toContain("remember the word lighthouse");
    expect(sent).toContain(first.text);
    const health = JSON.parse(resourceText(await onB.client.readResource({ uri: "status://health" })));
    expect(health.backends.redis).toStartWith("connected");
    const read = await onB.client.readResource({ uri: `conversation://${first.id}` });
    expect(resourceText(read)).toContain("lighthouse");
    await onB.client.close();
  });

  test("a key added while both run works on both, and a key revoked on one is refused by both", async () => {
    const bob = await addKey("bob");
    for (const replica of [a, b]) {
      const c = await connectHttp(replica.url, auth(bob));
      const r = await c.client.callTool({ name: "read_file", arguments: { path: join(root, "notes.txt") } });
      expect(textOf(r)).toContain("shared by both replicas");
      await c.client.close();
    }
    const revoked = await runBinary(["keys", "revoke", `bob-${run}`], { env: cleanEnv(env) });
    expect(revoked.code).toBe(0);
    for (const replica of [a, b]) {
      // Revocation reaches every replica at once through the shared key cache, or within the local cache's 2 s.
      const refused = await until(async () => (await fetch(replica.url, { method: "POST", headers: { ...MCP_HEADERS, ...auth(bob) }, body: initializeBody() })).status === 401, 5000, 100);
      expect(refused).toBe(true);
    }
  });

  test("a rate limit spent on one replica is seen by the other", async () => {
    const carol = await addKey("carol", "--rate-limit", "5");
    const post = (replica: HttpBinary) => fetch(replica.url, { method: "POST", headers: { ...MCP_HEADERS, ...auth(carol) }, body: initializeBody("carol") });
    for (let i = 0; i < 5; i++) expect((await post(a)).status).toBe(200);
    const refused = await post(b);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("through the proxy: a session sticks to its replica; killing it mid-turn loses no stored turn, and the client continues on the other", async () => {
    const viaProxy = await connectHttp(proxyUrl, auth(alice));
    // Many requests of one session through a round-robin proxy: each must reach the replica holding it.
    for (let i = 0; i < 6; i++) expect(textOf(await viaProxy.client.callTool({ name: "read_file", arguments: { path: join(root, "notes.txt") } }))).toContain("shared");
    const first = await ask(viaProxy.client, "turn one: the answer is 42");
    const sessionId = viaProxy.transport.sessionId!;
    const holder = [a, b].find((r) => r.stderr().includes(sessionId))!;
    const other = holder === a ? b : a;
    expect(holder).toBeDefined();

    // Turn two is in flight (the API holds it) when its replica dies.
    fake.queue({ kind: "hang" });
    // Its answer never comes: the client gives up at its request timeout, as a real one would.
    const inFlight = viaProxy.client
      .callTool({ name: "claude_conversation", arguments: { message: "turn two: still there?", conversation_id: first.id } }, undefined, { timeout: 5000 })
      .catch((e: Error) => e);
    await until(() => fake.hungCount() > 0, 10_000);
    holder.proc.kill("SIGKILL");
    expect(await inFlight).toBeInstanceOf(Error);
    await viaProxy.client.close().catch(() => {});

    // The client initializes again through the same address and lands on the survivor.
    const again = await connectHttp(proxyUrl, auth(alice));
    const before = fake.requests.length;
    const third = await ask(again.client, "turn three", first.id);
    expect(third.id).toBe(first.id);
    expect(other.stderr()).toContain(again.transport.sessionId!);
    expect(JSON.stringify(fake.requests[before]!.body.messages)).toContain("turn one: the answer is 42");
    // Every turn the user sent is stored, the interrupted one too.
    const stored = resourceText(await again.client.readResource({ uri: `conversation://${first.id}` }));
    for (const said of ["turn one", "turn two: still there?", "turn three"]) expect(stored).toContain(said);
    await again.client.close();
  }, 60_000);

  test.skipIf(!natsUrl)("every replica publishes its calls and sessions to NATS, naming itself and the tenant, never contents", async () => {
    const got = await until(() => nats!.messages.some((m) => m.subject === "tfo.mcp.tools.called" && m.data.replica === "replica-b"), 10_000, 50);
    expect(got).toBe(true);
    const calls = nats!.messages.filter((m) => m.subject === "tfo.mcp.tools.called");
    expect(new Set(calls.map((m) => m.data.replica))).toEqual(new Set(["replica-a", "replica-b"]));
    expect(calls.every((m) => [`alice-${run}`, `bob-${run}`, `carol-${run}`].includes(m.data.tenant))).toBe(true);
    expect(nats!.messages.some((m) => m.subject === "tfo.mcp.sessions.started")).toBe(true);
    expect(JSON.stringify(nats!.messages)).not.toContain("shared by both replicas");
  });

  test.skipIf(!clickhouseUrl)("ClickHouse holds the calls of both replicas, queryable per tool per tenant per day", async () => {
    const query = `${callsPerToolPerTenantPerDay(`${chDatabase}.events`)} FORMAT JSONEachRow`;
    let rows: { tool: string; tenant: string; calls: string }[] = [];
    const landed = await until(async () => {
      const r = await fetch(`${clickhouseUrl}/?query=${encodeURIComponent(query)}`);
      if (!r.ok) return false;
      rows = (await r.text()).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      return rows.some((row) => row.tool === "read_file" && row.tenant === `bob-${run}` && row.calls === "2");
    }, 15_000, 250);
    expect(landed).toBe(true);
    // Bob read once through each replica; alice's turns went through both as well. (What the
    // replica killed mid-turn had not flushed yet, up to analytics.flush_interval, is lost with it.)
    expect(Number(rows.find((r) => r.tool === "claude_conversation" && r.tenant === `alice-${run}`)!.calls)).toBeGreaterThanOrEqual(2);
  });
});
