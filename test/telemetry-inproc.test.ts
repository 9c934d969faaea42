// Telemetry started in-process against our own OTLP receiver: the Claude request as a child
// span with GenAI attributes, log records redacted as the log lines are, the rate limit's
// drops counted, and the Prometheus text.
import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { chat } from "../src/claude/client.ts";
import { configSchema } from "../src/config/schema.ts";
import { createLogger, teeLogger } from "../src/log.ts";
import type { Telemetry } from "../src/telemetry/port.ts";
import { telemetrySettings } from "../src/telemetry/settings.ts";
import { startTelemetry } from "../src/telemetry/start.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { type Receiver, startHttpReceiver } from "./helpers/otlp-receiver.ts";

const session = { sessionId: "s-1", clientName: "inproc", clientVersion: "1", protocolVersion: "2025-06-18" };
const quiet = () => createLogger({ level: "silent", format: "json", output: "stderr", write: () => {} });
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function telemetryTo(receiver: Receiver | undefined, telemetry: Record<string, unknown>, secrets: string[] = []): Promise<Telemetry> {
  const config = v.parse(configSchema, { telemetry: { enabled: Boolean(receiver), endpoint: receiver?.url ?? "", protocol: "http", ...telemetry } });
  const s = telemetrySettings(config, {}, "0.0.1");
  if (!s.ok) throw new Error(JSON.stringify(s.problems));
  const t = await startTelemetry(s.settings, { log: quiet(), secrets, version: "0.0.1" });
  cleanup.push(() => t.shutdown(2000));
  return t;
}

async function receiver() {
  const r = await startHttpReceiver();
  cleanup.push(() => r.stop());
  return r;
}

test("the Claude request is a child of the tool's span, with model, token usage and retries (GenAI conventions)", async () => {
  const r = await receiver();
  const fake = startFakeAnthropic();
  cleanup.push(() => fake.stop());
  fake.queue({ kind: "status", status: 429 }, { kind: "reply", text: "hello there" });
  const t = await telemetryTo(r, {});
  const op = t.begin("tool", "claude_conversation", session);
  const reply = await chat(
    { apiKey: "sk-ant-test", baseUrl: fake.url, timeoutSeconds: 10, maxRetries: 2 },
    { model: "claude-test-1", messages: [{ role: "user", content: "hi" }], maxTokens: 100, temperature: 0.5 },
    { signal: new AbortController().signal, span: op.span },
  );
  op.end();
  expect(reply.text).toBe("hello there");
  await t.shutdown(5000);
  const tool = r.span("mcp.tools.execute.claude_conversation")!;
  const call = r.span("chat claude-test-1")!;
  expect(call).toBeDefined();
  expect([call.traceId, call.parentSpanId]).toEqual([tool.traceId, tool.spanId]);
  expect(call.kind).toBe(3); // CLIENT
  expect(call.attributes).toMatchObject({
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-test-1",
    "gen_ai.request.max_tokens": 100,
    "gen_ai.request.temperature": 0.5,
    "gen_ai.response.model": "claude-test-1",
    "gen_ai.response.finish_reasons": ["end_turn"],
    "gen_ai.usage.output_tokens": "hello there".length,
    "http.request.resend_count": 1,
    "server.address": "127.0.0.1",
  });
  expect(call.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
});

test("a failed Claude request ends its span with the status as error.type", async () => {
  const r = await receiver();
  const fake = startFakeAnthropic();
  cleanup.push(() => fake.stop());
  fake.queue({ kind: "status", status: 401 });
  const t = await telemetryTo(r, {});
  const op = t.begin("tool", "claude_conversation", session);
  await expect(chat({ apiKey: "sk-ant-test", baseUrl: fake.url, timeoutSeconds: 10, maxRetries: 0 }, { model: "claude-test-1", messages: [{ role: "user", content: "hi" }], maxTokens: 10 }, { signal: new AbortController().signal, span: op.span })).rejects.toThrow();
  op.end({ errorType: "tool_error" });
  await t.shutdown(5000);
  const call = r.span("chat claude-test-1")!;
  expect(call.status.code).toBe(2); // ERROR
  expect(call.attributes["error.type"]).toBe("401");
  expect(call.status.message).toContain("401");
});

test("log records go out redacted with the logger's secrets, at the logger's level", async () => {
  const r = await receiver();
  const secret = "sk-ant-verysecret-123";
  const t = await telemetryTo(r, {}, [secret]);
  const lines: string[] = [];
  const log = teeLogger(createLogger({ level: "info", format: "json", output: "stderr", secrets: [secret], write: (l) => lines.push(l) }), { level: "info", sink: t.log });
  log.warn(`upstream repeated ${secret}`, { detail: { header: `Bearer ${secret}` }, plain: secret, n: 3 });
  log.debug("not kept");
  await t.shutdown(5000);
  expect(lines.join("\n")).not.toContain(secret);
  expect(r.logs.map((l) => l.body)).toEqual(["upstream repeated ***"]);
  expect(r.logs[0]!.attributes).toEqual({ detail: '{"header":"Bearer ***"}', plain: "***", n: 3 });
  expect(r.logs[0]!.severityText).toBe("WARN");
});

test("over telemetry.rate_limit, spans are counted in mcp.telemetry.dropped instead of sent; metrics count every call", async () => {
  const r = await receiver();
  // 50 a second, in bursts of a tenth of a second's worth: 5 of a burst of 20 go out.
  const t = await telemetryTo(r, { rate_limit: 50 });
  for (let i = 0; i < 20; i++) t.begin("tool", "echo", session).end();
  await t.shutdown(5000);
  expect(r.spans.filter((s) => s.name === "mcp.tools.execute.echo")).toHaveLength(5);
  expect(r.point("mcp.telemetry.dropped", { signal: "traces", reason: "rate_limit" })?.value).toBe(15);
  expect(r.point("mcp.tools.calls", { "tool.name": "echo" })?.value).toBe(20);
  expect(r.point("mcp.tools.duration", { "tool.name": "echo" })?.count).toBe(20);
});

describe("Prometheus text (telemetry.prometheus), with no collector at all", () => {
  test("the same metrics under Prometheus names, with their labels", async () => {
    const t = await telemetryTo(undefined, { prometheus: true });
    t.begin("tool", "echo", session).end();
    t.begin("tool", "read_file", session).end({ errorType: "tool_error" });
    t.sessionEvent("initialized", session);
    const text = await t.prometheus!();
    expect(text).toMatch(/^mcp_tools_calls_total\{tool_name="echo",success="true",[^}]*\} 1$/m);
    expect(text).toMatch(/^mcp_tools_errors_total\{tool_name="read_file",success="false",error_type="tool_error",[^}]*\} 1$/m);
    expect(text).toMatch(/^mcp_tools_duration_count\{tool_name="echo",[^}]*\} 1$/m);
    expect(text).toMatch(/^mcp_server_sessions_active\{[^}]*\} 1$/m);
    expect(text).toContain('target_info{service_name="telemetryflow-python-mcp"');
  });
});
