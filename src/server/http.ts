// Streamable HTTP transport for remote and multi-user use: POST/GET/DELETE /mcp, one MCP
// session (and one Server) per client, bearer keys, an Origin allow-list against DNS
// rebinding, and a per-client rate limit. The SDK's web-standard transport speaks the
// protocol; this module decides who may speak at all.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { prompts } from "../prompts/index.ts";
import { resources, resourceTemplates } from "../resources/index.ts";
import { tools } from "../tools/index.ts";
import type { Workspace } from "../workspace/resolve.ts";
import { connectServer } from "./connect.ts";
import { createServer } from "./create.ts";
import { httpExposureProblem, isLoopback } from "./exposure.ts";
import { sharedStore } from "./serve.ts";

export const MCP_PATH = "/mcp";
export { isLoopback };

/** Pure: may a browser page from `origin` talk to us? No Origin (a non-browser client) is fine. */
export function originAllowed(origin: string | null, allowed: string[], bindHost: string): boolean {
  if (origin === null) return true;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  // Served on loopback, pages from loopback origins are the user's own.
  if (isLoopback(bindHost)) {
    try {
      return isLoopback(new URL(origin).hostname.replace(/^\[|\]$/g, ""));
    } catch {
      return false;
    }
  }
  return false;
}

/** Compares without leaking, through timing, how much of a key matched. */
export function keyMatches(given: string, keys: string[]): boolean {
  let ok = false;
  for (const key of keys) {
    let diff = given.length ^ key.length;
    for (let i = 0; i < key.length; i++) diff |= key.charCodeAt(i) ^ given.charCodeAt(i % (given.length || 1));
    if (diff === 0) ok = true;
  }
  return ok;
}

/** A fixed one-minute window per client: `limit` requests, then 429 until the window turns. */
export function rateLimiter(limit: number, now = () => Date.now()) {
  const windows = new Map<string, { start: number; count: number }>();
  return (client: string): { ok: true } | { ok: false; retryAfterSeconds: number } => {
    if (limit <= 0) return { ok: true };
    const t = now();
    let w = windows.get(client);
    if (!w || t - w.start >= 60_000) {
      if (windows.size > 10_000) windows.clear();
      w = { start: t, count: 0 };
      windows.set(client, w);
    }
    if (++w.count <= limit) return { ok: true };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((w.start + 60_000 - t) / 1000)) };
  };
}

const jsonError = (status: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }, { status, headers });

export type HttpServer = { url: string; stop(): Promise<void> };

export async function serveHttp(config: Config, log: Logger, workspace: Workspace): Promise<HttpServer | { error: string }> {
  const { host, port } = config.server;
  const { api_keys: keys, allowed_origins: origins, rate_limit } = config.http;
  const exposed = httpExposureProblem({ ...config, server: { ...config.server, transport: "http" } }, workspace.roots);
  if (exposed) return { error: exposed };
  const storage = sharedStore(config);
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; end: () => Promise<void> }>();
  const limited = rateLimiter(rate_limit);

  async function newSession(): Promise<WebStandardStreamableHTTPServerTransport> {
    const { server, endSession } = createServer({ config, workspace, log, tools, resources, resourceTemplates, prompts, openStore: storage.open });
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, end: endSession });
        log.info("http session opened", { session: id, sessions: sessions.size });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
        void endSession();
        log.info("http session closed", { session: id, sessions: sessions.size });
      },
      maxRequestBodySize: 64 * 1024 * 1024,
    });
    // The SDK's HTTP transport checks messages with its own schemas: keep its path.
    await connectServer(server, transport, { checked: false });
    return transport;
  }

  const http = Bun.serve({
    hostname: host,
    port,
    idleTimeout: 0,
    maxRequestBodySize: 64 * 1024 * 1024,
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname !== MCP_PATH) return jsonError(404, `Not found: MCP is served at ${MCP_PATH}`);
      if (!originAllowed(req.headers.get("origin"), origins, host)) {
        return jsonError(403, `Origin ${req.headers.get("origin")} is not allowed (http.allowed_origins)`);
      }
      const auth = req.headers.get("authorization") ?? "";
      const key = auth.startsWith("Bearer ") ? auth.slice(7) : "";
      if (keys.length > 0 && !keyMatches(key, keys)) {
        return jsonError(401, "Missing or wrong bearer key (Authorization: Bearer <one of http.api_keys>)", { "WWW-Authenticate": "Bearer" });
      }
      const client = key || srv.requestIP(req)?.address || "unknown";
      const verdict = limited(client);
      if (!verdict.ok) {
        return jsonError(429, `Rate limit of ${rate_limit} requests per minute reached (http.rate_limit)`, { "Retry-After": String(verdict.retryAfterSeconds) });
      }
      const sessionId = req.headers.get("mcp-session-id");
      if (sessionId) {
        const session = sessions.get(sessionId);
        if (!session) return jsonError(404, "Unknown or expired session; send initialize again");
        return session.transport.handleRequest(req);
      }
      if (req.method !== "POST") return jsonError(400, "Send initialize (POST) first to open a session");
      // Only an initialize opens a session; anything else without a session id is refused
      // before a Server is built for it.
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        return Response.json({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the body is not JSON" } }, { status: 400 });
      }
      const first = Array.isArray(body) ? body[0] : body;
      if ((first as { method?: unknown } | null)?.method !== "initialize") {
        return jsonError(400, "No mcp-session-id: send initialize first to open a session");
      }
      const transport = await newSession();
      return transport.handleRequest(req, { parsedBody: body });
    },
  });
  log.info("serving on http", { url: `http://${host}:${http.port}${MCP_PATH}`, roots: workspace.roots.join(","), auth: keys.length > 0 });
  return {
    url: `http://${host}:${http.port}${MCP_PATH}`,
    async stop() {
      await http.stop(true);
      for (const [, session] of sessions) {
        await session.transport.close().catch(() => {});
        await session.end();
      }
      await storage.close();
    },
  };
}
