// Who is asking: a bearer key from http.api_keys, named by its place in the list
// ("key-1") so that logs, limits and sessions can speak of it without holding it.
import { timingSafeEqual } from "node:crypto";
import { canonicalIp, inRanges, type IpRange, parseIp } from "./ip.ts";

/**
 * The authenticated party a request speaks for. Sessions and limits hang off it: a key of
 * http.api_keys (`key-1`), a tenant (the name of its key in the store: names never take the
 * form key-N or hold a colon), or, when no keys are configured anywhere, the peer address
 * (`peer:<address>`).
 */
export type Principal = string;

const digest = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest();

/**
 * Finds which key was given. Both sides are hashed first, so every comparison is over 32
 * bytes whatever the lengths, and every key is compared: the time taken says nothing about
 * how much of a key matched, how long the keys are, or which one it was.
 */
export function keyRing(keys: readonly string[]): (given: string) => Principal | undefined {
  const digests = keys.map(digest);
  return (given) => {
    const d = digest(given);
    let found: Principal | undefined;
    for (let i = 0; i < digests.length; i++) {
      const match = timingSafeEqual(d, digests[i]!);
      if (match && found === undefined) found = `key-${i + 1}`;
    }
    return found;
  };
}

/** The token of `Authorization: Bearer <token>` (the scheme in any case), or "". */
export function bearerToken(header: string | null): string {
  if (header === null || header.length < 7 || header.slice(0, 7).toLowerCase() !== "bearer ") return "";
  return header.slice(7).trim();
}

/**
 * The address a request comes from: the socket's peer, or, when that peer is one of
 * http.trusted_proxies, the nearest address in X-Forwarded-For that is not a proxy. A
 * client can write anything in that header; only what a trusted proxy appended counts.
 */
export function peerAddress(socket: string, forwardedFor: string | null, trusted: readonly IpRange[]): { address: string; viaProxy: boolean } {
  const peer = canonicalIp(socket);
  if (!inRanges(peer, trusted)) return { address: peer, viaProxy: false };
  let address = peer;
  const hops = (forwardedFor ?? "").split(",").map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A hop that is not an address was not written by a proxy of ours: trust stops here.
    if (!parseIp(hop)) break;
    address = canonicalIp(hop);
    if (!inRanges(hop, trusted)) break;
  }
  return { address, viaProxy: true };
}
