// IP addresses as bytes, for the two questions the http server asks of them: is this
// loopback, and is this peer one of the configured proxies. Strings are never compared
// by prefix: "127.0.0.1.attacker.example" is a name, not a loopback address.

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6; undefined for anything else, names included. */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const v6 = parseIpv6(text);
  if (!v6) return undefined;
  // ::ffff:a.b.c.d is how a dual-stack socket reports an IPv4 peer.
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    out[i] = Number(part);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  let s = text.replace(/^\[(.*)\]$/, "$1").replace(/%[^%]*$/, "");
  if (!s.includes(":")) return undefined;
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIpv4(tail);
    if (!v4) return undefined;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const value = Number.parseInt(g, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  }
  return out;
}

/**
 * One spelling per address (IPv4-mapped IPv6 as IPv4, IPv6 as eight uncompressed groups),
 * so that one client is one limiter bucket however its address was written; the input
 * when it is not an address.
 */
export function canonicalIp(text: string): string {
  const ip = parseIp(text);
  if (!ip) return text;
  if (ip.length === 4) return ip.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return groups.join(":");
}

/** Loopback by name or address: `localhost`, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const ip = parseIp(host);
  if (!ip) return false;
  return ip.length === 4 ? ip[0] === 127 : ip.every((b, i) => b === (i === 15 ? 1 : 0));
}

export type IpRange = { bytes: Uint8Array; bits: number };

/** `10.0.0.0/8`, `fd00::/8`, or a single address; undefined when it is neither. */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const bytes = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash === -1) return { bytes, bits: max };
  const bitsText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return undefined;
  return { bytes, bits: Number(bitsText) };
}

export function inRanges(address: string, ranges: readonly IpRange[]): boolean {
  if (ranges.length === 0) return false;
  const ip = parseIp(address);
  if (!ip) return false;
  return ranges.some((r) => r.bytes.length === ip.length && samePrefix(ip, r.bytes, r.bits));
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}
