// The NATS publisher against real nats-server processes: the shared one of
// scripts/services.sh (TFO_TEST_NATS_URL) for delivery, and servers of our own (started,
// killed and restarted on the same port here) for buffering while away, the bound on the
// buffer, credentials and the start-up errors. A small TCP server written here stands in
// for a NATS server that stops answering, which a real one cannot be made to do.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import * as v from "valibot";
import { configSchema } from "../src/config/schema.ts";
import { createLogger } from "../src/log.ts";
import { openNats } from "../src/events/nats.ts";
import { fanOut, openActivity } from "../src/events/open.ts";
import type { ActivityEvent } from "../src/events/port.ts";
import { natsSubscriber } from "./helpers/nats-subscriber.ts";
import { until } from "./helpers/wait.ts";

const sharedUrl = process.env.TFO_TEST_NATS_URL;
const NATS_SERVER = "/usr/sbin/nats-server";
const haveServer = existsSync(NATS_SERVER);
if (!sharedUrl) console.log("skipped: NATS delivery tests (TFO_TEST_NATS_URL unset; scripts/services.sh start DIR, then . DIR/env)");
if (!haveServer) console.log(`skipped: NATS buffering tests (${NATS_SERVER} missing; apt-get install nats-server)`);

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
const logTo = (lines: string[] = []) => createLogger({ level: "debug", format: "json", output: "stderr", write: (l) => lines.push(l) });
const runId = crypto.randomUUID().slice(0, 8);

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** A nats-server of our own on `port`, ready when it sends INFO. */
async function natsServer(port: number, args: string[] = []): Promise<{ url: string; stop(): Promise<void>; pause(): Promise<void> }> {
  const proc: Subprocess = Bun.spawn([NATS_SERVER, "-a", "127.0.0.1", "-p", String(port), ...args], { stdout: "ignore", stderr: "ignore" });
  const answers = async () => {
    try {
      const got = Promise.withResolvers<boolean>();
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: () => got.resolve(true), close: () => got.resolve(false) } });
      const ok = await got.promise;
      s.end();
      return ok;
    } catch {
      return false;
    }
  };
  if (!(await until(answers, 5000, 10))) throw new Error(`nats-server on ${port} did not start`);
  const stop = async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  };
  cleanup.push(stop);
  // SIGSTOP lands when the kernel gets to it: a loaded machine let the server answer one more PING.
  const stopped = () => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${proc.pid}/stat`, "utf8"));
  const pause = async () => {
    proc.kill("SIGSTOP");
    if (!(await until(stopped, 5000, 1))) throw new Error("nats-server did not stop");
  };
  return { url: `nats://127.0.0.1:${port}`, stop, pause };
}

/** A gate the reconnect loop waits at, so the test decides when the publisher may come back. */
function reconnectGate() {
  let open = false;
  return {
    beforeReconnect: async () => {
      await until(() => open, 30_000, 5);
    },
    open: () => (open = true),
  };
}

const call = (i: number, tenant: string | null = "alice"): ActivityEvent => ({
  type: "tool.called",
  at: new Date().toISOString(),
  tenant,
  session_id: `s-${runId}`,
  tool: `tool_${i}`,
  ms: i + 0.5,
  outcome: i % 2 ? "error" : "ok",
  error_type: i % 2 ? "tool_error" : null,
  args: { path: "string(3)" },
});

describe.skipIf(!sharedUrl)("publishing to the shared NATS", () => {
  test("a subscriber sees session start, calls, a read and session end, in order, with tenant, tool, duration and outcome", async () => {
    const replica = `events-nats-${runId}`;
    const sub = await natsSubscriber(sharedUrl!, "tfo.mcp.>");
    cleanup.push(() => sub.close());
    const activity = fanOut([await openNats({ url: sharedUrl!, log: logTo() })], replica);
    cleanup.push(() => activity.close());
    const common = { at: new Date().toISOString(), tenant: "alice", session_id: `s-${runId}` };
    activity.emit({ ...common, type: "session.started", transport: "http", client_name: "c", client_version: "1", protocol_version: "2025-06-18" });
    for (let i = 0; i < 3; i++) activity.emit(call(i));
    activity.emit({ ...common, type: "resource.read", scheme: "file", ms: 1.5, outcome: "ok", error_type: null });
    activity.emit({ ...common, type: "session.ended", transport: "http", calls: 3, duration_ms: 42 });
    const mine = () => sub.messages.filter((m) => m.data.replica === replica);
    expect(await until(() => mine().length === 6, 5000)).toBe(true);
    expect(mine().map((m) => m.subject)).toEqual(["tfo.mcp.sessions.started", "tfo.mcp.tools.called", "tfo.mcp.tools.called", "tfo.mcp.tools.called", "tfo.mcp.resources.read", "tfo.mcp.sessions.ended"]);
    expect(mine()[2]!.data).toMatchObject({ type: "tool.called", tenant: "alice", tool: "tool_1", ms: 1.5, outcome: "error", error_type: "tool_error", replica });
    expect(mine()[5]!.data).toMatchObject({ calls: 3, duration_ms: 42 });
    expect(activity.describe()).toEqual(["nats: connected, 0 buffered, 0 dropped, 6 sent"]);
  });
});

