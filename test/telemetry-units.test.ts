// Telemetry's pure parts, as tables: where it goes (settings and OTEL_* precedence), the key
// check, the tallies behind the metrics, the rate limit, the retry policy, and the logger tee.
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { configSchema } from "../src/config/schema.ts";
import { telemetryKeyProblems } from "../src/config/telemetry-keys.ts";
import { createLogger, teeLogger } from "../src/log.ts";
import { tokenBucket } from "../src/telemetry/rate.ts";
import { backoffDelay, type ExportResponse, isRetryable, retryingTransport } from "../src/telemetry/retry.ts";
import { describeTelemetry, endpointBase, parseKeyValueList, telemetrySettings } from "../src/telemetry/settings.ts";
import { createTallies, METRICS } from "../src/telemetry/tallies.ts";

const configWith = (telemetry: Record<string, unknown>, mcp: Record<string, unknown> = {}) => v.parse(configSchema, { telemetry, mcp });
const settingsOf = (telemetry: Record<string, unknown>, env: Record<string, string> = {}) => {
  const r = telemetrySettings(configWith(telemetry), env, "9.9.9");
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.settings;
};

describe("settings: endpoint, protocol and URLs", () => {
  test.each([
    // endpoint, insecure, protocol → traces URL
    ["api.telemetryflow.id:4317", false, "grpc", "https://api.telemetryflow.id:4317"],
    ["collector:4317", true, "grpc", "http://collector:4317"],
    ["collector:4318", true, "http", "http://collector:4318/v1/traces"],
    ["collector:4318", false, "http", "https://collector:4318/v1/traces"],
    ["http://collector:4318/", false, "http", "http://collector:4318/v1/traces"],
    ["https://gw.example/otlp", true, "http", "https://gw.example/otlp/v1/traces"],
  ])("%s insecure=%s %s → %s", (endpoint, insecure, protocol, url) => {
    const s = settingsOf({ enabled: true, endpoint, insecure, protocol });
    expect(s.urls.traces).toBe(url);
    if (protocol === "http") expect([s.urls.metrics, s.urls.logs]).toEqual([url.replace("traces", "metrics"), url.replace("traces", "logs")]);
    else expect(s.urls.metrics).toBe(url);
  });

  test.each([
    ["ftp://x:1", "scheme ftp"],
    ["bad host:4317", "neither host:port"],
  ])("%s is refused with a reason", (endpoint, why) => {
    const r = endpointBase(endpoint, false);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(why);
  });

  test("upstream's defaults: gRPC with TLS to TelemetryFlow, service telemetryflow-python-mcp, its resource attributes", () => {
    const s = settingsOf({ enabled: true });
    expect(s.protocol).toBe("grpc");
    expect(s.urls.traces).toBe("https://api.telemetryflow.id:4317");
    expect(s.resource).toEqual({
      "service.name": "telemetryflow-python-mcp",
      "service.version": "9.9.9",
      "service.namespace": "telemetryflow",
      "deployment.environment": "production",
      "deployment.environment.name": "production",
      "mcp.server": "telemetryflow-mcp",
      "mcp.protocol": "2024-11-05",
    });
    expect(s.batch).toEqual({ delayMs: 5000, maxSize: 512, maxQueue: 2048 });
    expect(s.retry).toEqual({ enabled: true, maxRetries: 3, backoffMs: 500 });
    expect(s.compression).toBe(true);
    expect(s.timeoutMs).toBe(30_000);
  });
});

