// The http server for remote and multi-user use: Streamable HTTP (POST/GET/DELETE /mcp), the
// 2024-11-05 HTTP+SSE transport (GET /sse + POST /messages, http-sse.ts) and WebSocket (/ws,
// http-ws.ts), one MCP session (and one Server) per client over any of them, /healthz and
// /readyz for load balancers, and a drain on stop. The SDK's web-standard transport speaks the protocol; http-admission.ts
// decides who may speak before any body is read; tenants/session-scope.ts what a session
// may use (a tenant's roots, tools and conversations); this module keeps the sessions (each
// bound to its principal, capped, expiring when idle) and the calls in flight. With
// cache.backend redis, src/shared/ makes the limits and counts per key hold across replicas
// and keeps each session's resumability events in Redis; while Redis is away, everything
// here goes on with this replica's own limits.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Server as BunServer, ServerWebSocket } from "bun";
import type { Config } from "../config/schema.ts";
import { type Activity, activityStates } from "../events/port.ts";
import type { Telemetry } from "../telemetry/port.ts";
import type { Logger } from "../log.ts";
import { prompts } from "../prompts/index.ts";
import { resources, resourceTemplates } from "../resources/index.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { type ServerScope, type SessionScope, serverSession, tenantSession } from "../tenants/session-scope.ts";
import { connectRedis, type SharedRedis } from "../shared/redis.ts";
import { redisSessionEvents } from "../shared/redis-events.ts";
import { BUCKETS, COUNT_ADMIT, COUNT_WRITE, HEARTBEAT_MS, type SharedCounts, sharedBuckets, sharedCounts } from "../shared/redis-limits.ts";
import { tools } from "../tools/index.ts";
import type { Workspace } from "../workspace/resolve.ts";
import { connectServer } from "./connect.ts";
import { createServer, type ServerDeps, serverKit } from "./create.ts";
import { httpExposureProblem } from "./exposure.ts";
import { collectWhenQuiet } from "./collect-when-quiet.ts";
import { type Admission, admission } from "./http-admission.ts";
import { readJsonBody } from "./http-body.ts";
import { keyDirectory } from "./http-keys.ts";
import { MAX_EVENT_BYTES, MAX_EVENTS, type SessionEvents, sessionEvents } from "./http-events.ts";
import { byteBudget, callCounts } from "./http-limits.ts";
import { jsonError, watchResponse } from "./http-response.ts";
import { type Place, type Refusal, type SessionEntry, sessionTable } from "./http-sessions.ts";
import { clientMessages, MESSAGES_PATH, SSE_PATH, type SseTransport, sseTransport } from "./http-sse.ts";
import { asksForMcp, WS_PATH, WS_SUBPROTOCOL, type WsTransport, wsTransport } from "./http-ws.ts";
import { PROTOCOL_TABLES, releaseEmptyTables, STREAMABLE_TABLES } from "./sdk-internals.ts";
import { replicaName, type SharedStore, sharedStore } from "./serve.ts";

export const MCP_PATH = "/mcp";

export type HttpServer = { url: string; stop(): Promise<void> };

type Kind = "streamable" | "sse" | "websocket";
/** The transport name on activity events, by how the session connected. */
const TRANSPORT_OF: Record<Kind, string> = { streamable: "http", sse: "sse", websocket: "websocket" };
type Live = {
  kind: Kind;
  server: Server;
  transport: Transport & { sessionId?: string };
  /** A Streamable HTTP session's transport: the one /mcp requests reach. */
  streamable?: WebStandardStreamableHTTPServerTransport;
  end: () => Promise<void>;
  why: string;
  // The two tables below exist while they hold something: a Map or Set that has held an entry
  // keeps ~250 B after it is emptied, and a thousand idle sessions would keep theirs.
  /** Calls in flight over a stream of our own (SSE, WebSocket), by JSON-RPC id: they end when the answer goes out. */
  calls?: Map<string | number, Pending>;
  /** Calls of any transport counted against the principal's http.max_concurrent_calls_per_key, until answered. */
  busy?: Set<string | number>;
  /** A Streamable HTTP session's events, for a client that resumes with Last-Event-ID. */
  events?: SessionEvents;
};
/** What an upgraded socket carries: who opened it, and its session once that is ready. */
type Socket = { place: Place; tenant?: ApiKey; url: string; headers: Headers; peer: string; ready?: Promise<SessionEntry<Live> | undefined>; chain: Promise<void>; gone: boolean };
/** A request being served: its session (busy until the response is over) and the JSON-RPC ids it asked. */
type Pending = { entry?: SessionEntry<Live>; calls: (string | number)[] };

