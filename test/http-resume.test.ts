// Streamable HTTP on the compiled binary: a client whose stream is cut mid-call resumes
// with Last-Event-ID and loses no progress notification (the session's event store), and
// a key gets at most http.max_concurrent_calls_per_key calls in flight across its sessions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { sessionEvents } from "../src/server/http-events.ts";
import { listToolsFirst, textOf } from "./helpers/client.ts";
import { connectHttp, type HttpBinary, openSession, serveHttpBinary } from "./helpers/http-server.ts";
import { until } from "./helpers/wait.ts";

const E2E_MS = 30_000;

describe("a cut stream resumes with Last-Event-ID", () => {
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary();
  });
  afterAll(() => s.stop());

  test(
    "no progress notification of execute_command is lost",
    async () => {
      let cut = false;
      const resumes: { lastEventId: string; status: number }[] = [];
      // The test's fetch cuts the tools/call stream (the connection, not only the reader) right after the first progress event.
      const cuttingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const res = await fetch(input, init);
        const lastEventId = new Headers(init?.headers).get("last-event-id");
        if (init?.method === "GET" && lastEventId) resumes.push({ lastEventId, status: res.status });
        if (cut || init?.method !== "POST" || typeof init.body !== "string" || !init.body.includes('"tools/call"') || !res.body) return res;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let text = "";
        let cutNext = false;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            // Erroring in the same pull as the enqueue would discard the chunk: cut on the next one.
            if (cutNext) {
              cut = true;
              await reader.cancel();
              controller.error(new Error("stream cut by the test"));
              return;
            }
            const { done, value } = await reader.read();
            if (done) return controller.close();
            controller.enqueue(value);
            text += decoder.decode(value, { stream: true });
            if (/"progress":1\b/.test(text)) cutNext = true;
          },
        });
        return new Response(body, { status: res.status, headers: res.headers });
      };
      const client = new Client({ name: "resume-e2e", version: "1" });
      // Away long enough for progress 2 and 3 to be sent while nobody listens.
      const transport = new StreamableHTTPClientTransport(new URL(s.url), {
        fetch: cuttingFetch,
        reconnectionOptions: { initialReconnectionDelay: 2500, maxReconnectionDelay: 2500, reconnectionDelayGrowFactor: 1, maxRetries: 2 },
      });
      await client.connect(transport);
      await listToolsFirst(client);
      const progress: number[] = [];
      const r = await client.callTool({ name: "execute_command", arguments: { command: "sleep 5.5; echo finished" } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
        timeout: 20_000,
      });
      expect(cut).toBe(true);
      expect(resumes).toHaveLength(1);
      expect(resumes[0]!.status).toBe(200);
      expect(textOf(r)).toContain("finished");
      expect(progress).toEqual([1, 2, 3, 4, 5]);
      await client.close();
    },
    E2E_MS,
  );

  test("a Last-Event-ID the session does not hold is refused with the reason, not replayed with a gap", async () => {
    const { headers } = await openSession(s.url);
    const res = await fetch(s.url, { headers: { ...headers, accept: "text/event-stream", "last-event-id": "made-up.12345" } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("cannot be resumed");
  });
});

describe("http.max_concurrent_calls_per_key", () => {
  const KEY = "concurrency-test-key-0123456789";
  const OTHER = "concurrency-other-key-0123456789";
  let s: HttpBinary;
  beforeAll(async () => {
    s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY, OTHER]), TELEMETRYFLOW_MCP_HTTP__MAX_CONCURRENT_CALLS_PER_KEY: "2" } });
  });
  afterAll(() => s.stop());

  const callBody = (id: number, command: string) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "execute_command", arguments: { command } } });

  test(
    "a third call of one key across its sessions gets 429 with Retry-After; another key's call and a later one go through",
    async () => {
      const a = await connectHttp(s.url, { Authorization: `Bearer ${KEY}` });
      const b = await connectHttp(s.url, { Authorization: `Bearer ${KEY}` });
      const marker = `${s.dir}/started`;
      // Two calls, one per session, still running while the third is tried.
      const running = [a, b].map(({ client }, i) => client.callTool({ name: "execute_command", arguments: { command: `touch ${marker}${i}; sleep 3; echo slow` } }));
      expect(await until(async () => (await Bun.file(`${marker}0`).exists()) && (await Bun.file(`${marker}1`).exists()), 10_000)).toBe(true);

      const third = await openSession(s.url, { Authorization: `Bearer ${KEY}` });
      const refused = await fetch(s.url, { method: "POST", headers: third.headers, body: callBody(7, "echo third") });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("http.max_concurrent_calls_per_key");

      const other = await connectHttp(s.url, { Authorization: `Bearer ${OTHER}` });
      expect(textOf(await other.client.callTool({ name: "echo", arguments: { message: "other key" } }))).toBe("Echo: other key");

      for (const r of await Promise.all(running)) expect(textOf(r)).toContain("slow");
      // Answered calls give their places back.
      const again = await fetch(s.url, { method: "POST", headers: third.headers, body: callBody(8, "echo again") });
      expect(again.status).toBe(200);
      expect(await again.text()).toContain("again");
      for (const c of [a, b, other]) await c.client.close();
    },
    E2E_MS,
  );
});

describe("a session's event store", () => {
  const note = (n: number) => ({ jsonrpc: "2.0" as const, method: "notifications/progress", params: { progressToken: 1, progress: n } });
  const replayed = async (store: ReturnType<typeof sessionEvents>, after: string) => {
    const out: number[] = [];
    await store.replayEventsAfter(after, { send: async (_id, m) => void out.push((m as ReturnType<typeof note>).params.progress) });
    return out;
  };

  test("keeps the last maxEvents: a resume from before them is refused, one within them gets every later event of its stream", async () => {
    const store = sessionEvents({ maxEvents: 3, maxBytes: 1 << 20 });
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await store.storeEvent(n % 2 === 0 ? "a" : "b", note(n)));
    expect(store.size).toBe(3);
    expect(store.canResume(ids[0]!)).toBe(false);
    expect(await store.getStreamIdForEventId!(ids[0]!)).toBeUndefined();
    // ids[1] itself is gone, but everything after it is kept.
    expect(store.canResume(ids[1]!)).toBe(true);
    expect(await replayed(store, ids[2]!)).toEqual([4]);
    expect(await replayed(store, ids[1]!)).toEqual([3]);
  });

  test("keeps at most maxBytes: the oldest go first, and an event larger than the whole budget breaks resumes across it", async () => {
    const size = JSON.stringify(note(0)).length;
    const store = sessionEvents({ maxEvents: 1000, maxBytes: size * 2 });
    const ids = [];
    for (let n = 0; n < 4; n++) ids.push(await store.storeEvent("a", note(n)));
    expect(store.size).toBe(2);
    expect(store.bytes).toBeLessThanOrEqual(size * 2);
    expect(await replayed(store, ids[1]!)).toEqual([2, 3]);
    const huge = await store.storeEvent("a", { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x".repeat(size * 3) } });
    expect(store.canResume(ids[3]!)).toBe(false);
    expect(store.canResume(huge)).toBe(true);
  });
});
