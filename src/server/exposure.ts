// Whether an http server would be reachable by others without a key: refused by `serve`
// and reported by `validate`, from one rule.
import type { Config } from "../config/schema.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export const isLoopback = (host: string) => LOOPBACK.has(host) || host.startsWith("127.");

export function httpExposureProblem(config: Config, roots: string[]): string | undefined {
  if (config.server.transport !== "http" || isLoopback(config.server.host) || config.http.api_keys.length > 0) return undefined;
  return `refusing to serve http on ${config.server.host} without http.api_keys: anyone who can reach it could read and run things in ${roots.join(", ") || "the workspace"}. Set http.api_keys (TELEMETRYFLOW_MCP_HTTP__API_KEYS) or bind to 127.0.0.1.`;
}
