// What would make an http server unsafe to start: keys too short to be keys, or a server
// reachable by others without any key. Refused by `serve` and reported by `validate`,
// from one rule.
import type { Config } from "../config/schema.ts";
import { isLoopback } from "./ip.ts";

/** Shorter keys can be guessed, and "" would let every request in. */
export const MIN_KEY_LENGTH = 16;

/** `storeKeys`: whether the store holds API keys (tfo-mcp keys add); then every request needs a key. */
export function httpExposureProblem(config: Config, roots: string[], storeKeys = false): string | undefined {
  // sse and websocket select the same http server.
  if (config.server.transport === "stdio") return undefined;
  const short = config.http.api_keys.flatMap((key, i) => (key.length < MIN_KEY_LENGTH ? [`http.api_keys.${i} (${key.length === 0 ? "empty" : `${key.length} characters`})`] : []));
  if (short.length) {
    return `refusing to serve http with ${short.join(", ")}: every key must be at least ${MIN_KEY_LENGTH} characters. Make one with \`openssl rand -hex 32\`.`;
  }
  if (isLoopback(config.server.host) || config.http.api_keys.length > 0 || storeKeys) return undefined;
  return `refusing to serve http on ${config.server.host} without keys: anyone who can reach it could read and run things in ${roots.join(", ") || "the workspace"}. Add one with \`tfo-mcp keys add NAME\`, set http.api_keys (TELEMETRYFLOW_MCP_HTTP__API_KEYS), or bind to 127.0.0.1.`;
}
