// The NATS client protocol, as much of it as a publisher needs, over Bun.connect: the server
// sends INFO, we send CONNECT and PING, its PONG says the CONNECT was accepted (-ERR says
// why not); then PUB frames out, PING/PONG both ways. Text lines ending in CRLF; a
// publisher never subscribes, so no MSG ever arrives and every server line is one line.
// No npm client: the part we use is this small, and a client would be start-up weight.
import type { Socket } from "bun";
import { VERSION } from "../version.ts";
import { SUBJECTS, type PublishedEvent } from "./port.ts";

export type NatsTarget = { host: string; port: number; user?: string; pass?: string; token?: string };

/** Pure: nats://[user:pass@ | token@]host[:port]. */
export function parseNatsUrl(url: string): { ok: true; target: NatsTarget } | { ok: false; error: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, error: `${JSON.stringify(url)} is not a URL; use nats://host:4222 (nats://user:password@host:4222 or nats://token@host:4222 with credentials)` };
  }
  if (u.protocol !== "nats:") return { ok: false, error: `${u.protocol}// is not a NATS URL; use nats://host:4222` };
  if (!u.hostname) return { ok: false, error: "the NATS URL names no host; use nats://host:4222" };
  const port = u.port === "" ? 4222 : Number(u.port);
  const target: NatsTarget = { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  // A lone user part is a token, as in every NATS client.
  if (user && pass) Object.assign(target, { user, pass });
  else if (user) target.token = user;
  return { ok: true, target };
}

/** One PUB frame: subject, payload size in bytes (not characters), the JSON. */
export function publishFrame(event: PublishedEvent): { frame: string; bytes: number } {
  const json = JSON.stringify(event);
  const bytes = Buffer.byteLength(json);
  return { frame: `PUB ${SUBJECTS[event.type]} ${bytes}\r\n${json}\r\n`, bytes };
}

export function connectCommand(target: NatsTarget): string {
  const options = {
    verbose: false,
    pedantic: false,
    name: "tfo-mcp",
    lang: "typescript",
    version: VERSION,
    protocol: 1,
    ...(target.user !== undefined ? { user: target.user, pass: target.pass } : {}),
    ...(target.token !== undefined ? { auth_token: target.token } : {}),
  };
  return `CONNECT ${JSON.stringify(options)}\r\n`;
}

export type ServerLine = { kind: "ping" } | { kind: "pong" } | { kind: "ok" } | { kind: "err"; message: string } | { kind: "info"; info: ServerInfo } | { kind: "other"; line: string };
export type ServerInfo = { max_payload?: number; tls_required?: boolean; auth_required?: boolean; version?: string };

/** Pure: one line from the server, without its CRLF. */
export function readServerLine(line: string): ServerLine {
  const verb = line.slice(0, 4).toUpperCase();
  if (verb === "PING") return { kind: "ping" };
  if (verb === "PONG") return { kind: "pong" };
  if (line.startsWith("+OK")) return { kind: "ok" };
  if (line.startsWith("-ERR")) return { kind: "err", message: line.slice(4).trim().replace(/^'(.*)'$/, "$1") };
  if (verb === "INFO") {
    try {
      return { kind: "info", info: JSON.parse(line.slice(5)) as ServerInfo };
    } catch {
      return { kind: "other", line };
    }
  }
  return { kind: "other", line };
}

/** An open, accepted connection. `write` queues what the socket cannot take yet. */
export type NatsConnection = {
  info: ServerInfo;
  write(text: string): void;
  /** bytes waiting for the socket to drain */
  backlog(): number;
  /** after what was written has been sent */
  close(): void;
  /** at once, for a server that stopped answering */
  abort(): void;
};

export type ConnectionEvents = {
  /** a server line after the handshake (PING is answered here, not passed on) */
  line(line: ServerLine): void;
  /** the socket drained what was queued */
  drain(): void;
  /** the connection ended after the handshake */
  closed(reason: string): void;
};

/**
 * Connects and completes the handshake within `timeoutMs`; rejects with the reason
 * (refused, timed out, -ERR 'Authorization Violation', TLS required).
 */
export function connectNats(target: NatsTarget, timeoutMs: number, events: ConnectionEvents): Promise<NatsConnection> {
  return new Promise((resolve, reject) => {
    let phase: "info" | "pong" | "open" | "failed" = "info";
    let socket: Socket | undefined;
    let text = "";
    const decoder = new TextDecoder();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let info: ServerInfo = {};

    const fail = (reason: string) => {
      if (phase === "open" || phase === "failed") return;
      phase = "failed";
      clearTimeout(timer);
      socket?.terminate();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);

    const flushPending = () => {
      while (socket && pending.length) {
        const chunk = pending[0]!;
        const n = socket.write(chunk);
        if (n < 0) return;
        pendingBytes -= n;
        if (n < chunk.length) {
          pending[0] = chunk.subarray(n);
          return;
        }
        pending.shift();
      }
    };
    const connection: NatsConnection = {
      get info() {
        return info;
      },
      write(out) {
        const bytes = Buffer.from(out);
        pending.push(bytes);
        pendingBytes += bytes.length;
        // Only the first queued chunk may be written now; the rest follow on drain.
        if (pending.length === 1) flushPending();
      },
      backlog: () => pendingBytes,
      close: () => socket?.end(),
      abort: () => socket?.terminate(),
    };

    const onLine = (raw: string) => {
      const line = readServerLine(raw);
      if (line.kind === "ping") return connection.write("PONG\r\n");
      if (phase === "info") {
        if (line.kind !== "info") return fail(`expected INFO from a NATS server, got ${JSON.stringify(raw.slice(0, 80))}`);
        info = line.info;
        if (info.tls_required) return fail("the server requires TLS, which this build does not speak to NATS; allow plain connections on loopback or a private network");
        phase = "pong";
        connection.write(`${connectCommand(target)}PING\r\n`);
        return;
      }
      if (phase === "pong") {
        if (line.kind === "err") return fail(`the server refused the connection: ${line.message}`);
        if (line.kind !== "pong") return;
        phase = "open";
        clearTimeout(timer);
        resolve(connection);
        return;
      }
      if (phase === "open") events.line(line);
    };

    Bun.connect({
      hostname: target.host,
      port: target.port,
      socket: {
        open(s) {
          socket = s;
          // Events never keep a finished server alive; close() flushes on a timer of its own.
          s.unref();
        },
        data(_s, chunk) {
          text += decoder.decode(chunk, { stream: true });
          let at: number;
          while ((at = text.indexOf("\r\n")) !== -1) {
            const line = text.slice(0, at);
            text = text.slice(at + 2);
            onLine(line);
          }
        },
        drain() {
          flushPending();
          if (phase === "open" && pendingBytes === 0) events.drain();
        },
        close(_s, error) {
          pending = [];
          pendingBytes = 0;
          if (phase === "open") {
            phase = "failed";
            events.closed(error?.message ?? "the server closed the connection");
          } else fail(error?.message ?? "the server closed the connection");
        },
        connectError(_s, error) {
          fail((error as Error & { code?: string }).code ?? error.message);
        },
      },
    }).then(
      (s) => {
        // Timed out while connecting: the socket came too late.
        if (phase === "failed") s.terminate();
      },
      (error: Error & { code?: string }) => fail(error.code ?? error.message),
    );
  });
}
