// The 2024-11-05 HTTP+SSE transport (/sse + /messages) and WebSocket (/ws) beside
// Streamable HTTP on the compiled binary, each through the SDK's own client for it: the
// same keys, tenants, tool filters and progress on each, sessions bound to their key, and
// server.transport: sse | websocket selecting this server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { cleanEnv, runBinary } from "./helpers/binary.ts";
import { listToolsFirst, textOf } from "./helpers/client.ts";
import { type HttpBinary, serveHttpBinary } from "./helpers/http-server.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

const E2E_MS = 20_000;
type Kind = "streamable" | "sse" | "websocket";
const KINDS: Kind[] = ["sse", "websocket", "streamable"];

/**
 * The SDK's WebSocketClientTransport opens `new WebSocket(url, "mcp")`, with no way to add
 * headers; Bun's WebSocket takes them as an option, so the key rides as on the other two.
 */
function keyedWebSocket(headers: Record<string, string>): typeof WebSocket {
  const Base = globalThis.WebSocket;
  return class extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, { protocols, headers } as unknown as string[]);
    }
  } as typeof WebSocket;
}

function transportFor(kind: Kind, origin: string, headers: Record<string, string>): Transport {
  if (kind === "sse") return new SSEClientTransport(new URL(`${origin}/sse`), { requestInit: { headers } });
  if (kind === "streamable") return new StreamableHTTPClientTransport(new URL(`${origin}/mcp`), { requestInit: { headers } });
  return new WebSocketClientTransport(new URL(`${origin.replace(/^http/, "ws")}/ws`));
}

/** An SDK client over `kind`, tools listed first. */
async function connectOver(kind: Kind, origin: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: `${kind}-e2e`, version: "1" });
  const real = globalThis.WebSocket;
  if (kind === "websocket") globalThis.WebSocket = keyedWebSocket(headers);
  try {
    await client.connect(transportFor(kind, origin, headers));
  } finally {
    globalThis.WebSocket = real;
  }
  await listToolsFirst(client);
  return client;
}

