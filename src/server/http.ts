// Streamable HTTP transport for remote and multi-user use: POST/GET/DELETE /mcp, one MCP
// session (and one Server) per client, /healthz and /readyz for load balancers, and a
// drain on stop. The SDK's web-standard transport speaks the protocol; http-admission.ts
// decides who may speak before any body is read; tenants/session-scope.ts what a session
// may use (a tenant's roots, tools and conversations); this module keeps the sessions (each
// bound to its principal, capped, expiring when idle) and the calls in flight.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { Config } from "../config/schema.ts";
import type { Telemetry } from "../telemetry/port.ts";
import type { Logger } from "../log.ts";
import { prompts } from "../prompts/index.ts";
import { resources, resourceTemplates } from "../resources/index.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { type ServerScope, serverSession, tenantSession } from "../tenants/session-scope.ts";
import { tools } from "../tools/index.ts";
import type { Workspace } from "../workspace/resolve.ts";
import { connectServer } from "./connect.ts";
import { createServer } from "./create.ts";
import { httpExposureProblem } from "./exposure.ts";
import { collectWhenQuiet } from "./collect-when-quiet.ts";
import { type Admission, admission } from "./http-admission.ts";
import { readJsonBody } from "./http-body.ts";
import { keyDirectory } from "./http-keys.ts";
import { byteBudget } from "./http-limits.ts";
import { jsonError, watchResponse } from "./http-response.ts";
import { type Place, type SessionEntry, sessionTable } from "./http-sessions.ts";
import { sharedStore } from "./serve.ts";

export const MCP_PATH = "/mcp";

export type HttpServer = { url: string; stop(): Promise<void> };

type Live = { transport: WebStandardStreamableHTTPServerTransport; end: () => Promise<void>; why: string };
/** A request being served: its session (busy until the response is over) and the JSON-RPC ids it asked. */
type Pending = { entry?: SessionEntry<Live>; calls: (string | number)[] };

const requestIds = (body: unknown): (string | number)[] =>
  (Array.isArray(body) ? body : [body]).flatMap((m: { id?: unknown; method?: unknown } | null) =>
    typeof m?.method === "string" && (typeof m.id === "string" || typeof m.id === "number") ? [m.id] : [],
  );

const UNKNOWN_SESSION = "Unknown or expired session; send initialize again";
const READY_PROBE_MS = 2000;
const shuttingDown = () => jsonError(503, "The server is shutting down; connect again in a moment", { Connection: "close", "Retry-After": "5" });

