// claude_conversation through the binary against a local server speaking the Messages API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { writeFileSync } from "node:fs";
import { connectBinary, resourceText, textOf, type Connected } from "./helpers/client.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const KEY = "sk-ant-test-key-never-logged";
const dir = tempDir("tfo-claude-");
const fake = startFakeAnthropic();
let c: Connected;
const ask = (args: Record<string, unknown>, options?: Parameters<Client["callTool"]>[2]) =>
  c.client.callTool({ name: "claude_conversation", arguments: args }, undefined, options);

beforeAll(async () => {
  c = await connectBinary({
    cwd: dir.path,
    env: { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: fake.url, TELEMETRYFLOW_MCP_CLAUDE__TIMEOUT: "2" },
    // The server logs the client's name and version: here they carry the key, so the log has a
    // line the key would reach if redaction failed.
    client: new Client({ name: `client-${KEY}`, version: `1.0.0+${KEY}` }),
  });
});
afterAll(async () => {
  await c.close();
  fake.stop();
  dir.cleanup();
});

describe("claude_conversation with an API key", () => {
  test("a reply with model, usage and stop reason; arguments reach the API", async () => {
    const before = fake.requests.length;
    const r = await ask({ message: "hello", model: "haiku", system_prompt: "be brief", max_tokens: 50, temperature: 0.2 });
    expect(textOf(r)).toBe("You said: hello");
    expect(r.structuredContent).toBeUndefined();
    expect(r._meta).toMatchObject({ model: "claude-haiku-5-5", stop_reason: "end_turn", via: "api" });
    expect((r._meta as { usage: { output_tokens: number } }).usage.output_tokens).toBe(15);
    const sent = fake.requests[before]!;
    expect(sent.body).toMatchObject({ model: "claude-haiku-5-5", system: "be brief", max_tokens: 50, temperature: 0.2, stream: true });
    expect(sent.body.messages).toEqual([{ role: "user", content: "hello" }]);
    expect(sent.headers["x-api-key"] ?? sent.headers.authorization?.replace(/^Bearer /, "")).toBe(KEY);
  });
  test("defaults: claude.default_model and claude.max_tokens", async () => {
    const before = fake.requests.length;
    await ask({ message: "x" });
    expect(fake.requests[before]!.body).toMatchObject({ model: "claude-sonnet-5-5", max_tokens: 4096 });
  });
  test("progress notifications while the reply streams", async () => {
    fake.queue({ kind: "reply", text: "a fairly long streamed answer", chunks: 4, delayMs: 20 });
    const progress: number[] = [];
    const r = await ask({ message: "stream" }, { onprogress: (p) => progress.push(p.progress) });
    expect(textOf(r)).toBe("a fairly long streamed answer");
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });
  test("429 and 529 are retried, honouring retry-after", async () => {
    const before = fake.requests.length;
    fake.queue({ kind: "status", status: 429, retryAfterMs: 100 }, { kind: "status", status: 529, retryAfterMs: 100 });
    const r = await ask({ message: "retry me" });
    expect(textOf(r)).toBe("You said: retry me");
    expect(fake.requests.length - before).toBe(3);
    // Each retry waited what the server asked (100 ms), not the SDK's own backoff: its first
    // wait is 375-500 ms, its second 750-1000 ms.
    const arrivals = fake.requests.slice(before).map((q) => q.at);
    for (let i = 1; i < arrivals.length; i++) {
      expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(99);
      expect(arrivals[i]! - arrivals[i - 1]!).toBeLessThan(375);
    }
  });
  test.each([
    [{ kind: "status", status: 401 } as const, "Claude API refused the API key (401); check ANTHROPIC_API_KEY or claude.api_key."],
    [{ kind: "status", status: 400, message: "max_tokens: too large" } as const, "Claude API rejected the request: max_tokens: too large."],
    [{ kind: "status", status: 404, message: "model: nope" } as const, "Claude API: not found (404): model: nope; check the model name and claude.base_url."],
  ])("errors say what happened: %p", async (step, message) => {
    fake.queue(step);
    const r = await ask({ message: "x" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(message);
  });
  test("5xx after every retry is reported as such", async () => {
    fake.queue(...Array.from({ length: 4 }, () => ({ kind: "status", status: 500, retryAfterMs: 5 }) as const));
    const r = await ask({ message: "x" });
    expect(textOf(r)).toBe("Claude API server error (500) after retries; try again shortly.");
  });
  test("an upstream error body that repeats the Authorization header does not carry the key to the client", async () => {
    fake.queue({ kind: "status", status: 400, message: `bad request; headers were authorization: Bearer ${KEY}, x-api-key: ${KEY}` });
    const r = await ask({ message: "x" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("Claude API rejected the request: bad request; headers were authorization: Bearer ***");
    expect(JSON.stringify(r)).not.toContain(KEY);
  });
  test("a file or a command output holding the key reaches the client with the key scrubbed", async () => {
    writeFileSync(`${dir.path}/.env`, `ANTHROPIC_API_KEY=${KEY}\nOTHER=1\n`);
    const read = await c.client.callTool({ name: "read_file", arguments: { path: ".env" } });
    expect(textOf(read)).toBe("ANTHROPIC_API_KEY=***\nOTHER=1\n");
    const run = await c.client.callTool({ name: "execute_command", arguments: { command: "cat .env" } });
    expect(JSON.stringify(run)).not.toContain(KEY);
    expect(JSON.stringify(await c.client.readResource({ uri: `file://${dir.path}/.env` }))).not.toContain(KEY);
  });
  test("a malformed body is an error result, not a crash", async () => {
    fake.queue({ kind: "malformed" });
    const r = await ask({ message: "x" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toStartWith("Claude API call failed");
  });
  test("an API that hangs is cut off by claude.timeout, on the first try and on the retry", async () => {
    // Its own server with a short claude.timeout and one retry: without the timeout the SDK
    // would wait 10 minutes; the retry's backoff (375-500 ms, no response to say otherwise) is real.
    const own = await connectBinary({
      cwd: dir.path,
      env: { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: fake.url, TELEMETRYFLOW_MCP_CLAUDE__TIMEOUT: "0.3", TELEMETRYFLOW_MCP_CLAUDE__MAX_RETRIES: "1" },
    });
    try {
      fake.queue({ kind: "hang" }, { kind: "hang" });
      const hungBefore = fake.hungCount();
      const started = performance.now();
      const r = await own.client.callTool({ name: "claude_conversation", arguments: { message: "x" } }, undefined, { timeout: 8000 });
      const elapsed = performance.now() - started;
      expect(textOf(r)).toContain("timed out");
      expect(fake.hungCount() - hungBefore).toBe(2);
      expect(elapsed).toBeGreaterThanOrEqual(2 * 300);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await own.close();
    }
  }, 10_000);
  test("cancelling the call aborts the HTTP request at once", async () => {
    fake.queue({ kind: "hang" });
    const hungBefore = fake.hungCount();
    const controller = new AbortController();
    const pending = ask({ message: "x" }, { signal: controller.signal });
    const abandonedBefore = fake.abandonedCount();
    await until(() => fake.hungCount() > hungBefore);
    controller.abort("user");
    await expect(pending).rejects.toThrow();
    // The client gives up at once whatever the server does; the HTTP request ending shows the server did too.
    expect(await until(() => fake.abandonedCount() > abandonedBefore, 1000)).toBe(true);
    // the server is still fine
    expect(textOf(await ask({ message: "after cancel" }))).toBe("You said: after cancel");
  });
  test("cancelling mid-stream stops the stream and records the turn as failed", async () => {
    fake.queue({ kind: "reply", text: "one two three four five six seven eight", chunks: 8, delayMs: 100 });
    const abandonedBefore = fake.abandonedCount();
    const controller = new AbortController();
    let progressSeen = 0;
    const message = `long story ${Date.now()}`;
    const pending = ask({ message }, {
      signal: controller.signal,
      onprogress: () => {
        if (++progressSeen === 1) controller.abort("user");
      },
    });
    await expect(pending).rejects.toThrow();
    expect(progressSeen).toBeGreaterThanOrEqual(1);
    // The stream stops before its end (8 chunks, 100 ms apart).
    expect(await until(() => fake.abandonedCount() > abandonedBefore, 1000)).toBe(true);
    // The cancelled call's result never reaches us; its conversation is found by its title.
    const turnOf = async () => {
      const ids = await c.client.complete({ ref: { type: "ref/resource", uri: "conversation://{id}" }, argument: { name: "id", value: "" } });
      for (const id of ids.completion.values) {
        const doc = JSON.parse(resourceText(await c.client.readResource({ uri: `conversation://${id}` })));
        if (doc.title === message) return doc.history[0] as { status: string; error: string | null };
      }
    };
    expect(await until(async () => (await turnOf())?.status === "failed", 2000, 20)).toBe(true);
    expect(await turnOf()).toMatchObject({ status: "failed", error: "Cancelled." });
  });
  test("an unknown model lists the accepted names", async () => {
    const r = await ask({ message: "x", model: "gpt-4" });
    expect(textOf(r)).toBe('Unknown model "gpt-4". Use an alias (opus, sonnet, haiku) or a Claude model id such as claude-sonnet-5-5.');
  });
  test("bad max_tokens and temperature are refused before any request", async () => {
    const before = fake.requests.length;
    expect(textOf(await ask({ message: "x", max_tokens: 0 }))).toContain("max_tokens");
    expect(textOf(await ask({ message: "x", temperature: 2 }))).toContain("temperature");
    expect(fake.requests.length).toBe(before);
  });
  test("the key never reaches the logs", () => {
    // The line that had the key in it is there, with the key replaced.
    const started = c
      .stderr()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((line) => line.event === "session started");
    expect(started).toMatchObject({ client: "client-***", client_version: "1.0.0+***" });
    expect(c.stderr()).not.toContain(KEY);
  });
});

describe("without an API key", () => {
  test("sampling through the client when it offers sampling", async () => {
    const client = new Client({ name: "sampler", version: "1" }, { capabilities: { sampling: {} } });
    const seen: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seen.push(req.params);
      return { model: "client-model", role: "assistant", content: { type: "text", text: "sampled answer" }, stopReason: "endTurn" };
    });
    const s = await connectBinary({ cwd: dir.path, client });
    const r = await s.client.callTool({ name: "claude_conversation", arguments: { message: "hi", system_prompt: "sys" } });
    expect(textOf(r)).toBe("sampled answer");
    expect(r._meta).toMatchObject({ via: "sampling", model: "client-model" });
    expect(seen[0]).toMatchObject({ systemPrompt: "sys", maxTokens: 4096, messages: [{ role: "user", content: { type: "text", text: "hi" } }] });
    await s.close();
  });
});