describe.skipIf(!haveServer)("a NATS server of our own", () => {
  test("events emitted while NATS is away are buffered and all arrive, in order, once it is back on the same port; so do events it never answered", async () => {
    const port = freePort();
    let server = await natsServer(port);
    const gate = reconnectGate();
    const lines: string[] = [];
    const sink = await openNats({ url: server.url, log: logTo(lines), beforeReconnect: gate.beforeReconnect });
    cleanup.push(() => sink.close(Date.now() + 500));
    const activity = fanOut([sink], "r");
    for (let i = 0; i < 5; i++) activity.emit(call(i));
    expect(await until(() => sink.state().sent === 5)).toBe(true);

    // A stopped server still takes bytes into its socket but never answers the PING after
    // them: those 5 events were written and are lost with the server unless kept until its PONG.
    await server.pause();
    for (let i = 5; i < 10; i++) activity.emit(call(i));
    for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    await server.stop();
    expect(await until(() => sink.state().status.startsWith("reconnecting"))).toBe(true);
    for (let i = 10; i < 310; i++) activity.emit(call(i));
    expect(sink.state()).toMatchObject({ buffered: 305, dropped: 0, sent: 5 });

    server = await natsServer(port);
    const sub = await natsSubscriber(server.url, "tfo.mcp.>");
    cleanup.push(() => sub.close());
    gate.open();
    expect(await until(() => sub.messages.length >= 305, 10_000)).toBe(true);
    expect(sub.messages.map((m) => m.data.tool)).toEqual(Array.from({ length: 305 }, (_, i) => `tool_${i + 5}`));
    expect(sink.state()).toMatchObject({ status: "connected", buffered: 0, dropped: 0, sent: 310 });
    expect(lines.join("\n")).toContain("connection lost");
    expect(lines.join("\n")).toContain("reconnected");
  }, 30_000);

  test("the buffer is bounded: while NATS is away the oldest events are dropped and counted, the newest arrive", async () => {
    const port = freePort();
    let server = await natsServer(port);
    const gate = reconnectGate();
    const lines: string[] = [];
    const sink = await openNats({ url: server.url, log: logTo(lines), capacity: 50, beforeReconnect: gate.beforeReconnect });
    cleanup.push(() => sink.close(Date.now() + 500));
    await server.stop();
    expect(await until(() => sink.state().status.startsWith("reconnecting"))).toBe(true);
    const activity = fanOut([sink], "r");
    for (let i = 0; i < 120; i++) activity.emit(call(i));
    expect(sink.state()).toMatchObject({ buffered: 50, dropped: 70 });
    expect(activity.describe()[0]).toContain("50 buffered, 70 dropped");
    expect(lines.filter((l) => l.includes("buffer full")).length).toBe(1);

    server = await natsServer(port);
    const sub = await natsSubscriber(server.url, "tfo.mcp.>");
    cleanup.push(() => sub.close());
    gate.open();
    expect(await until(() => sub.messages.length >= 50, 10_000)).toBe(true);
    expect(sub.messages.map((m) => m.data.tool)).toEqual(Array.from({ length: 50 }, (_, i) => `tool_${i + 70}`));
  }, 30_000);

  test("user and password, or a token, from the URL; a refused login is a clear error with the password masked", async () => {
    const withUser = await natsServer(freePort(), ["--user", "tfo", "--pass", "s3cret-pass"]);
    const port = Number(new URL(withUser.url).port);
    const ok = await openNats({ url: `nats://tfo:s3cret-pass@127.0.0.1:${port}`, log: logTo() });
    cleanup.push(() => ok.close(Date.now() + 500));
    ok.push({ ...call(1), replica: "r" });
    // The server answers the PING after the PUB only once it has taken the PUB.
    expect(await until(() => ok.state().sent === 1)).toBe(true);
    const refused = await openNats({ url: `nats://tfo:wrong-pass@127.0.0.1:${port}`, log: logTo() }).then(() => "", (e: Error) => e.message);
    expect(refused).toContain("Authorization Violation");
    expect(refused).toContain(`nats://tfo:********@127.0.0.1:${port}`);
    expect(refused).not.toContain("wrong-pass");

    const withToken = await natsServer(freePort(), ["--auth", "t0ken-value"]);
    const tokenPort = Number(new URL(withToken.url).port);
    const byToken = await openNats({ url: `nats://t0ken-value@127.0.0.1:${tokenPort}`, log: logTo() });
    cleanup.push(() => byToken.close(Date.now() + 500));
    byToken.push({ ...call(2), replica: "r" });
    expect(await until(() => byToken.state().sent === 1)).toBe(true);
  }, 30_000);

  test("events/s the publisher sustains (every event answered by the server)", async () => {
    const server = await natsServer(freePort());
    const n = 200_000;
    const sink = await openNats({ url: server.url, log: logTo(), capacity: n });
    cleanup.push(() => sink.close(Date.now() + 500));
    const activity = fanOut([sink], "bench-replica");
    const events = Array.from({ length: n }, (_, i) => call(i));
    const started = performance.now();
    for (const e of events) activity.emit(e);
    const emitMs = performance.now() - started;
    expect(await until(() => sink.state().sent === n, 60_000, 2)).toBe(true);
    const ms = performance.now() - started;
    console.log(`nats publisher: ${n} events in ${ms.toFixed(0)} ms = ${Math.round(n / (ms / 1000))} events/s (emit alone: ${((emitMs * 1e6) / n).toFixed(0)} ns/event)`);
    expect(sink.state().dropped).toBe(0);
  }, 90_000);
});

