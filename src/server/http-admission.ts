// Who may speak to the http server, decided before anything is read from the body: the
// Host and Origin (DNS rebinding), the failed-auth throttle per peer, the key (one of
// http.api_keys, or a tenant's from the store), and the rate limit of the principal the
// request is authenticated to.
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { ApiKey } from "../tenants/keys.ts";
import { bearerToken, keyRing, peerAddress, type Principal } from "./http-auth.ts";
import { hostAllowed, originAllowed } from "./http-gate.ts";
import type { KeyDirectory } from "./http-keys.ts";
import { tokenBuckets } from "./http-limits.ts";
import { jsonError } from "./http-response.ts";
import { type IpRange, parseIpRange } from "./ip.ts";

/** `tenant`: the store's key the request came with; its name is the principal. */
export type Admission = { ok: true; principal: Principal; tenant?: ApiKey } | { ok: false; response: Response };

/**
 * Keys are required when http.api_keys has any, or the store does (revoked ones count: a
 * server whose keys were all revoked must not fall open). Otherwise a request is its peer's.
 */
export function admission(h: Config["http"], bindHost: string, keys: KeyDirectory, log: Logger): (req: Request, socketAddress: string) => Promise<Admission> {
  const trusted = h.trusted_proxies.map(parseIpRange).filter((r): r is IpRange => r !== undefined);
  const principalOf = keyRing(h.api_keys);
  // One set of buckets per rate: a tenant's own rate limit, or http.rate_limit.
  const rates = new Map<number, ReturnType<typeof tokenBuckets>>();
  const bucketsAt = (perMinute: number) => rates.get(perMinute) ?? rates.set(perMinute, tokenBuckets(perMinute)).get(perMinute)!;
  const failures = tokenBuckets(h.max_auth_failures);
  const refuse = (status: number, message: string, headers?: Record<string, string>): Admission => ({ ok: false, response: jsonError(status, message, headers) });

  return async (req, socketAddress) => {
    const peer = peerAddress(socketAddress, req.headers.get("x-forwarded-for"), trusted);
    // Behind a trusted proxy, the Host is the public name the proxy answers to.
    if (!peer.viaProxy && !hostAllowed(req.headers.get("host"), bindHost)) {
      return refuse(403, `Host ${req.headers.get("host")} is not a loopback name: a server bound to ${bindHost} answers only to localhost, 127.0.0.1 or [::1]`);
    }
    const origin = req.headers.get("origin");
    if (!originAllowed(origin, h.allowed_origins, bindHost)) return refuse(403, `Origin ${origin} is not allowed (http.allowed_origins)`);
    const throttled = failures.check(peer.address);
    if (!throttled.ok) {
      return refuse(429, `Too many failed authentications from ${peer.address} (http.max_auth_failures); wait before trying again`, { "Retry-After": String(throttled.retryAfterSeconds) });
    }
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
        if (given !== "") failures.take(peer.address);
        return refuse(401, "Missing or wrong bearer key (Authorization: Bearer <key>: one of http.api_keys, or a key from `tfo-mcp keys add`)", { "WWW-Authenticate": "Bearer" });
      }
      principal = tenant ? tenant.name : `peer:${peer.address}`;
    }
    const perMinute = tenant?.rate_limit || h.rate_limit;
    const verdict = bucketsAt(perMinute).take(principal);
    if (!verdict.ok) {
      const source = tenant?.rate_limit ? `API key ${tenant.name}'s --rate-limit` : "http.rate_limit";
      return refuse(429, `Rate limit of ${perMinute} requests per minute reached (${source})`, { "Retry-After": String(verdict.retryAfterSeconds) });
    }
    if (tenant) keys.used(tenant);
    return { ok: true, principal, tenant };
  };
}