describe("settings: OTEL_* variables fill what the config leaves at its defaults", () => {
  test("an OTEL endpoint alone: OpenTelemetry's default protocol (http/protobuf) and the scheme it names", () => {
    const s = settingsOf({ enabled: true }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318", OTEL_SERVICE_NAME: "svc" });
    expect([s.protocol, s.urls.logs, s.resource["service.name"]]).toEqual(["http/protobuf", "http://otel:4318/v1/logs", "svc"]);
    expect(s.fromEnv).toEqual(["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"]);
  });

  test("OTEL_EXPORTER_OTLP_PROTOCOL picks grpc or http/json", () => {
    expect(settingsOf({ enabled: true }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).protocol).toBe("grpc");
    expect(settingsOf({ enabled: true, protocol: "http" }, { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }).protocol).toBe("http/json");
    // An explicit telemetry.protocol: http is not turned into grpc.
    expect(settingsOf({ enabled: true, protocol: "http" }, { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).protocol).toBe("http/protobuf");
  });

  test("explicit telemetry keys win over OTEL_*", () => {
    const s = settingsOf({ enabled: true, endpoint: "mine:4317", insecure: true, service_name: "mine" }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318", OTEL_SERVICE_NAME: "theirs" });
    expect([s.urls.traces, s.protocol, s.resource["service.name"]]).toEqual(["http://mine:4317", "grpc", "mine"]);
    expect(s.fromEnv).toEqual([]);
  });

  test("a bad OTEL_EXPORTER_OTLP_PROTOCOL is a problem that names the variable and the accepted values", () => {
    const r = telemetrySettings(configWith({ enabled: true }), { OTEL_EXPORTER_OTLP_PROTOCOL: "udp" }, "1");
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]!.message).toContain("OTEL_EXPORTER_OTLP_PROTOCOL is \"udp\"; accepted: grpc, http/protobuf, http/json");
  });

  test("headers: TelemetryFlow's exactly, OTEL_EXPORTER_OTLP_HEADERS beside them, TelemetryFlow's win a clash", () => {
    const s = settingsOf({ enabled: true, api_key_id: "tfk_id", api_key_secret: "tfs_secret" }, { OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=acme,authorization=Basic%20abc" });
    expect(s.headers).toEqual({ "x-tenant": "acme", Authorization: "Bearer tfk_id:tfs_secret", "X-TelemetryFlow-Key-ID": "tfk_id", "X-TelemetryFlow-Key-Secret": "tfs_secret" });
    expect(s.auth).toBe("telemetryflow key id + secret");
    expect(settingsOf({ enabled: true, api_key: "k123" }).headers).toEqual({ Authorization: "Bearer k123" });
    expect(parseKeyValueList("a=1, b = x%3Dy ,bad,=v")).toEqual({ a: "1", b: "x=y" });
  });

  test("the description for people names the destination and never a key", () => {
    const s = settingsOf({ enabled: true, api_key_id: "tfk_id", api_key_secret: "tfs_secret", endpoint: "https://u:pw@gw:4318", protocol: "http" });
    const text = describeTelemetry(s);
    expect(text).toBe("OTLP http/protobuf to https://u:********@gw:4318/v1/{traces,metrics,logs} (traces, metrics, logs; auth: telemetryflow key id + secret)");
    expect(describeTelemetry(settingsOf({}))).toBe("off");
  });
});

describe("telemetry keys: wrong prefixes stop start-up, naming the key and never its value", () => {
  test.each([
    [{ api_key_id: "tfk_a", api_key_secret: "tfs_b" }, []],
    [{ api_key_id: "abc", api_key_secret: "tfs_b" }, ["telemetry.api_key_id"]],
    [{ api_key_id: "tfk_a", api_key_secret: "tfk_b" }, ["telemetry.api_key_secret"]],
    [{ api_key_id: "tfk_a" }, ["telemetry.api_key_secret"]],
    [{}, []],
  ])("%j → %j", (keys, paths) => {
    const problems = telemetryKeyProblems(configWith({ enabled: true, ...keys }));
    expect(problems.map((p) => p.path)).toEqual(paths);
    for (const p of problems) for (const value of Object.values(keys)) expect(p.message).not.toContain(value);
  });

  test("with telemetry off the keys are not used, so not checked", () => {
    expect(telemetryKeyProblems(configWith({ enabled: false, api_key_id: "abc" }))).toEqual([]);
  });
});

describe("tallies", () => {
  test("counters per series, histograms into the seconds buckets, overflow past the series limit", () => {
    const t = createTallies([0.1, 1], 2);
    const labels = (name: string) => () => ({ "tool.name": name });
    t.add(METRICS.toolCalls, "echo", labels("echo"));
    t.add(METRICS.toolCalls, "echo", labels("echo"));
    t.add(METRICS.toolCalls, "read", labels("read"));
    t.add(METRICS.toolCalls, "write", labels("write"));
    for (const x of [0.05, 0.1, 0.5, 3]) t.record(METRICS.toolDuration, "echo", labels("echo"), x);
    const snap = t.snapshot();
    expect(snap.find((m) => m.spec === METRICS.toolCalls)!.sums).toEqual([
      { labels: { "tool.name": "echo" }, value: 2 },
      { labels: { "tool.name": "read" }, value: 1 },
      { labels: { "otel.metric.overflow": "true" }, value: 1 },
    ]);
    expect(snap.find((m) => m.spec === METRICS.toolDuration)!.histograms).toEqual([{ labels: { "tool.name": "echo" }, counts: [2, 1, 1], sum: 3.65, count: 4, min: 0.05, max: 3 }]);
  });
});

describe("rate limit", () => {
  test("a burst of rate_limit, then the refill rate; what is refused is counted", () => {
    let now = 0;
    // 100 a second, in bursts of a tenth of a second's worth (10).
    const b = tokenBucket(100, () => now);
    const burst = Array.from({ length: 12 }, () => b.take()).filter(Boolean).length;
    expect([burst, b.dropped()]).toEqual([10, 2]);
    now += 30;
    expect(Array.from({ length: 5 }, () => b.take()).filter(Boolean).length).toBe(3);
    now += 10_000;
    expect(Array.from({ length: 20 }, () => b.take()).filter(Boolean).length).toBe(10);
    // Sustained: one second of steady takes lets 100 through.
    let through = 0;
    for (let i = 0; i < 1000; i++) {
      now += 1;
      if (b.take()) through++;
    }
    expect(through).toBeGreaterThanOrEqual(99);
    expect(through).toBeLessThanOrEqual(101);
    const unlimited = tokenBucket(0);
    expect(Array.from({ length: 1000 }, () => unlimited.take()).every(Boolean)).toBe(true);
  });
});

describe("retry policy", () => {
  const retryable: ExportResponse = { status: "retryable", error: new Error("503") };
  const unavailable: ExportResponse = { status: "failure", error: Object.assign(new Error("14 UNAVAILABLE"), { code: 14 }) };
  const success: ExportResponse = { status: "success" };
  const scripted = (answers: ExportResponse[]) => {
    const sent: number[] = [];
    return { sent, transport: { send: async (_d: Uint8Array, timeout: number) => (sent.push(timeout), answers.shift() ?? success), shutdown() {} } };
  };

  test.each([
    [retryable, true],
    [unavailable, true],
    [{ status: "failure", error: Object.assign(new Error("3 INVALID_ARGUMENT"), { code: 3 }) } as ExportResponse, false],
    [{ status: "failure", error: new Error("400") } as ExportResponse, false],
    [success, false],
  ])("%j retryable: %s", (response, expected) => expect(isRetryable(response)).toBe(expected));

  test("retries up to max_retries with doubling delays, and stops at the first success", async () => {
    const waits: number[] = [];
    const s = scripted([retryable, unavailable, success]);
    const t = retryingTransport(s.transport, { enabled: true, maxRetries: 3, backoffMs: 100 }, async (ms) => void waits.push(ms));
    expect((await t.send(new Uint8Array(), 60_000)).status).toBe("success");
    expect(s.sent).toHaveLength(3);
    expect(waits[0]).toBeGreaterThanOrEqual(80);
    expect(waits[0]).toBeLessThanOrEqual(120);
    expect(waits[1]).toBeGreaterThanOrEqual(160);
    expect(waits[1]).toBeLessThanOrEqual(240);
  });

  test("the collector's Retry-After wins; max_retries, retry_enabled and the timeout bound the attempts", async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    let s = scripted([{ status: "retryable", retryInMillis: 1234 }, success]);
    await retryingTransport(s.transport, { enabled: true, maxRetries: 3, backoffMs: 100 }, sleep).send(new Uint8Array(), 60_000);
    expect(waits).toEqual([1234]);
    s = scripted([retryable, retryable, retryable, retryable]);
    expect((await retryingTransport(s.transport, { enabled: true, maxRetries: 2, backoffMs: 1 }, sleep).send(new Uint8Array(), 60_000)).status).toBe("retryable");
    expect(s.sent).toHaveLength(3);
    s = scripted([retryable, success]);
    await retryingTransport(s.transport, { enabled: false, maxRetries: 5, backoffMs: 1 }, sleep).send(new Uint8Array(), 60_000);
    expect(s.sent).toHaveLength(1);
    s = scripted([{ status: "retryable", retryInMillis: 5000 }, success]);
    await retryingTransport(s.transport, { enabled: true, maxRetries: 5, backoffMs: 1 }, sleep).send(new Uint8Array(), 1000);
    expect(s.sent).toHaveLength(1);
  });

  test("backoff: doubling from retry_backoff_ms, ±20 %, capped at 30 s", () => {
    const p = { enabled: true, maxRetries: 10, backoffMs: 500 };
    expect([1, 2, 3].map((n) => backoffDelay(p, n, () => 0.5))).toEqual([500, 1000, 2000]);
    expect(backoffDelay(p, 1, () => 0)).toBe(400);
    expect(backoffDelay(p, 1, () => 1)).toBe(600);
    expect(backoffDelay(p, 20, () => 0.5)).toBe(30_000);
  });
});

describe("teeLogger", () => {
  test("what the logger keeps at its level also goes to the sink; below the level nothing does", () => {
    const lines: string[] = [];
    const records: unknown[] = [];
    const base = createLogger({ level: "info", format: "json", output: "stderr", write: (l) => lines.push(l) });
    const log = teeLogger(base, { level: "info", sink: (r) => records.push(r) });
    log.debug("quiet");
    log.info("tool call", { tool: "echo" });
    log.warn("careful");
    expect(lines).toHaveLength(2);
    expect(records).toEqual([
      { level: "info", message: "tool call", attributes: { tool: "echo" } },
      { level: "warn", message: "careful", attributes: undefined },
    ]);
  });
});