const requestIds = (body: unknown): (string | number)[] =>
  (Array.isArray(body) ? body : [body]).flatMap((m: { id?: unknown; method?: unknown } | null) =>
    typeof m?.method === "string" && (typeof m.id === "string" || typeof m.id === "number") ? [m.id] : [],
  );

const UNKNOWN_SESSION = "Unknown or expired session; send initialize again";
const UNKNOWN_SSE_SESSION = `Unknown or expired session: open a new one with GET ${SSE_PATH} and post to the endpoint it names`;
const isAnswer = (m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number } => !("method" in m) && "id" in m;
const READY_PROBE_MS = 2000;
// Nothing tells when a call will end: a second is a fair first wait.
const CALLS_RETRY_AFTER = "1";
const shuttingDown = () => jsonError(503, "The server is shutting down; connect again in a moment", { Connection: "close", "Retry-After": "5" });

/** `storage`: the process's store if the caller opened it already (then closing it is the caller's); else one of its own, closed by `stop`. */
export async function serveHttp(
  config: Config,
  log: Logger,
  workspace: Workspace,
  telemetry?: Telemetry,
  activity?: Activity,
  opened?: SharedStore,
): Promise<HttpServer | { error: string }> {
  const storage = opened ?? sharedStore(config);
  const closeOwnStore = () => (opened ? Promise.resolve() : storage.close());
  const { host, port } = config.server;
  const h = config.http;
  const keys = keyDirectory(storage.open, log);
  const storeKeys = await keys.anyKeys().catch(() => false);
  // Keys from the store protect an exposed server as http.api_keys do: every request then needs one.
  const exposed = httpExposureProblem(config, workspace.roots, storeKeys);
  if (exposed) {
    await closeOwnStore();
    return { error: exposed };
  }
  let redis: SharedRedis | undefined;
  if (config.cache.backend === "redis") {
    const connected = await connectRedis({ url: config.cache.redis_url, log, scripts: [BUCKETS, COUNT_ADMIT, COUNT_WRITE] });
    if (!connected.ok) {
      await closeOwnStore();
      return { error: `cache.backend is redis, but ${connected.error}: start Redis, correct cache.redis_url, or set cache.backend: memory` };
    }
    redis = connected.redis;
  }
  const admit = admission(h, host, keys, log, redis && sharedBuckets(redis));
  const own: ServerScope = { config, workspace, tools, log, openStore: storage.open, telemetry };
  // Shared by every session with the server's own config and tools (a tenant with its own builds its own).
  const kit = serverKit({ config, tools, resources, resourceTemplates, prompts });
  // A principal of the server's own (an http.api_keys key, a peer) has the same scope and deps
  // for each of its sessions over one transport: kept while it holds any (its logger, store
  // view and deps were ~0.8 KB a session).
  const ownScopes = new Map<string, { scope: SessionScope; deps: Partial<Record<Kind, ServerDeps>> }>();
  const ownDeps = (principal: string, kind: Kind): ServerDeps => {
    let kept = ownScopes.get(principal);
    if (!kept) ownScopes.set(principal, (kept = { scope: serverSession(own, principal), deps: {} }));
    return (kept.deps[kind] ??= sessionDeps(kept.scope, undefined, kind));
  };
  /** Forgets the scopes of principals that hold no session and no place. */
  const pruneScopes = () => {
    for (const principal of ownScopes.keys()) if (sessions.heldBy(principal) === 0) ownScopes.delete(principal);
  };
  const bodyLimits = { maxBytes: h.max_body_bytes, timeoutMs: h.body_timeout * 1000, budget: byteBudget(4 * h.max_body_bytes) };
  // Set right after the server listens (the replica id may hold its port), before any request.
  let sharedSessions: SharedCounts | undefined;
  let sharedCalls: SharedCounts | undefined;
  const sessions = sessionTable<Live>({ maxTotal: h.max_sessions, maxPerPrincipal: h.max_sessions_per_key, idleMs: h.session_idle_timeout * 1000 }, undefined, (p) =>
    sharedSessions?.lowered(p),
  );
  const endings = new Set<Promise<void>>();
  const openCalls = new Set<Pending>();
  const callsPerKey = callCounts(h.max_concurrent_calls_per_key, (p) => sharedCalls?.lowered(p));
  // Before each collection, the sessions let go of the tables they grew and emptied (settleQuiet).
  const collector = collectWhenQuiet(undefined, undefined, () => {
    settleQuiet();
    Bun.gc(true);
  });
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  /** Every way a session ends (DELETE, expiry, the client's shutdown, stop) comes through the transport's onclose. */
  function forget(id: string | undefined, live: Live) {
    const entry = id === undefined ? undefined : sessions.remove(id);
    if (!entry) return;
    for (const id of [...(live.calls?.keys() ?? [])]) callEnded(live, id);
    for (const id of [...(live.busy ?? [])]) callAnswered(entry, id);
    live.events?.dispose?.();
    if (sessions.heldBy(entry.principal) === 0) ownScopes.delete(entry.principal);
    const ending = live.end().finally(() => endings.delete(ending));
    endings.add(ending);
    collector.soon();
    log.info("http session closed", { session: id, principal: entry.principal, why: live.why, sessions: sessions.size });
  }

  function sessionDeps(scope: SessionScope, tenant: ApiKey | undefined, kind: Kind): ServerDeps {
    return { ...scope, resources, resourceTemplates, prompts, activity, tenant: tenant?.name ?? null, transport: TRANSPORT_OF[kind], backends };
  }

  /** `id`: the session's id on the wire, also in its logs, spans, events and stored session row. */
  async function serverFor(place: Place, tenant: ApiKey | undefined, kind: Kind, id: string) {
    // The deps are shared by a principal's sessions (memory per idle session): the id goes apart.
    return createServer(tenant ? sessionDeps(await tenantSession(own, tenant), tenant, kind) : ownDeps(place.principal, kind), kit, id);
  }

  /** A call over SSE or WebSocket began: it counts as in flight (and its session busy) until answered. */
  function callsBegan(entry: SessionEntry<Live>, messages: JSONRPCMessage[]) {
    for (const m of messages) {
      if ("method" in m && "id" in m) {
        if (entry.value.calls?.has(m.id)) continue;
        const pending: Pending = { entry, calls: [m.id] };
        (entry.value.calls ??= new Map()).set(m.id, pending);
        openCalls.add(pending);
        sessions.opened(entry);
        inFlight++;
      } else if ("method" in m && m.method === "notifications/cancelled") {
        // A cancelled call gets no answer: it ends here.
        const id = (m.params as { requestId?: unknown } | undefined)?.requestId;
        if (typeof id === "string" || typeof id === "number") callEnded(entry.value, id);
      }
    }
  }

  /**
   * Counts the new calls among `messages` against the principal's
   * http.max_concurrent_calls_per_key, all or none; cancellations give theirs back first.
   * The refusal names the limit when they would be one too many. This replica's count
   * decides first; with Redis, the sum over every live replica then decides too.
   */
  async function callsAdmitted(entry: SessionEntry<Live>, messages: unknown[]): Promise<string | undefined> {
    const fresh = new Set<string | number>();
    for (const m of messages as { id?: unknown; method?: unknown; params?: { requestId?: unknown } }[]) {
      if (m?.method === "notifications/cancelled") {
        const id = m.params?.requestId;
        if (typeof id === "string" || typeof id === "number") callAnswered(entry, id);
      } else if (typeof m?.method === "string" && (typeof m.id === "string" || typeof m.id === "number") && !entry.value.busy?.has(m.id)) fresh.add(m.id);
    }
    const { principal } = entry;
    if (!callsPerKey.begin(principal, fresh.size)) {
      return `${principal} already has ${callsPerKey.of(principal)} calls in flight (http.max_concurrent_calls_per_key: ${callsPerKey.max}): wait for one to finish`;
    }
    if (fresh.size > 0 && sharedCalls && redis?.up) {
      const all = await sharedCalls.admit(principal, callsPerKey.of(principal), callsPerKey.max).catch(() => ({ ok: true as const }));
      if (!all.ok) {
        callsPerKey.end(principal, fresh.size);
        return `${principal} already has ${all.others + callsPerKey.of(principal)} calls in flight across replicas (http.max_concurrent_calls_per_key: ${callsPerKey.max}): wait for one to finish`;
      }
      // The session ended while Redis answered: nothing will give these back.
      if (sessions.get(entry.id, principal) !== entry) {
        callsPerKey.end(principal, fresh.size);
        return UNKNOWN_SESSION;
      }
    }
    if (fresh.size > 0) {
      const busy = (entry.value.busy ??= new Set());
      for (const id of fresh) busy.add(id);
    }
    return undefined;
  }

  /**
   * Holds a place for a new session of the principal: its cap (a tenant's --max-sessions, else
   * http.max_sessions_per_key) on this replica, then, with Redis, over every live replica.
   */
  async function placeFor({ principal, tenant }: Admission & { ok: true }): Promise<Place | Refusal> {
    const own = tenant?.max_sessions ? { max: tenant.max_sessions, source: `API key ${tenant.name}'s --max-sessions` } : undefined;
    const place = sessions.reserve(principal, own);
    if ("status" in place || !sharedSessions || !redis?.up) return place;
    const cap = own ?? { max: h.max_sessions_per_key, source: "http.max_sessions_per_key" };
    const all = await sharedSessions.admit(principal, sessions.heldBy(principal), cap.max).catch(() => ({ ok: true as const }));
    if (all.ok) return place;
    sessions.release(place);
    return {
      status: 429,
      message: `${principal} already has ${all.others + sessions.heldBy(principal)} open sessions across replicas (${cap.source}: ${cap.max}): end one (DELETE) or wait for idle ones to expire`,
    };
  }

  /** A call counted by callsAdmitted ended: answered, cancelled, refused by the SDK, or its session ended. */
  function callAnswered(entry: SessionEntry<Live>, id: string | number) {
    if (entry.value.busy?.delete(id)) callsPerKey.end(entry.principal);
  }

  function callEnded(live: Live, id: string | number) {
    const pending = live.calls?.get(id);
    if (!pending) return;
    live.calls!.delete(id);
    openCalls.delete(pending);
    sessions.closed(pending.entry!);
    if (--inFlight === 0) drained?.();
  }

  /** A session over a stream of our own (SSE, WebSocket): its id is ours, and it exists from the moment the stream opens. */
  async function openOwnSession(place: Place, tenant: ApiKey | undefined, kind: Kind, make: (id: string, sent: (m: JSONRPCMessage) => void) => Transport & { sessionId: string }) {
    const id = crypto.randomUUID();
    const { server, endSession } = await serverFor(place, tenant, kind, id);
    const live: Live = { kind, server, end: endSession, why: "ended by the client" } as unknown as Live;
    live.transport = make(id, (m) => {
      if (!isAnswer(m)) return;
      callEnded(live, m.id);
      callAnswered(entry, m.id);
    });
    live.transport.onclose = () => forget(id, live);
    const entry = sessions.add(id, place, live);
    // The stream (or socket) is open as long as the session lives: listening is not idle, as
    // with a GET stream on /mcp, and the session ends the moment it closes.
    sessions.opened(entry);
    try {
      await connectServer(server, live.transport, { checked: false });
    } catch (error) {
      sessions.remove(id);
      await endSession();
      throw error;
    }
    log.info("http session opened", { session: id, principal: place.principal, transport: kind, sessions: sessions.size });
    return entry;
  }

  async function newSession(place: Place, tenant: ApiKey | undefined): Promise<Live> {
    const sessionId = crypto.randomUUID();
    const { server, endSession } = await serverFor(place, tenant, "streamable", sessionId);
    // In Redis while it is up when the session opens; a session opened during an outage keeps its own.
    const events = redis?.up ? redisSessionEvents(redis, { id: sessionId, ttlMs: h.session_idle_timeout * 1000 + 60_000 }) : sessionEvents();
    const live = { kind: "streamable", server, end: endSession, why: "ended by the client", events } as unknown as Live;
    let entry: SessionEntry<Live> | undefined;
    const streamable = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      // Kept with the session and dropped with it: a client whose stream was cut resumes with Last-Event-ID.
      eventStore: events,
      onsessioninitialized: (id) => {
        entry = sessions.add(id, place, live);
        collector.soon();
        log.info("http session opened", { session: id, principal: place.principal, sessions: sessions.size });
      },
    });
    live.transport = live.streamable = streamable;
    // The Protocol answers every call through send: that is when it stops counting as in flight.
    const send = streamable.send.bind(streamable);
    streamable.send = (message, options) => {
      if (entry && isAnswer(message)) callAnswered(entry, message.id);
      return send(message, options);
    };
    // Set before connecting: the SDK's Protocol keeps it and calls it before its own.
    streamable.onclose = () => forget(streamable.sessionId, live);
    // The SDK's HTTP transport checks messages with its own schemas: keep its path.
    await connectServer(server, live.transport, { checked: false });
    return live;
  }

  /**
   * The tables a session's requests grew and emptied again (the SDK's, our own) are let go:
   * five of them, ~1.2 KB of an idle session. Only empty ones, so a session in the middle of
   * a call loses nothing; when quiet, not per request, since a busy session grows them again.
   */
  function settleQuiet() {
    for (const { value: live } of sessions.all()) {
      releaseEmptyTables(live.server, PROTOCOL_TABLES);
      if (live.streamable) releaseEmptyTables(live.streamable, STREAMABLE_TABLES);
      if (live.calls?.size === 0) live.calls = undefined;
      if (live.busy?.size === 0) live.busy = undefined;
    }
  }

  const sweeper = setInterval(
    () => {
      for (const entry of sessions.idle()) {
        entry.value.why = `idle for http.session_idle_timeout (${h.session_idle_timeout} s)`;
        void entry.value.transport.close();
      }
      settleQuiet();
      pruneScopes();
    },
    Math.min(Math.max((h.session_idle_timeout * 1000) / 4, 100), 15_000),
  );

  const sharedState = (): Record<string, string> => (redis ? { redis: redis.up ? "connected: limits shared across replicas" : "unreachable: this replica limits on its own until it returns" } : {});
  const backends = activity || config.cache.backend === "redis" ? () => ({ ...activityStates(activity), ...sharedState() }) : undefined;

  async function readiness(): Promise<Response> {
    if (draining) return Response.json({ status: "draining" }, { status: 503 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const probe = storage.open().then((store) => store.counts());
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_PROBE_MS} ms`)), READY_PROBE_MS);
      });
      await Promise.race([probe, late]);
      // Redis away is no reason to send traffic elsewhere: every replica then limits on its own.
      return Response.json({ status: "ready", ...sharedState() });
    } catch (error) {
      log.warn("readyz: storage unreachable", { error: (error as Error).message });
      return Response.json({ status: "unavailable", reason: "storage unreachable", ...sharedState() }, { status: 503 });
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
      if (!entry?.value.streamable) return jsonError(404, UNKNOWN_SESSION);
      held.entry = entry;
      sessions.opened(entry);
      let parsedBody: unknown;
      if (req.method === "POST") {
        const read = await readJsonBody(req, bodyLimits);
        if (!read.ok) return read.response;
        parsedBody = read.body;
        held.calls = requestIds(parsedBody);
        const refused = await callsAdmitted(entry, Array.isArray(parsedBody) ? parsedBody : [parsedBody]);
        if (refused) {
          held.calls = [];
          return jsonError(429, refused, { "Retry-After": CALLS_RETRY_AFTER });
        }
      } else if (req.method === "GET") {
        const lastEventId = req.headers.get("last-event-id");
        if (lastEventId !== null && !entry.value.events?.canResume(lastEventId)) {
          return jsonError(
            409,
            `Last-Event-ID ${lastEventId} cannot be resumed: the session keeps only its last ${MAX_EVENTS} events (${MAX_EVENT_BYTES / 1024 / 1024} MiB) and this one is older or unknown; open a new GET stream without it`,
          );
        }
      }
      const res = await entry.value.streamable.handleRequest(req, parsedBody === undefined ? undefined : { parsedBody });
      // Refused whole by the SDK (a bad header, an invalid message): none of its calls will be answered.
      if (res.status !== 200) for (const id of held.calls) callAnswered(entry, id);
      return res;
    }
    if (req.method !== "POST") return jsonError(400, "Send initialize (POST) first to open a session");
    const read = await readJsonBody(req, bodyLimits);
    if (!read.ok) return read.response;
    // Only an initialize opens a session; anything else without a session id is refused
    // before a Server is built for it.
    const first = Array.isArray(read.body) ? read.body[0] : read.body;
    if ((first as { method?: unknown } | null)?.method !== "initialize") return jsonError(400, "No mcp-session-id: send initialize first to open a session");
    const place = await placeFor({ ok: true, principal, tenant });
    if ("status" in place) return jsonError(place.status, place.message);
    try {
      const live = await newSession(place, tenant);
      const res = await live.streamable!.handleRequest(req, { parsedBody: read.body });
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

  /** GET /sse: a 2024-11-05 session, open as long as its event stream. */
  async function sse(admitted: Admission & { ok: true }): Promise<Response> {
    const place = await placeFor(admitted);
    if ("status" in place) return jsonError(place.status, place.message);
    try {
      const entry = await openOwnSession(place, admitted.tenant, "sse", sseTransport);
      return (entry.value.transport as SseTransport).response;
    } catch (error) {
      sessions.release(place);
      throw error;
    }
  }

  /** POST /messages?sessionId=: the client's messages for its SSE session, answered on the stream. */
  async function messages(req: Request, { principal }: Admission & { ok: true }, held: Pending): Promise<Response> {
    const id = new URL(req.url).searchParams.get("sessionId");
    // Another principal's session is answered exactly as a made-up id is.
    const entry = id === null ? undefined : sessions.get(id, principal);
    if (entry?.value.kind !== "sse") return jsonError(404, UNKNOWN_SSE_SESSION);
    held.entry = entry;
    sessions.opened(entry);
    const read = await readJsonBody(req, bodyLimits);
    if (!read.ok) return read.response;
    const checked = clientMessages(read.body);
    if (!checked.ok) return jsonError(400, checked.message, {}, ErrorCode.InvalidRequest);
    const refused = await callsAdmitted(entry, checked.messages);
    if (refused) return jsonError(429, refused, { "Retry-After": CALLS_RETRY_AFTER });
    callsBegan(entry, checked.messages);
    for (const m of checked.messages) entry.value.transport.onmessage?.(m);
    return new Response("Accepted", { status: 202 });
  }

  /** GET /ws: upgraded after admission, with a place held for its session. */
  async function wsUpgrade(req: Request, srv: BunServer<Socket>, admitted: Admission & { ok: true }, peer: string): Promise<Response | undefined> {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return jsonError(426, `${WS_PATH} speaks WebSocket (subprotocol ${WS_SUBPROTOCOL}): send an upgrade request`, { Upgrade: "websocket" });
    if (!asksForMcp(req.headers.get("sec-websocket-protocol"))) return jsonError(400, `${WS_PATH} needs the WebSocket subprotocol ${WS_SUBPROTOCOL} (Sec-WebSocket-Protocol: ${WS_SUBPROTOCOL})`);
    const place = await placeFor(admitted);
    if ("status" in place) return jsonError(place.status, place.message);
    const data: Socket = { place, tenant: admitted.tenant, url: req.url, headers: req.headers, peer, chain: Promise.resolve(), gone: false };
    if (srv.upgrade(req, { data, headers: { "Sec-WebSocket-Protocol": WS_SUBPROTOCOL } })) return undefined;
    sessions.release(place);
    return jsonError(400, "The WebSocket upgrade failed: send a valid upgrade request");
  }

  /** Refuses each call of a frame with `message` (the socket has no status line). */
  function refuseCalls(ws: ServerWebSocket<Socket>, messages: JSONRPCMessage[], message: string) {
    for (const m of messages) if ("method" in m && "id" in m) ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, error: { code: -32000, message } }));
  }

  /**
   * One text frame. Each is admitted as a request to /mcp is (a revoked key, the rate
   * limit), in the order the frames came.
   */
  async function wsFrame(ws: ServerWebSocket<Socket>, frame: string | Buffer) {
    const entry = await ws.data.ready;
    if (!entry || ws.data.gone) return;
    let body: unknown;
    try {
      body = JSON.parse(typeof frame === "string" ? frame : frame.toString("utf8"));
    } catch {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the frame is not JSON" } }));
      return;
    }
    const checked = clientMessages(body);
    if (!checked.ok) {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: ErrorCode.InvalidRequest, message: checked.message } }));
      return;
    }
    if (draining) return refuseCalls(ws, checked.messages, "The server is shutting down; connect again in a moment");
    const again = await admit(new Request(ws.data.url, { headers: ws.data.headers }), ws.data.peer);
    if (!again.ok) {
      const said = ((await again.response.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? "Refused";
      refuseCalls(ws, checked.messages, said);
      // A key that no longer opens anything ends the session; a rate limit only refuses the frame.
      if (again.response.status === 401 || again.response.status === 403) ws.close(1008, "API key no longer valid");
      return;
    }
    const refused = await callsAdmitted(entry, checked.messages);
    if (refused) {
      // No status line on a socket: each call gets the refusal as its answer, the rest of the frame still goes in.
      refuseCalls(ws, checked.messages, refused);
      const rest = checked.messages.filter((m) => !("method" in m && "id" in m));
      callsBegan(entry, rest);
      for (const m of rest) entry.value.transport.onmessage?.(m);
      return;
    }
    callsBegan(entry, checked.messages);
    for (const m of checked.messages) entry.value.transport.onmessage?.(m);
  }

  const http = Bun.serve<Socket, never>({
    hostname: host,
    port,
    // Calls and GET streams may rightly stay quiet for long; slow bodies have their own
    // deadline (http.body_timeout) and Bun closes a connection whose headers take ~10 s.
    idleTimeout: 0,
    maxRequestBodySize: h.max_body_bytes,
    websocket: {
      maxPayloadLength: h.max_body_bytes,
      open(ws) {
        const d = ws.data;
        d.ready = openOwnSession(d.place, d.tenant, "websocket", (id, sent) => wsTransport(ws, id, sent)).then(
          (entry) => {
            // Closed while the session was being built.
            if (d.gone) (entry.value.transport as WsTransport).gone();
            return entry;
          },
          (error: Error) => {
            sessions.release(d.place);
            log.warn("websocket session failed to open", { error: error.message });
            ws.close(1011, "The session could not be opened");
            return undefined;
          },
        );
      },
      message(ws, frame) {
        ws.data.chain = ws.data.chain.then(() => wsFrame(ws, frame)).catch((error: Error) => log.warn("websocket frame failed", { error: error.message }));
      },
      close(ws) {
        ws.data.gone = true;
        void ws.data.ready?.then((entry) => (entry?.value.transport as WsTransport | undefined)?.gone());
      },
    },
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
      const route = pathname === MCP_PATH || pathname === MESSAGES_PATH || pathname === SSE_PATH || pathname === WS_PATH;
      if (!route) return jsonError(404, `Not found: MCP is served at ${MCP_PATH} (Streamable HTTP), ${SSE_PATH} (HTTP+SSE, 2024-11-05) and ${WS_PATH} (WebSocket)`);
      if (pathname === SSE_PATH && req.method !== "GET") return jsonError(405, `${SSE_PATH} takes GET; post messages to the endpoint its stream names`, { Allow: "GET" });
      if (pathname === MESSAGES_PATH && req.method !== "POST") return jsonError(405, `${MESSAGES_PATH} takes POST`, { Allow: "POST" });
      if (draining) return shuttingDown();
      const peer = srv.requestIP(req)?.address ?? "";
      const admitted = await admit(req, peer);
      if (!admitted.ok) return admitted.response;
      // Admission may have waited on the store: a stop that began meanwhile counts no calls of ours.
      if (draining) return shuttingDown();
      const failed = (error: Error) => {
        log.warn("http request failed", { error: error.message });
        return jsonError(500, "Internal error");
      };
      // The stream and the socket are the session, not a call: drain does not wait on them.
      if (pathname === SSE_PATH) return sse(admitted).catch(failed);
      if (pathname === WS_PATH) return wsUpgrade(req, srv, admitted, peer);
      inFlight++;
      const held: Pending = { calls: [] };
      const res = await (pathname === MESSAGES_PATH ? messages(req, admitted, held) : mcp(req, admitted, held)).catch(failed);
      return finishing(held, res, req.method === "GET");
    },
  });
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${http.port}${MCP_PATH}`;
  // With the port bound: replicas started with --port 0 on one host differ in Redis.
  const replica = replicaName(config, true, http.port);
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  if (redis) {
    const r = redis;
    sharedCalls = sharedCounts(r, { kind: "calls", replica, local: { count: callsPerKey.of, principals: callsPerKey.principals } });
    sharedSessions = sharedCounts(r, { kind: "sessions", replica, local: { count: sessions.heldBy, principals: sessions.principals } });
    const beat = () => {
      if (!r.up) return;
      for (const counts of [sharedCalls!, sharedSessions!]) void counts.heartbeat().catch(() => {});
    };
    beat();
    heartbeat = setInterval(beat, HEARTBEAT_MS);
    // What changed while Redis was away (or all of it, if it restarted empty) is written again.
    r.onReturn(beat);
  }
  log.info("serving on http", { url, roots: workspace.roots.join(","), auth: h.api_keys.length > 0 || storeKeys, ...(redis ? { redis: redis.url, replica } : {}) });

  return {
    url,
    /** Drains: new work is refused (and /readyz says so), calls in flight get up to http.drain_timeout to finish. */
    async stop() {
      if (!draining) {
        draining = true;
        // GET streams never end on their own; the clients reconnect elsewhere.
        for (const entry of sessions.all()) entry.value.streamable?.closeStandaloneSSEStream();
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
      clearInterval(heartbeat);
      if (redis?.up) await Promise.allSettled([sharedCalls!.leave(), sharedSessions!.leave()]);
      redis?.close();
      await closeOwnStore();
    },
  };
}
