// Telemetry end to end: the compiled binary, driven by the SDK Client over stdio (or by raw
// JSON lines where the test needs the process itself), exporting to our own OTLP receivers
// over gRPC, HTTP/protobuf and HTTP/JSON.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary, cleanEnv, runBinary } from "./helpers/binary.ts";
import { connectBinary, textOf } from "./helpers/client.ts";
import { startGrpcReceiver, startHttpReceiver } from "./helpers/otlp-receiver.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const KEY_ID = "tfk_e2e_key_id_123";
const KEY_SECRET = "tfs_e2e_key_secret_456";
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
beforeAll(async () => {
  await binary();
});

function workspace() {
  const dir = tempDir("tfo-tel-");
  cleanup.push(dir.cleanup);
  return dir.path;
}
async function receiver(kind: "grpc" | "http") {
  const r = kind === "grpc" ? await startGrpcReceiver() : await startHttpReceiver();
  cleanup.push(() => r.stop());
  return r;
}
const telemetryEnv = (r: { url: string }, protocol: "grpc" | "http", extra: Record<string, string> = {}) => ({
  TELEMETRYFLOW_ENABLED: "true",
  TELEMETRYFLOW_ENDPOINT: r.url,
  TELEMETRYFLOW_PROTOCOL: protocol,
  TELEMETRYFLOW_API_KEY_ID: KEY_ID,
  TELEMETRYFLOW_API_KEY_SECRET: KEY_SECRET,
  ...extra,
});

const INIT = `${JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`;
const echoCall = (id: number) => `${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: `m${id}` } } })}\n`;

