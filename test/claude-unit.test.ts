// The Claude pieces in-process: model names, error wording, and the tool over a local Messages API.
import { afterAll, describe, expect, test } from "bun:test";
import { describeApiError } from "../src/claude/client.ts";
import { resolveModel } from "../src/claude/models.ts";
import { startFakeAnthropic } from "./helpers/fake-anthropic.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";

describe("resolveModel", () => {
  test.each([
    [undefined, "claude-sonnet-5-5"],
    ["", "claude-sonnet-5-5"],
    ["opus", "claude-opus-5-5"],
    ["HAIKU", "claude-haiku-5-5"],
    ["claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022"],
  ])("%p → %p", (input, want) => {
    expect(resolveModel(input, "claude-sonnet-5-5")).toEqual({ ok: true, model: want });
  });
  test("anything else is refused with the accepted names", () => {
    const r = resolveModel("llama", "claude-sonnet-5-5");
    expect(!r.ok && r.error).toContain("opus, sonnet, haiku");
  });
});

describe("describeApiError", () => {
  class APIUserAbortError extends Error {
    override name = "APIUserAbortError";
  }
  class APIConnectionTimeoutError extends Error {
    override name = "APIConnectionTimeoutError";
  }
  class APIConnectionError extends Error {
    override name = "APIConnectionError";
  }
  test.each([
    [new APIUserAbortError(), "Cancelled."],
    [new APIConnectionTimeoutError(), "timed out"],
    [new APIConnectionError(), "Cannot reach the Claude API"],
    [{ status: 403 }, "permission denied (403)"],
    [{ status: 413 }, "request too large (413)"],
    [{ status: 429 }, "rate limit reached (429)"],
    [{ status: 529 }, "overloaded (529)"],
    [{ status: 503 }, "server error (503)"],
    [new Error("weird"), "Claude API call failed: weird"],
  ])("%p", (error, want) => {
    expect(describeApiError(error)).toContain(want);
  });
});

describe("claude_conversation in-process", () => {
  const fake = startFakeAnthropic();
  const dir = tempDir();
  afterAll(() => {
    fake.stop();
    dir.cleanup();
  });
  test("reply, then an API error, then no key", async () => {
    const s = await inProcess({ roots: [dir.path], config: { claude: { api_key: "sk-ant-inproc", base_url: fake.url, max_retries: 0 } } });
    const ok = (await s.client.callTool({ name: "claude_conversation", arguments: { message: "ping" } })) as any;
    expect(ok.content[0].text).toBe("You said: ping");
    fake.queue({ kind: "status", status: 529 });
    const busy = (await s.client.callTool({ name: "claude_conversation", arguments: { message: "x" } })) as any;
    expect(busy.content[0].text).toBe("Claude API is overloaded (529) after retries; try again shortly.");
    await s.close();
    const none = await inProcess({ roots: [dir.path] });
    const r = (await none.client.callTool({ name: "claude_conversation", arguments: { message: "x" } })) as any;
    expect(r.content[0].text).toContain("ANTHROPIC_API_KEY");
    await none.close();
  });
});