describe("NATS not there at start, or not answering", () => {
  test("openActivity rejects at once for a refused port, naming the URL with its password masked", async () => {
    const port = freePort();
    const config = v.parse(configSchema, { queue: { backend: "nats", nats_url: `nats://me:hunter2-secret@127.0.0.1:${port}` } });
    const started = performance.now();
    const error = await openActivity(config, logTo(), async () => Promise.reject(new Error("unused")), "r").then(() => "", (e: Error) => e.message);
    expect(performance.now() - started).toBeLessThan(6000);
    expect(error).toContain(`NATS at nats://me:********@127.0.0.1:${port} (queue.nats_url) is not reachable`);
    expect(error).toContain("queue.backend: none");
    expect(error).not.toContain("hunter2-secret");
  });

  test("a server that accepts but never sends INFO fails the start within the connect timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanup.push(() => silent.stop(true));
    const started = performance.now();
    const error = await openNats({ url: `nats://127.0.0.1:${silent.port}`, log: logTo(), connectTimeoutMs: 300 }).then(() => "", (e: Error) => e.message);
    expect(error).toContain("no answer within 300 ms");
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("a server that stops answering PING is given up and reconnected to; its -ERR lines are logged once each", async () => {
    // Answers the handshake, then nothing: what a vanished host looks like from here.
    let connections = 0;
    const handshook = new WeakSet<object>();
    const mute = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(s) {
          connections++;
          s.write('INFO {"max_payload":1048576}\r\n');
        },
        data(s, chunk) {
          if (!handshook.has(s) && chunk.toString().includes("PING")) {
            handshook.add(s);
            s.write("PONG\r\n-ERR 'Permissions Violation for Publish to tfo.mcp.tools.called'\r\n-ERR 'Permissions Violation for Publish to tfo.mcp.tools.called'\r\n");
          }
        },
      },
    });
    cleanup.push(() => mute.stop(true));
    const lines: string[] = [];
    const sink = await openNats({ url: `nats://127.0.0.1:${mute.port}`, log: logTo(lines), pingIntervalMs: 100, beforeReconnect: async () => {} });
    cleanup.push(() => sink.close(Date.now()));
    sink.push({ ...call(1), replica: "r" });
    expect(await until(() => connections >= 2, 5000)).toBe(true);
    expect(lines.join("\n")).toContain("no answer to PING");
    expect(lines.filter((l) => l.includes("Permissions Violation")).length).toBe(1);
    // The unanswered event is still held for the next connection.
    expect(sink.state().buffered).toBe(1);
  });
});