/** The binary on raw stdio: send lines, wait for answers by count, close stdin, time the exit. */
function rawServer(cwd: string, env: Record<string, string>) {
  const proc = Bun.spawn([BIN, "serve", "--root", cwd], { cwd, stdin: "pipe", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
  cleanup.push(() => void proc.kill("SIGKILL"));
  let answers = 0;
  const reading = (async () => {
    for await (const chunk of proc.stdout) answers += new TextDecoder().decode(chunk).split("\n").length - 1;
  })();
  const stderr = new Response(proc.stderr).text();
  return {
    send(text: string) {
      proc.stdin.write(text);
      proc.stdin.flush();
    },
    answered: (n: number, ms = 10_000) => until(() => answers >= n, ms),
    /** ms from closing stdin to the process's exit, its code and what it wrote on stderr */
    async close() {
      const t0 = performance.now();
      proc.stdin.end();
      const code = await proc.exited;
      await reading;
      return { ms: performance.now() - t0, code, stderr: await stderr };
    },
  };
}
let BIN = "";
beforeAll(async () => {
  BIN = await binary();
});

const PROTOCOLS = [
  { name: "grpc", receiver: "grpc", env: { TELEMETRYFLOW_PROTOCOL: "grpc" }, encoding: "protobuf" },
  { name: "http/protobuf", receiver: "http", env: { TELEMETRYFLOW_PROTOCOL: "http" }, encoding: "protobuf" },
  { name: "http/json", receiver: "http", env: { TELEMETRYFLOW_PROTOCOL: "http", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }, encoding: "json" },
] as const;

describe("every signal arrives with upstream's names, attributes and TelemetryFlow's auth", () => {
  for (const p of PROTOCOLS) {
    test(p.name, async () => {
      const cwd = workspace();
      writeFileSync(join(cwd, "a.txt"), "hello");
      const r = await receiver(p.receiver);
      const c = await connectBinary({ args: ["--root", cwd], cwd, env: { ...telemetryEnv(r, p.receiver === "grpc" ? "grpc" : "http"), ...p.env } });
      const parent = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
      const echo = await c.client.callTool({ name: "echo", arguments: { message: "hi" }, _meta: { traceparent: `00-${parent.traceId}-${parent.spanId}-01` } });
      expect(textOf(echo)).toBe("Echo: hi");
      const failed = await c.client.callTool({ name: "read_file", arguments: { path: "missing.txt" } });
      expect(failed.isError).toBe(true);
      await c.client.readResource({ uri: "status://health" });
      await c.client.getPrompt({ name: "code_review", arguments: { code: "x = 1" } });
      const command = await c.client.callTool({ name: "execute_command", arguments: { command: "exit 3" } });
      expect(command.isError).toBe(true);
      await c.close();
      // The final flush at exit delivers everything.
      expect(await until(() => r.point("mcp.server.shutdowns") !== undefined && r.logs.some((l) => l.body === "Session closed"), 10_000)).toBe(true);

      const echoSpan = r.span("mcp.tools.execute.echo")!;
      expect([echoSpan.traceId, echoSpan.parentSpanId]).toEqual([parent.traceId, parent.spanId]);
      expect(echoSpan.kind).toBe(2); // SERVER
      expect(echoSpan.attributes).toMatchObject({ "tool.name": "echo", "mcp.method.name": "tools/call", "mcp.client.name": "tfo-e2e", "mcp.client.version": "1.0.0", success: "true" });
      expect(echoSpan.attributes["mcp.protocol.version"]).toMatch(/^\d{4}-\d\d-\d\d$/);
      expect(echoSpan.resource).toMatchObject({ "service.name": "telemetryflow-python-mcp", "service.namespace": "telemetryflow", "deployment.environment": "production", "mcp.server": "telemetryflow-mcp" });
      const readSpan = r.span("mcp.tools.execute.read_file")!;
      expect([readSpan.status.code, readSpan.attributes["error.type"], readSpan.parentSpanId]).toEqual([2, "tool_error", ""]);
      expect(r.span("mcp.resources.read")!.attributes["resource.uri"]).toBe("status://health");
      expect(r.span("mcp.prompts.get.code_review")!.attributes["prompt.name"]).toBe("code_review");
      // A command is a child span of its tool call, with its exit code (never its command line).
      const commandSpan = r.span("mcp.command.execute")!;
      expect(commandSpan.parentSpanId).toBe(r.span("mcp.tools.execute.execute_command")!.spanId);
      expect(commandSpan.attributes).toMatchObject({ "process.executable.name": "exit", "process.exit.code": 3, "error.type": "exit_code" });

      expect(r.point("mcp.tools.calls", { "tool.name": "echo", success: "true" })?.value).toBe(1);
      expect(r.point("mcp.tools.calls", { "tool.name": "read_file", success: "false", "error.type": "tool_error" })?.value).toBe(1);
      expect(r.point("mcp.tools.errors", { "tool.name": "read_file" })?.value).toBe(1);
      expect(r.point("mcp.tools.duration", { "tool.name": "echo" })).toMatchObject({ type: "histogram", unit: "s", count: 1 });
      expect(r.point("mcp.resources.reads", { "resource.uri": "status://health", success: "true" })?.value).toBe(1);
      expect(r.point("mcp.resources.read_duration", { "resource.uri": "status://health" })?.count).toBe(1);
      expect(r.point("mcp.prompts.gets", { "prompt.name": "code_review", success: "true" })?.value).toBe(1);
      expect(r.point("mcp.prompts.get_duration", { "prompt.name": "code_review" })?.count).toBe(1);
      expect(r.point("mcp.sessions.events", { event: "initialized" })?.value).toBe(1);
      expect(r.point("mcp.sessions.events", { event: "closed" })?.value).toBe(1);
      expect(r.point("mcp.server.sessions.active")?.value).toBe(0);
      expect(r.point("mcp.server.shutdowns")?.value).toBe(1);

      const bodies = r.logs.map((l) => l.body);
      expect(bodies).toContain("Session initialized");
      expect(bodies).toContain("tool call");
      expect(r.logs.find((l) => l.body === "tool call")!.attributes).toMatchObject({ tool: "echo", outcome: "ok" });

      // Every request carried TelemetryFlow's headers (gRPC: as metadata), each signal in the chosen encoding.
      expect(new Set(r.requests.map((q) => q.signal))).toEqual(new Set(["traces", "metrics", "logs"]));
      for (const q of r.requests) {
        expect(q.encoding).toBe(p.encoding);
        expect(q.headers.authorization).toBe(`Bearer ${KEY_ID}:${KEY_SECRET}`);
        expect(q.headers["x-telemetryflow-key-id"]).toBe(KEY_ID);
        expect(q.headers["x-telemetryflow-key-secret"]).toBe(KEY_SECRET);
      }
      // The key never reaches the log lines.
      expect(c.stderr()).not.toContain(KEY_SECRET);
      expect(c.stderr()).not.toContain(KEY_ID);
    });
  }
});

test("the standard OTEL_* variables alone point it at a plain collector", async () => {
  const cwd = workspace();
  const r = await receiver("http");
  const c = await connectBinary({ args: ["--root", cwd], cwd, env: { TELEMETRYFLOW_ENABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=acme", OTEL_SERVICE_NAME: "my-mcp" } });
  await c.client.callTool({ name: "echo", arguments: { message: "x" } });
  await c.close();
  expect(await until(() => r.span("mcp.tools.execute.echo") !== undefined, 10_000)).toBe(true);
  expect(r.span("mcp.tools.execute.echo")!.resource["service.name"]).toBe("my-mcp");
  expect(r.requests.every((q) => q.encoding === "protobuf" && q.headers["x-tenant"] === "acme" && !q.headers.authorization)).toBe(true);
});

describe("a collector that is down, refusing or slow never delays a call or the exit", () => {
  test("down, then up (gRPC): calls stay fast, the export is retried and arrives", async () => {
    const cwd = workspace();
    const r = await receiver("grpc");
    await r.stop();
    const s = rawServer(cwd, telemetryEnv(r, "grpc", { TELEMETRYFLOW_BATCH_TIMEOUT_MS: "50", TELEMETRYFLOW_RETRY_BACKOFF_MS: "300", TELEMETRYFLOW_MAX_RETRIES: "8", TELEMETRYFLOW_ENABLE_LOGS: "false" }));
    s.send(INIT);
    expect(await s.answered(1)).toBe(true);
    const t0 = performance.now();
    s.send(echoCall(1));
    expect(await s.answered(2)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    // Let the first export fail against the closed port, then bring the collector up.
    await Bun.sleep(400);
    await r.start();
    expect(await until(() => r.span("mcp.tools.execute.echo") !== undefined, 15_000)).toBe(true);
    const exit = await s.close();
    expect(exit.code).toBe(0);
    // The retry delivered it: nothing was lost, so nothing is reported lost.
    expect(exit.stderr).not.toContain("failed");
  });

  test("a collector that stays down: calls stay fast, the loss is logged once", async () => {
    const cwd = workspace();
    const r = await receiver("http");
    await r.stop();
    const s = rawServer(cwd, telemetryEnv(r, "http", { TELEMETRYFLOW_BATCH_TIMEOUT_MS: "20", TELEMETRYFLOW_MAX_RETRIES: "1", TELEMETRYFLOW_RETRY_BACKOFF_MS: "20" }));
    s.send(INIT);
    expect(await s.answered(1)).toBe(true);
    for (let i = 1; i <= 3; i++) {
      const t0 = performance.now();
      s.send(echoCall(i));
      expect(await s.answered(1 + i)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(500);
      await Bun.sleep(150);
    }
    const exit = await s.close();
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(4000);
    expect(exit.stderr.split(`exporting traces to ${r.url}/v1/traces failed`).length - 1).toBe(1);
  });

  test("503, then 429 with Retry-After (HTTP): the export backs off as told, then arrives", async () => {
    const cwd = workspace();
    const r = await receiver("http");
    r.refuse(1, { status: 503, signal: "traces" });
    r.refuse(1, { status: 429, retryAfter: "1", signal: "traces" });
    const s = rawServer(cwd, telemetryEnv(r, "http", { TELEMETRYFLOW_BATCH_TIMEOUT_MS: "50", TELEMETRYFLOW_RETRY_BACKOFF_MS: "200", TELEMETRYFLOW_ENABLE_LOGS: "false" }));
    s.send(INIT + echoCall(1));
    expect(await s.answered(2)).toBe(true);
    expect(await until(() => r.span("mcp.tools.execute.echo") !== undefined, 15_000)).toBe(true);
    const traces = r.requests.filter((q) => q.signal === "traces");
    expect(traces.map((q) => q.answered)).toEqual([503, 429, 200]);
    // retry_backoff_ms 200 (±20 %) after the 503; the collector's 1 s after the 429.
    expect(traces[1]!.at - traces[0]!.at).toBeGreaterThanOrEqual(150);
    // (The exporter's own schedule would wait 0.8-1.2 s here: ours replaced it.)
    expect(traces[1]!.at - traces[0]!.at).toBeLessThan(700);
    expect(traces[2]!.at - traces[1]!.at).toBeGreaterThanOrEqual(950);
    expect((await s.close()).code).toBe(0);
  });

  test("everything waits for the exit, which flushes it within a few seconds of stdin closing", async () => {
    const cwd = workspace();
    const r = await receiver("grpc");
    // Batches would wait a minute: only the final flush can send them.
    const s = rawServer(cwd, telemetryEnv(r, "grpc", { TELEMETRYFLOW_BATCH_TIMEOUT_MS: "60000" }));
    s.send(INIT + echoCall(1) + echoCall(2));
    expect(await s.answered(3)).toBe(true);
    expect(r.spans).toHaveLength(0);
    const exit = await s.close();
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(4000);
    expect(r.spans.filter((x) => x.name === "mcp.tools.execute.echo")).toHaveLength(2);
    expect(r.point("mcp.tools.calls", { "tool.name": "echo" })?.value).toBe(2);
  });

  test("a collector that never answers: calls are not slowed, and the exit gives up after its flush deadline", async () => {
    const cwd = workspace();
    const r = await receiver("http");
    r.delay(30_000);
    const s = rawServer(cwd, telemetryEnv(r, "http", { TELEMETRYFLOW_BATCH_TIMEOUT_MS: "20" }));
    s.send(INIT);
    expect(await s.answered(1)).toBe(true);
    for (let i = 1; i <= 5; i++) {
      const t0 = performance.now();
      s.send(echoCall(i));
      expect(await s.answered(1 + i)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(500);
      await Bun.sleep(50);
    }
    const exit = await s.close();
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5000);
    expect(exit.stderr).toContain("did not finish within 3000 ms");
  });
});

describe("telemetry off", () => {
  test("sends nothing, even with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector", async () => {
    const cwd = workspace();
    const r = await receiver("http");
    const c = await connectBinary({ args: ["--root", cwd], cwd, env: { OTEL_EXPORTER_OTLP_ENDPOINT: r.url } });
    await c.client.callTool({ name: "echo", arguments: { message: "x" } });
    await c.close();
    await Bun.sleep(200);
    expect(r.requests).toHaveLength(0);
  });

  test("loads nothing of OpenTelemetry (module graph of the server run from source), and on loads it", async () => {
    const cwd = workspace();
    const r = await receiver("http");
    const preload = join(cwd, "modules.ts");
    writeFileSync(preload, 'process.on("exit", () => require("node:fs").writeFileSync(process.env.MODULES_OUT, JSON.stringify(Object.keys(require.cache))));\n');
    const modulesOf = async (env: Record<string, string>) => {
      const out = join(cwd, `modules-${Object.keys(env).length}.json`);
      const bun = join(import.meta.dir, "../node_modules/.bin/bun");
      const proc = Bun.spawn([bun, "--preload", preload, join(import.meta.dir, "../src/cli.ts"), "serve", "--root", cwd], { cwd, stdin: "pipe", stdout: "pipe", stderr: "ignore", env: cleanEnv({ ...env, MODULES_OUT: out }) });
      proc.stdin.write(INIT + echoCall(1));
      proc.stdin.flush();
      const reader = proc.stdout.getReader();
      let text = "";
      while (text.split("\n").length < 3) text += new TextDecoder().decode((await reader.read()).value);
      proc.stdin.end();
      await proc.exited;
      return (JSON.parse(await Bun.file(out).text()) as string[]).filter((m) => /@opentelemetry|@grpc|src\/telemetry\/(start|exporters|producer)/.test(m));
    };
    expect(await modulesOf({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url })).toEqual([]);
    const on = await modulesOf(telemetryEnv(r, "http"));
    expect(on.some((m) => m.includes("@opentelemetry/sdk-trace"))).toBe(true);
    expect(on.some((m) => m.includes("src/telemetry/start.ts"))).toBe(true);
  });
});

describe("info, validate and start-up checks", () => {
  test("validate --check-telemetry sends one span and says whether the endpoint took it", async () => {
    const r = await receiver("grpc");
    const ok = await runBinary(["validate", "--check-telemetry"], { env: cleanEnv({ ...telemetryEnv(r, "grpc"), TELEMETRYFLOW_ENABLED: "false" }) });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Telemetry endpoint answered: grpc ${r.url} accepted a test span`);
    expect(r.span("tfo-mcp.telemetry.check")).toBeDefined();
    expect(r.requests[0]!.headers["x-telemetryflow-key-id"]).toBe(KEY_ID);
    await r.stop();
    const down = await runBinary(["validate", "--check-telemetry"], { env: cleanEnv(telemetryEnv(r, "grpc")) });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`the telemetry endpoint did not take the test span (grpc ${r.url})`);
  });

  test("info and validate show where telemetry goes, never the key", async () => {
    const env = cleanEnv(telemetryEnv({ url: "http://collector.internal:4317" }, "grpc"));
    const info = await runBinary(["info"], { env });
    expect(info.stdout).toContain("telemetry:   OTLP grpc to http://collector.internal:4317 (traces, metrics, logs; auth: telemetryflow key id + secret)");
    const json = JSON.parse((await runBinary(["info", "--json"], { env })).stdout);
    expect(json.telemetry).toMatchObject({ protocol: "grpc", endpoints: { traces: "http://collector.internal:4317" }, auth: "telemetryflow key id + secret" });
    const validate = await runBinary(["validate"], { env });
    expect(validate.stdout).toContain("telemetry OTLP grpc to http://collector.internal:4317");
    for (const out of [info.stdout, JSON.stringify(json), validate.stdout]) {
      expect(out).not.toContain(KEY_ID);
      expect(out).not.toContain(KEY_SECRET);
    }
    expect((await runBinary(["info"], { env: cleanEnv() })).stdout).toContain("telemetry:   off");
  });

  test("a key id or secret with the wrong prefix stops start-up, naming the key and not its value", async () => {
    const r = await runBinary(["serve"], { env: cleanEnv({ TELEMETRYFLOW_ENABLED: "true", TELEMETRYFLOW_API_KEY_ID: "key-123456", TELEMETRYFLOW_API_KEY_SECRET: "tfs_fine" }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('telemetry.api_key_id does not start with "tfk_"');
    expect(r.stderr).not.toContain("key-123456");
  });
});
