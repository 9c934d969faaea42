// The one connection to Redis (cache.backend: redis) that the http server's shared limits and
// event stores go through. Whether it is up is known at every moment, so callers skip it when
// it is down and keep to their own local limits: an outage slows nothing and refuses nothing.
// Losing it is logged once, it is looked for again with backoff, and its return logged once.
// Bun's client reconnects on its own but queues commands meanwhile (a request would wait for
// Redis): here commands fail at once while it is away, and this module does the reconnecting.
import { RedisClient } from "bun";
import { maskUrlCredentials } from "../config/describe.ts";
import type { Logger } from "../log.ts";

export const DEFAULT_PREFIX = "tfo-mcp:";

/** A Lua script and its SHA-1, as EVALSHA names it. */
export type Script = { name: string; source: string; sha: string };

export function defineScript(name: string, source: string): Script {
  return { name, source, sha: new Bun.CryptoHasher("sha1").update(source).digest("hex") };
}

export type RedisState = { status: "connected" | "unreachable"; url: string; since: string };

export type SharedRedis = {
  /** false while Redis is away: callers use their local state instead of waiting */
  readonly up: boolean;
  /** put before every key, so that several deployments (or test runs) can share one Redis */
  readonly prefix: string;
  /** the URL with its password masked, for messages */
  readonly url: string;
  /** Rejects at once while Redis is away, or when it answers slower than the command timeout (which counts as away). */
  send(command: string, args: string[]): Promise<unknown>;
  /** EVALSHA, or EVAL when Redis does not know the script (restarted, SCRIPT FLUSH). */
  run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown>;
  /** Called each time Redis comes back after an outage: what was written meanwhile is lost, so write it again. */
  onReturn(listener: () => void): void;
  /** How many times Redis has come back: data written in an earlier epoch may be gone. */
  readonly epoch: number;
  state(): RedisState;
  close(): void;
};

export type RedisOptions = {
  url: string;
  log: Logger;
  prefix?: string;
  /** loaded with SCRIPT LOAD on every (re)connection */
  scripts?: Script[];
  /** a command slower than this counts as Redis being away (ms) */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** first and longest wait between attempts to reconnect (ms) */
  backoff?: { firstMs: number; maxMs: number };
};

const awayError = (message: string) => Object.assign(new Error(message), { code: "REDIS_AWAY" });

const isServerReply = (error: unknown) => (error as { code?: string } | null)?.code === "ERR_REDIS_SERVER_ERROR";

async function open(url: string, connectTimeoutMs: number, scripts: Iterable<Script>): Promise<RedisClient> {
  const client = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: connectTimeoutMs });
  // Bun's connectionTimeout covers the TCP connect; a server that accepts and then says
  // nothing (stopped, overloaded) would hold connect() for ever without this.
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      }),
    ]);
    for (const s of scripts) await client.send("SCRIPT", ["LOAD", s.source]);
    return client;
  } catch (error) {
    client.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects, or says why not: with cache.backend redis an unreachable Redis at start-up is an
 * error for the operator, never a quiet fallback. After that, outages are survived.
 */
export async function connectRedis(o: RedisOptions): Promise<{ ok: true; redis: SharedRedis } | { ok: false; error: string }> {
  const url = maskUrlCredentials(o.url);
  const commandTimeoutMs = o.commandTimeoutMs ?? 500;
  const connectTimeoutMs = o.connectTimeoutMs ?? 2000;
  const backoff = o.backoff ?? { firstMs: 100, maxMs: 5000 };
  const scripts = new Map<string, Script>((o.scripts ?? []).map((s) => [s.sha, s]));
  let client: RedisClient;
  try {
    client = await open(o.url, connectTimeoutMs, scripts.values());
  } catch (error) {
    return { ok: false, error: `Redis at ${url} did not answer (${(error as Error).message})` };
  }
  let up = true;
  let closed = false;
  let since = new Date();
  let retry: ReturnType<typeof setTimeout> | undefined;
  let wait = backoff.firstMs;
  let epoch = 0;
  const returned: (() => void)[] = [];

  const watch = (c: RedisClient) => {
    c.onclose = (error) => {
      if (c === client) lost(error?.message ?? "connection closed");
    };
  };
  watch(client);

  function lost(why: string) {
    if (!up || closed) return;
    up = false;
    since = new Date();
    // Pending commands fail now rather than at their timeouts.
    client.close();
    o.log.warn("redis unreachable: using this replica's local limits until it returns", { url, error: why });
    wait = backoff.firstMs;
    retry = setTimeout(reconnect, wait);
  }

  async function reconnect() {
    if (closed) return;
    try {
      const fresh = await open(o.url, connectTimeoutMs, scripts.values());
      if (closed) {
        fresh.close();
        return;
      }
      client = fresh;
      watch(client);
      up = true;
      epoch++;
      since = new Date();
      o.log.info("redis reachable again: limits are shared across replicas again", { url });
      for (const listener of returned) listener();
    } catch (error) {
      o.log.debug("redis still unreachable", { url, error: (error as Error).message, retry_ms: wait });
      wait = Math.min(wait * 2, backoff.maxMs);
      retry = setTimeout(reconnect, wait);
    }
  }

  // One watchdog instead of a timer per command (that cost ~7 µs of CPU each, several per
  // call): replies come in order on the one connection, so Redis is slow when commands wait
  // and none has been answered for the timeout. Closing the client fails the waiting ones.
  let waiting = 0;
  let answeredAt = performance.now();
  const watchdog = setInterval(
    () => {
      if (up && waiting > 0 && performance.now() - answeredAt > commandTimeoutMs) lost(`no answer within ${commandTimeoutMs} ms`);
    },
    Math.max(10, commandTimeoutMs / 4),
  );
  watchdog.unref?.();

  async function send(command: string, args: string[]): Promise<unknown> {
    if (!up) throw awayError(`Redis at ${url} is unreachable`);
    const c = client;
    if (waiting++ === 0) answeredAt = performance.now();
    try {
      return await c.send(command, args);
    } catch (error) {
      // A reply of Redis's own (NOSCRIPT, WRONGTYPE) says it is there.
      if (!isServerReply(error) && c === client) lost((error as Error).message);
      throw error;
    } finally {
      waiting--;
      answeredAt = performance.now();
    }
  }

  const redis: SharedRedis = {
    get up() {
      return up;
    },
    prefix: o.prefix ?? DEFAULT_PREFIX,
    url,
    send,
    async run(script, keys, args) {
      scripts.set(script.sha, script);
      const rest = [String(keys.length), ...keys, ...args.map(String)];
      try {
        return await send("EVALSHA", [script.sha, ...rest]);
      } catch (error) {
        if (!isServerReply(error) || !(error as Error).message.startsWith("NOSCRIPT")) throw error;
        return send("EVAL", [script.source, ...rest]);
      }
    },
    get epoch() {
      return epoch;
    },
    onReturn(listener) {
      returned.push(listener);
    },
    state: () => ({ status: up ? "connected" : "unreachable", url, since: since.toISOString() }),
    close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(watchdog);
      client.close();
    },
  };
  return { ok: true, redis };
}
