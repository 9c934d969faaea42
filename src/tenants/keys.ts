// API keys for the HTTP transports: each key is a tenant with its own roots, tools,
// read-only flag and limits. Only a key's SHA-256 is stored; the key is shown once.
import * as v from "valibot";
import { sha256 } from "../config/trust.ts";

export const KEY_PREFIX = "tfo_";

/**
 * How long a running server may go on accepting a key after it was revoked or rotated: it
 * remembers a key it found for this long (another process changes the store; nothing tells it).
 */
export const KEY_CACHE_MS = 2000;

export type ApiKey = {
  name: string;
  /** hex SHA-256 of the key; the key itself is never stored */
  hash: string;
  /** the ceiling of this tenant's workspace; empty: the server's own roots */
  roots: string[];
  /** tools this tenant may see and call; empty: every tool the server offers */
  tools: string[];
  read_only: boolean;
  /** requests per minute; 0: the server's http.rate_limit */
  rate_limit: number;
  /** open sessions at once; 0: the server's per-key limit */
  max_sessions: number;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
};

/** 32 random bytes, base64url, behind a prefix that secret scanners and people recognise. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `${KEY_PREFIX}${Buffer.from(bytes).toString("base64url")}`;
}

export function hashKey(key: string): string {
  return sha256(key);
}

/**
 * A name people type and logs show: letters, digits, . _ - (never the key). key-1, key-2…
 * are the names of http.api_keys: a tenant by such a name would share their sessions and limits.
 */
export const keyName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][\w.-]{0,63}$/, "a key name is 1-64 letters, digits, . _ - (starting with a letter or digit)"),
  v.check((name) => !/^key-\d+$/.test(name), "key-1, key-2… name the keys of http.api_keys; choose another name"),
);

/** "60", "60/min", "2/s", "1000/h" → requests per minute. */
export function parseRate(text: string): { ok: true; perMinute: number } | { ok: false; error: string } {
  const m = /^\s*(\d+)\s*(?:\/\s*(s|sec|second|m|min|minute|h|hour))?\s*$/i.exec(text);
  if (!m) return { ok: false, error: `rate limit ${JSON.stringify(text)} is not N, N/s, N/min or N/h` };
  const n = Number(m[1]);
  const unit = (m[2] ?? "min").toLowerCase()[0];
  const perMinute = unit === "s" ? n * 60 : unit === "h" ? Math.ceil(n / 60) : n;
  return { ok: true, perMinute };
}

/** What `keys list` shows: everything but the hash. */
export function describeKey(k: ApiKey) {
  return {
    name: k.name,
    roots: k.roots.length ? k.roots : "(server's roots)",
    tools: k.tools.length ? k.tools : "(all offered)",
    read_only: k.read_only,
    rate_limit: k.rate_limit || "(server default)",
    max_sessions: k.max_sessions || "(server default)",
    created_at: k.created_at,
    last_used_at: k.last_used_at,
    status: k.revoked_at ? `revoked ${k.revoked_at}` : "active",
  };
}