export async function serveHttp(config: Config, log: Logger, workspace: Workspace, telemetry?: Telemetry): Promise<HttpServer | { error: string }> {
  const { host, port } = config.server;
  const h = config.http;
  const storage = sharedStore(config);
  const keys = keyDirectory(storage.open, log);
  const storeKeys = await keys.anyKeys().catch(() => false);
  // Keys from the store protect an exposed server as http.api_keys do: every request then needs one.
  const exposed = httpExposureProblem({ ...config, server: { ...config.server, transport: "http" } }, workspace.roots, storeKeys);
  if (exposed) {
    await storage.close();
    return { error: exposed };
  }
  const admit = admission(h, host, keys, log);
  const own: ServerScope = { config, workspace, tools, log, openStore: storage.open, telemetry };
  const bodyLimits = { maxBytes: h.max_body_bytes, timeoutMs: h.body_timeout * 1000, budget: byteBudget(4 * h.max_body_bytes) };
  const sessions = sessionTable<Live>({ maxTotal: h.max_sessions, maxPerPrincipal: h.max_sessions_per_key, idleMs: h.session_idle_timeout * 1000 });
  const endings = new Set<Promise<void>>();
  const openCalls = new Set<Pending>();
  const collector = collectWhenQuiet();
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  /** Every way a session ends (DELETE, expiry, the client's shutdown, stop) comes through the transport's onclose. */
  function forget(id: string | undefined, live: Live) {
    const entry = id === undefined ? undefined : sessions.remove(id);
    if (!entry) return;
    const ending = live.end().finally(() => endings.delete(ending));
    endings.add(ending);
    collector.soon();
    log.info("http session closed", { session: id, principal: entry.principal, why: live.why, sessions: sessions.size });
  }

  async function newSession(place: Place, tenant: ApiKey | undefined): Promise<Live> {
    const scope = tenant ? await tenantSession(own, tenant) : serverSession(own, place.principal);
    const { server, endSession } = createServer({ ...scope, resources, resourceTemplates, prompts });
    const live = { end: endSession, why: "ended by the client" } as Live;
    live.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id) => {
        sessions.add(id, place, live);
        log.info("http session opened", { session: id, principal: place.principal, sessions: sessions.size });
      },
    });
    // Set before connecting: the SDK's Protocol keeps it and calls it before its own.
    live.transport.onclose = () => forget(live.transport.sessionId, live);
    // The SDK's HTTP transport checks messages with its own schemas: keep its path.
    await connectServer(server, live.transport, { checked: false });
    return live;
  }

  const sweeper = setInterval(
    () => {
      for (const entry of sessions.idle()) {
        entry.value.why = `idle for http.session_idle_timeout (${h.session_idle_timeout} s)`;
        void entry.value.transport.close();
      }
    },
    Math.min(Math.max((h.session_idle_timeout * 1000) / 4, 100), 15_000),
  );

  async function readiness(): Promise<Response> {
    if (draining) return Response.json({ status: "draining" }, { status: 503 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const probe = storage.open().then((store) => store.counts());
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_PROBE_MS} ms`)), READY_PROBE_MS);
      });
      await Promise.race([probe, late]);
      return Response.json({ status: "ready" });
    } catch (error) {
      log.warn("readyz: storage unreachable", { error: (error as Error).message });
      return Response.json({ status: "unavailable", reason: "storage unreachable" }, { status: 503 });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the request's count as in flight (and its session's as busy) when its response is over. */
  function finishing(pending: Pending, res: Response, isGet: boolean): Response {
    const { entry } = pending;
    if (entry && pending.calls.length) openCalls.add(pending);
    const done = () => {
      openCalls.delete(pending);
      if (entry) sessions.closed(entry);
      if (--inFlight === 0) drained?.();
    };
    // A GET stream may have nothing to say for a long while: an SSE comment sends its headers now.
    return watchResponse(res, done, isGet && res.status === 200 ? ": stream open\n\n" : undefined);
  }

  /** Fills in `held`: the session the request is for (busy from then on) and the calls it makes. */
  async function mcp(req: Request, { principal, tenant }: Admission & { ok: true }, held: Pending): Promise<Response> {
    const sessionId = req.headers.get("mcp-session-id");
    if (sessionId !== null) {
      // Another principal's session is answered exactly as a made-up id is.
      const entry = sessions.get(sessionId, principal);
      if (!entry) return jsonError(404, UNKNOWN_SESSION);
      held.entry = entry;
      sessions.opened(entry);
      let parsedBody: unknown;
      if (req.method === "POST") {
        const read = await readJsonBody(req, bodyLimits);
        if (!read.ok) return read.response;
        parsedBody = read.body;
        held.calls = requestIds(parsedBody);
      }
      return entry.value.transport.handleRequest(req, parsedBody === undefined ? undefined : { parsedBody });
    }
    if (req.method !== "POST") return jsonError(400, "Send initialize (POST) first to open a session");
    const read = await readJsonBody(req, bodyLimits);
    if (!read.ok) return read.response;
    // Only an initialize opens a session; anything else without a session id is refused
    // before a Server is built for it.
    const first = Array.isArray(read.body) ? read.body[0] : read.body;
    if ((first as { method?: unknown } | null)?.method !== "initialize") return jsonError(400, "No mcp-session-id: send initialize first to open a session");
    const place = sessions.reserve(principal, tenant?.max_sessions ? { max: tenant.max_sessions, source: `API key ${tenant.name}'s --max-sessions` } : undefined);
    if ("status" in place) return jsonError(place.status, place.message);
    try {
      const live = await newSession(place, tenant);
      const res = await live.transport.handleRequest(req, { parsedBody: read.body });
      const entry = live.transport.sessionId === undefined ? undefined : sessions.get(live.transport.sessionId, principal);
      if (entry) {
        held.entry = entry;
        sessions.opened(entry);
      } else {
        // The SDK refused this initialize: no session came of it.
        sessions.release(place);
        void live.transport.close();
      }
      return res;
    } catch (error) {
      sessions.release(place);
      throw error;
    }
  }

  const http = Bun.serve({
    hostname: host,
    port,
    // Calls and GET streams may rightly stay quiet for long; slow bodies have their own
    // deadline (http.body_timeout) and Bun closes a connection whose headers take ~10 s.
    idleTimeout: 0,
    maxRequestBodySize: h.max_body_bytes,
    async fetch(req, srv) {
      const { pathname } = new URL(req.url);
      if (pathname === "/healthz") return Response.json({ status: "ok" });
      if (pathname === "/readyz") return readiness();
      // Prometheus text of the same metrics (telemetry.prometheus), behind the same keys as /mcp:
      // tool names and counts are the team's business.
      if (pathname === "/metrics" && req.method === "GET") {
        if (!telemetry?.prometheus) return jsonError(404, "Not found: set telemetry.prometheus: true to serve /metrics");
        const allowed = await admit(req, srv.requestIP(req)?.address ?? "");
        if (!allowed.ok) return allowed.response;
        return new Response(await telemetry.prometheus(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
      }
      if (pathname !== MCP_PATH) return jsonError(404, `Not found: MCP is served at ${MCP_PATH}`);
      if (draining) return shuttingDown();
      const admitted = await admit(req, srv.requestIP(req)?.address ?? "");
      if (!admitted.ok) return admitted.response;
      // Admission may have waited on the store: a stop that began meanwhile counts no calls of ours.
      if (draining) return shuttingDown();
      inFlight++;
      const held: Pending = { calls: [] };
      const res = await mcp(req, admitted, held).catch((error: Error) => {
        log.warn("http request failed", { error: error.message });
        return jsonError(500, "Internal error");
      });
      return finishing(held, res, req.method === "GET");
    },
  });
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${http.port}${MCP_PATH}`;
  log.info("serving on http", { url, roots: workspace.roots.join(","), auth: h.api_keys.length > 0 || storeKeys });

  return {
    url,
    /** Drains: new work is refused (and /readyz says so), calls in flight get up to http.drain_timeout to finish. */
    async stop() {
      if (!draining) {
        draining = true;
        // GET streams never end on their own; the clients reconnect elsewhere.
        for (const entry of sessions.all()) entry.value.transport.closeStandaloneSSEStream();
        if (inFlight > 0) {
          log.info("draining: waiting for calls in flight", { calls: inFlight, timeout_s: h.drain_timeout });
          let timer: ReturnType<typeof setTimeout> | undefined;
          const finished = await Promise.race([
            new Promise<boolean>((resolve) => {
              drained = () => resolve(true);
            }),
            new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(false), h.drain_timeout * 1000);
            }),
          ]);
          clearTimeout(timer);
          if (!finished) {
            log.warn("drain timeout: ending calls still in flight", { calls: inFlight, timeout_s: h.drain_timeout });
            // Each gets an error it can show, rather than a stream that just stops.
            const message = `The server is shutting down: the call was still running after http.drain_timeout (${h.drain_timeout} s)`;
            const answers = [...openCalls].flatMap(({ entry, calls }) =>
              calls.map((id) => entry!.value.transport.send({ jsonrpc: "2.0", id, error: { code: ErrorCode.ConnectionClosed, message } })),
            );
            await Promise.allSettled(answers);
          }
        }
      }
      clearInterval(sweeper);
      collector.cancel();
      for (const entry of sessions.all()) {
        entry.value.why = "server stopping";
        await entry.value.transport.close().catch(() => {});
      }
      await Promise.all(endings);
      await http.stop(true);
      await storage.close();
    },
  };
}
