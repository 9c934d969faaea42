// Connections that never become sessions (thousands that open and say nothing, a client
// that sends its request head a byte at a time), and limits reached over the SSE and
// WebSocket transports: the server keeps answering real clients and says which limit was hit
// (compiled binary, raw sockets and frames).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { type HttpBinary, openSession, serveHttpBinary } from "./helpers/http-server.ts";
import { until } from "./helpers/wait.ts";

let server: HttpBinary;
beforeAll(async () => {
  server = await serveHttpBinary({ args: ["--root", "/tmp"] });
});
afterAll(async () => {
  await server.stop();
});

test("2,000 silent connections and a slow-header client: real clients are served meanwhile, and the silent ones are closed", async () => {
  const rssBefore = server.rssMb();
  let closed = 0;
  const silent: Socket[] = [];
  for (let i = 0; i < 2000; i++) {
    silent.push(await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => void closed++ } }));
  }
  // A request head that never ends: one byte every 200 ms.
  let slowClosed = false;
  const slow = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => void (slowClosed = true) } });
  slow.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  const drip = setInterval(() => slow.write("X"), 200);

  const started = performance.now();
  const session = await openSession(server.url);
  expect(session.status).toBe(200);
  expect(performance.now() - started).toBeLessThan(2000);
  expect(server.rssMb() - rssBefore).toBeLessThan(40);

  // Nothing holds a socket that never sent a request: all are closed within the header timeout.
  expect(await until(() => closed === 2000, 30_000, 100)).toBe(true);
  expect(await until(() => slowClosed, 30_000, 100)).toBe(true);
  clearInterval(drip);
  for (const s of silent) s.end();
  // And the server is still there.
  expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
}, 60_000);

const KEY = "floods-test-key-0123456789abcdef";
const bearer = { authorization: `Bearer ${KEY}` };

test("over the SSE transport, posts past http.rate_limit get 429 with Retry-After, naming the limit", async () => {
  const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY]), TELEMETRYFLOW_MCP_HTTP__RATE_LIMIT: "5" }, args: ["--root", "/tmp"] });
  const abort = new AbortController();
  try {
    const res = await fetch(`${s.origin}/sse`, { headers: { accept: "text/event-stream", ...bearer }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /^data: (\S+)$/m.exec(text)![1]!;
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let id = 1; id <= 8; id++) {
      const r = await fetch(`${s.origin}${endpoint}`, { method: "POST", headers: { "content-type": "application/json", ...bearer }, body: JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }) });
      statuses.push(r.status);
      if (r.status === 429) refused ??= r;
      else await r.text();
    }
    // The GET took one of the five.
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429, 429, 429]);
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused!.text()).toContain("http.rate_limit");
  } finally {
    abort.abort();
    await s.stop();
  }
}, 30_000);

test("over WebSocket, calls past http.max_concurrent_calls_per_key get a JSON-RPC error naming the limit; the others are answered", async () => {
  const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY]), TELEMETRYFLOW_MCP_HTTP__MAX_CONCURRENT_CALLS_PER_KEY: "2" }, args: ["--root", "/tmp"] });
  const ws = new WebSocket(`${s.origin.replace(/^http/, "ws")}/ws`, { protocols: ["mcp"], headers: bearer } as unknown as string[]);
  const answers = new Map<number, { result?: unknown; error?: { code: number; message: string } }>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (typeof m.id === "number") answers.set(m.id, m);
  };
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "ws-raw", version: "1" } } });
    expect(await until(() => answers.has(1), 10_000)).toBe(true);
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    for (const id of [10, 11, 12]) send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "execute_command", arguments: { command: "sleep 0.5; echo done" } } });
    expect(await until(() => answers.has(10) && answers.has(11) && answers.has(12), 15_000)).toBe(true);
    expect(answers.get(12)!.error?.message).toContain("http.max_concurrent_calls_per_key");
    for (const id of [10, 11]) expect(JSON.stringify(answers.get(id)!.result)).toContain("done");
    // Their places are given back once answered.
    send({ jsonrpc: "2.0", id: 13, method: "tools/call", params: { name: "execute_command", arguments: { command: "echo again" } } });
    expect(await until(() => answers.has(13), 10_000)).toBe(true);
    expect(JSON.stringify(answers.get(13)!.result)).toContain("again");
  } finally {
    ws.close();
    await s.stop();
  }
}, 30_000);

