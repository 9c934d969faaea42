// Who may speak to the http server, decided before anything is read from the body: the
// Host and Origin (DNS rebinding), the failed-auth throttle per peer, the key (one of
// http.api_keys, or a tenant's from the store), and the rate limit of the principal the
// request is authenticated to. With Redis (cache.backend: redis) the throttle and the rates
// are also shared by every replica: the local buckets answer first (and alone while Redis is
// away), then one script checks and takes the shared ones in a single round trip.
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { bearerToken, keyRing, peerAddress, type Principal } from "./http-auth.ts";
import { hostAllowed, originAllowed } from "./http-gate.ts";
import type { KeyDirectory } from "./http-keys.ts";
import { tokenBuckets } from "./http-limits.ts";
import { jsonError } from "./http-response.ts";
import type { SharedBuckets, SharedVerdict } from "../shared/redis-limits.ts";
import { type IpRange, parseIpRange } from "./ip.ts";

/** `tenant`: the store's key the request came with; its name is the principal. */
export type Admission = { ok: true; principal: Principal; tenant?: ApiKey } | { ok: false; response: Response };

/**
 * Keys are required when http.api_keys has any, or the store does (revoked ones count: a
 * server whose keys were all revoked must not fall open). Otherwise a request is its peer's.
 */
export function admission(
  h: Config["http"],
  bindHost: string,
  keys: KeyDirectory,
  log: Logger,
  shared?: SharedBuckets,
): (req: Request, socketAddress: string) => Promise<Admission> {
  const trusted = h.trusted_proxies.map(parseIpRange).filter((r): r is IpRange => r !== undefined);
  const principalOf = keyRing(h.api_keys);
  // One set of buckets per rate: a tenant's own rate limit, or http.rate_limit.
  const rates = new Map<number, ReturnType<typeof tokenBuckets>>();
  const bucketsAt = (perMinute: number) => rates.get(perMinute) ?? rates.set(perMinute, tokenBuckets(perMinute)).get(perMinute)!;
  const failures = tokenBuckets(h.max_auth_failures);
  const refuse = (status: number, message: string, headers?: Record<string, string>): Admission => ({ ok: false, response: jsonError(status, message, headers) });
  const throttledAt = (address: string, retryAfterSeconds: number) =>
    refuse(429, `Too many failed authentications from ${address} (http.max_auth_failures); wait before trying again`, { "Retry-After": String(retryAfterSeconds) });
  const failuresOf = (address: string) => ({ key: `auth:${h.max_auth_failures}:${address}`, perMinute: h.max_auth_failures });
  // Redis away mid-request: the local verdict stands (redis.ts has said so, once).
  const sharedTake = (asks: Parameters<SharedBuckets["take"]>[0]): Promise<SharedVerdict> => shared!.take(asks).catch(() => ({ ok: true }));

  return async (req, socketAddress) => {
    const peer = peerAddress(socketAddress, req.headers.get("x-forwarded-for"), trusted);
    // Behind a trusted proxy, the Host is the public name the proxy answers to.
    if (!peer.viaProxy && !hostAllowed(req.headers.get("host"), bindHost)) {
      return refuse(403, `Host ${req.headers.get("host")} is not a loopback name: a server bound to ${bindHost} answers only to localhost, 127.0.0.1 or [::1]`);
    }
    const origin = req.headers.get("origin");
    if (!originAllowed(origin, h.allowed_origins, bindHost)) return refuse(403, `Origin ${origin} is not allowed (http.allowed_origins)`);
    const throttled = failures.check(peer.address);
    if (!throttled.ok) return throttledAt(peer.address, throttled.retryAfterSeconds);
    const given = bearerToken(req.headers.get("authorization"));
    let principal = given === "" ? undefined : principalOf(given);
    let tenant: ApiKey | undefined;
    if (principal === undefined) {
      let required: boolean;
      try {
        tenant = given === "" ? undefined : await keys.find(given);
        required = tenant === undefined && (h.api_keys.length > 0 || (await keys.anyKeys()));
      } catch (error) {
        // Fail closed: without the store, no one can tell a revoked key from a good one.
        log.warn("http: API keys cannot be checked, storage unreachable", { error: (error as Error).message });
        return refuse(503, "API keys cannot be checked: the server's storage (storage.url) is unreachable; try again later", { "Retry-After": "5" });
      }
      if (required) {
        // A wrong key is a guess; a missing one guesses nothing (clients probe without one).
        if (given !== "") {
          failures.take(peer.address);
          const guessed = shared?.up ? await sharedTake([{ ...failuresOf(peer.address), take: true }]) : undefined;
          if (guessed && !guessed.ok) return throttledAt(peer.address, guessed.retryAfterSeconds);
        }
        return refuse(401, "Missing or wrong bearer key (Authorization: Bearer <key>: one of http.api_keys, or a key from `tfo-mcp keys add`)", { "WWW-Authenticate": "Bearer" });
      }
      principal = tenant ? tenant.name : `peer:${peer.address}`;
    }
    const perMinute = tenant?.rate_limit || h.rate_limit;
    const rateRefused = (retryAfterSeconds: number) => {
      const source = tenant?.rate_limit ? `API key ${tenant.name}'s --rate-limit` : "http.rate_limit";
      return refuse(429, `Rate limit of ${perMinute} requests per minute reached (${source})`, { "Retry-After": String(retryAfterSeconds) });
    };
    const verdict = bucketsAt(perMinute).take(principal);
    if (!verdict.ok) return rateRefused(verdict.retryAfterSeconds);
    if (shared?.up) {
      // The peer's failures as every replica counted them, and the principal's rate over all of them.
      const all = await sharedTake([
        { ...failuresOf(peer.address), take: false },
        { key: `rate:${perMinute}:${principal}`, perMinute, take: true },
      ]);
      if (!all.ok) {
        bucketsAt(perMinute).refund(principal);
        return all.index === 0 ? throttledAt(peer.address, all.retryAfterSeconds) : rateRefused(all.retryAfterSeconds);
      }
    }
    if (tenant) keys.used(tenant);
    return { ok: true, principal, tenant };
  };
}
