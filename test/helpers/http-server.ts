// The compiled binary serving http on a free port, and the few raw-socket requests that
// fetch cannot make (a forged Host, a body that trickles in).
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Subprocess } from "bun";
import { binary, cleanEnv } from "./binary.ts";
import { listToolsFirst } from "./client.ts";
import { tempDir } from "./tmp.ts";
import { until } from "./wait.ts";

export type HttpBinary = {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  /** http://127.0.0.1:PORT/mcp */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  dir: string;
  stderr(): string;
  /** resident memory of the server process, MB */
  rssMb(): number;
  stop(): Promise<number>;
};

/** Starts `serve --transport http --port 0` and waits until it says where it listens. */
export async function serveHttpBinary(opts: { env?: Record<string, string>; args?: string[]; cwd?: string } = {}): Promise<HttpBinary> {
  const dir = tempDir("tfo-http-");
  const proc = Bun.spawn([await binary(), "serve", "--transport", "http", "--port", "0", ...(opts.args ?? [])], {
    cwd: opts.cwd ?? dir.path,
    env: cleanEnv({ TELEMETRYFLOW_MCP_STORAGE__URL: "memory:", ...opts.env }),
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let text = "";
  // Read stderr to the end, or a chatty server would block on a full pipe.
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk);
  })();
  const seen = await until(() => /at (http:\/\/\S+\/mcp)/.test(text) || proc.exitCode !== null, 15_000);
  const url = /at (http:\/\/\S+\/mcp)/.exec(text)?.[1];
  if (!seen || !url) {
    proc.kill();
    dir.cleanup();
    throw new Error(`the server never said where it listens:\n${text}`);
  }
  const port = Number(new URL(url).port);
  return {
    proc,
    url,
    origin: new URL(url).origin,
    port,
    dir: dir.path,
    stderr: () => text,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1]) / 1024,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const code = await proc.exited;
      dir.cleanup();
      return code;
    },
  };
}

/** An SDK client over Streamable HTTP, tools listed first. */
export async function connectHttp(url: string, headers: Record<string, string> = {}, name = "http-e2e"): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  await listToolsFirst(client);
  return { client, transport };
}

export const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

export const initializeBody = (name = "raw") =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name, version: "1" } } });

/** Opens a session with raw requests (initialize + initialized); its headers for later requests. */
export async function openSession(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string> }> {
  const init = await fetch(url, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body: initializeBody() });
  await init.text();
  const id = init.headers.get("mcp-session-id");
  const session = { ...MCP_HEADERS, ...headers, "mcp-protocol-version": "2025-06-18", ...(id ? { "mcp-session-id": id } : {}) };
  if (id) await (await fetch(url, { method: "POST", headers: session, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
  return { status: init.status, headers: session };
}

/**
 * Writes `head` (the request line and headers, without the blank line) and then `body`
 * one chunk every `everyMs`; resolves with what came back and when the connection closed,
 * or `closed: false` after `timeoutMs`.
 */
export function rawRequest(port: number, head: string, opts: { body?: string[]; everyMs?: number; timeoutMs?: number } = {}): Promise<{ response: string; closed: boolean; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    let response = "";
    let drip: ReturnType<typeof setInterval> | undefined;
    const socket = connect(port, "127.0.0.1");
    const finish = (closed: boolean) => {
      clearInterval(drip);
      clearTimeout(limit);
      socket.destroy();
      resolve({ response, closed, ms: performance.now() - started });
    };
    const limit = setTimeout(() => finish(false), opts.timeoutMs ?? 5000);
    socket.on("connect", () => {
      socket.write(`${head}\r\n\r\n`);
      const chunks = [...(opts.body ?? [])];
      drip = setInterval(() => {
        const next = chunks.shift();
        if (next !== undefined && !socket.destroyed) socket.write(next);
      }, opts.everyMs ?? 0);
    });
    socket.on("data", (d) => {
      response += d.toString();
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}