/** The first event of a raw GET /sse: the endpoint to post to. */
async function sseEndpoint(origin: string, headers: Record<string, string>): Promise<{ endpoint: string; res: Response; stop: () => void }> {
  const abort = new AbortController();
  const res = await fetch(`${origin}/sse`, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  if (res.status !== 200) return { endpoint: "", res, stop: () => abort.abort() };
  const reader = res.body!.getReader();
  let text = "";
  while (!/\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  return { endpoint: /^event: endpoint\ndata: (\S+)$/m.exec(text)?.[1] ?? "", res, stop: () => abort.abort() };
}

describe("HTTP+SSE and WebSocket beside Streamable HTTP (compiled binary)", () => {
  const dir = tempDir("tfo-transports-");
  const data = join(dir.path, "data");
  const srv = join(dir.path, "srv");
  const db = `sqlite:${join(data, "tfo-mcp", "tfo-mcp.db")}`;
  const env = cleanEnv({ XDG_DATA_HOME: data });
  const keys: Record<string, string> = {};
  const clients: Client[] = [];
  let server: HttpBinary;

  async function addKey(name: string, ...args: string[]) {
    const r = await runBinary(["keys", "add", name, ...args], { env, cwd: dir.path });
    if (r.code !== 0) throw new Error(`keys add ${name}: ${r.stderr}`);
    keys[name] = /tfo_[\w-]{43}/.exec(r.stdout)![0];
  }
  const as = (name: string) => ({ authorization: `Bearer ${keys[name]}` });
  async function connectAs(kind: Kind, name: string) {
    const client = await connectOver(kind, server.origin, as(name));
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    mkdirSync(join(srv, "alice"), { recursive: true });
    writeFileSync(join(srv, "alice", "a.txt"), "alice's notes");
    await addKey("alice", "--root", join(srv, "alice"));
    await addKey("narrow", "--root", join(srv, "alice"), "--tools", "echo,read_file");
    server = await serveHttpBinary({ args: ["--root", srv], env: { XDG_DATA_HOME: data, TELEMETRYFLOW_MCP_STORAGE__URL: db } });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server?.stop();
    dir.cleanup();
  }, E2E_MS);

  describe.each(KINDS)("over %s", (kind) => {
    test("lists tools, calls echo, reads a file of the key's root", async () => {
      const client = await connectAs(kind, "alice");
      expect((await client.listTools()).tools).toHaveLength(9);
      expect(textOf(await client.callTool({ name: "echo", arguments: { message: `over ${kind}` } }))).toBe(`Echo: over ${kind}`);
      expect(textOf(await client.callTool({ name: "read_file", arguments: { path: "a.txt" } }))).toContain("alice's notes");
    }, E2E_MS);

    test("no key, or a wrong one, is refused", async () => {
      const wrong = `${keys.alice!.slice(0, -1)}${keys.alice!.endsWith("x") ? "y" : "x"}`;
      for (const headers of [{}, { authorization: `Bearer ${wrong}` }] as Record<string, string>[]) {
        await expect(connectOver(kind, server.origin, headers)).rejects.toThrow();
      }
    }, E2E_MS);

    test("a key's --tools list is what it sees and all it may call", async () => {
      const client = await connectAs(kind, "narrow");
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "read_file"]);
      await expect(client.callTool({ name: "execute_command", arguments: { command: "id" } })).rejects.toThrow(/Unknown tool/);
    }, E2E_MS);

    test("progress notifications arrive (execute_command)", async () => {
      const client = await connectAs(kind, "alice");
      const seen: string[] = [];
      const r = await client.callTool({ name: "execute_command", arguments: { command: "sleep 1.3; echo done" } }, undefined, { onprogress: (p) => seen.push(p.message ?? "") });
      expect(r.isError).toBeFalsy();
      expect(seen[0]).toMatch(/^running for 1 s, \d+ bytes of output so far$/);
    }, E2E_MS);
  });

  test("an SSE session is its key's: another key posting to it is answered as an unknown session", async () => {
    const opened = await sseEndpoint(server.origin, as("alice"));
    expect(opened.res.status).toBe(200);
    expect(opened.endpoint).toMatch(/^\/messages\?sessionId=[\w-]+$/);
    const post = (headers: Record<string, string>) =>
      fetch(`${server.origin}${opened.endpoint}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
    const stolen = await post(as("narrow"));
    expect(stolen.status).toBe(404);
    expect(await stolen.text()).toContain("Unknown or expired session");
    expect((await post(as("alice"))).status).toBe(202);
    opened.stop();
  }, E2E_MS);

  test("a WebSocket upgrade without the mcp subprotocol, or without a key, is refused before the upgrade", async () => {
    const url = `${server.origin}/ws`;
    const upgrade = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
    expect((await fetch(url, { headers: { ...upgrade, ...as("alice") } })).status).toBe(400);
    expect((await fetch(url, { headers: { ...upgrade, "sec-websocket-protocol": "mcp" } })).status).toBe(401);
  }, E2E_MS);
});

describe("server.transport: sse | websocket select the http server with all three endpoints", () => {
  test.each(["sse", "websocket"])("--transport %s", async (transport) => {
    // The helper passes --transport http first; the later flag is the one that counts.
    const s = await serveHttpBinary({ args: ["--transport", transport] });
    try {
      for (const kind of KINDS) {
        const client = await connectOver(kind, s.origin, {});
        expect(textOf(await client.callTool({ name: "echo", arguments: { message: kind } }))).toBe(`Echo: ${kind}`);
        await client.close();
      }
    } finally {
      await s.stop();
    }
  }, 30_000);
});

describe("one set of caps, and the same lifetime and drain, over every transport", () => {
  const KEY = "transports-test-key-0123456789";
  const bearer = { authorization: `Bearer ${KEY}` };

  test("sessions over SSE, WebSocket and /mcp count toward one cap per key; a closed stream or socket frees its place at once", async () => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY]), TELEMETRYFLOW_MCP_HTTP__MAX_SESSIONS_PER_KEY: "1" } });
    try {
      const first = await sseEndpoint(s.origin, bearer);
      expect(first.res.status).toBe(200);
      for (const kind of KINDS) await expect(connectOver(kind, s.origin, bearer)).rejects.toThrow();
      expect((await sseEndpoint(s.origin, bearer)).res.status).toBe(429);
      first.stop();
      // The stream was the session: its place is free as soon as the server sees it gone.
      let ws: Client | undefined;
      expect(await until(async () => Boolean((ws = await connectOver("websocket", s.origin, bearer).catch(() => undefined))), 5000, 50)).toBe(true);
      expect((await sseEndpoint(s.origin, bearer)).res.status).toBe(429);
      await ws!.close();
      let sse: Client | undefined;
      expect(await until(async () => Boolean((sse = await connectOver("sse", s.origin, bearer).catch(() => undefined))), 5000, 50)).toBe(true);
      await sse!.close();
    } finally {
      await s.stop();
    }
  }, 30_000);

  test.each(["sse", "websocket"] as Kind[])("SIGTERM: a call in flight over %s gets its answer, new sessions are refused, exit 0", async (kind) => {
    const s = await serveHttpBinary({ env: { TELEMETRYFLOW_MCP_HTTP__API_KEYS: JSON.stringify([KEY]) } });
    const client = await connectOver(kind, s.origin, bearer);
    const marker = join(s.dir, "started");
    const call = client.callTool({ name: "execute_command", arguments: { command: "touch started; sleep 1.5; echo answered" } });
    expect(await until(() => existsSync(marker), 10_000, 20)).toBe(true);
    s.proc.kill("SIGTERM");
    expect(await until(async () => (await fetch(`${s.origin}/readyz`).then((r) => r.status, () => 0)) === 503, 5000, 20)).toBe(true);
    expect((await fetch(`${s.origin}/sse`, { headers: bearer })).status).toBe(503);
    expect(JSON.parse(textOf(await call)).stdout.trim()).toBe("answered");
    expect(await s.stop()).toBe(0);
  }, 30_000);
});
