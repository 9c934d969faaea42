// Which browser pages and which host names may reach the http server: the defence against
// DNS rebinding, where a page on a name the attacker points at 127.0.0.1 talks to a
// server on loopback as if it were the same site. Pure; the server applies them.
import { isLoopback } from "./ip.ts";

const hostnameOf = (url: string): string | undefined => {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return undefined;
  }
};

/** May a browser page from `origin` talk to us? No Origin (a non-browser client) is fine. */
export function originAllowed(origin: string | null, allowed: readonly string[], bindHost: string): boolean {
  if (origin === null) return true;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  // Served on loopback, pages from loopback origins are the user's own. Only an exact
  // loopback name or address counts: "opaque" origins ("null") and names that merely
  // start with 127. do not.
  if (!isLoopback(bindHost) || origin === "null") return false;
  const host = hostnameOf(origin);
  return host !== undefined && isLoopback(host);
}

/**
 * Does the Host header name this server? Bound to loopback, only loopback names do: after a
 * rebinding, the browser sends the attacker's name (and, on a same-origin GET, no Origin at
 * all), so this is the check that holds. Bound elsewhere, keys are required and the names
 * people reach the server by are theirs to choose.
 */
export function hostAllowed(host: string | null, bindHost: string): boolean {
  if (!isLoopback(bindHost)) return true;
  // Only host[:port]; anything a URL parser would read as userinfo or a path is not a Host.
  if (host === null || /[@/?#\\\s]/.test(host)) return false;
  const name = hostnameOf(`http://${host}`);
  return name !== undefined && isLoopback(name);
}
