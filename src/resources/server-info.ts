import { maskSecrets } from "../config/describe.ts";
import { VERSION } from "../version.ts";
import type { Resource } from "./define.ts";

export const serverConfig: Resource = {
  uri: "config://server",
  name: "server-config",
  title: "Server configuration",
  description: "The effective configuration of this server, secrets masked.",
  mimeType: "application/json",
  async read({ config, workspace }) {
    const masked = maskSecrets(config);
    const effective = { ...masked, workspace: { ...masked.workspace, roots: workspace.roots } };
    return { uri: "config://server", mimeType: "application/json", text: JSON.stringify(effective, null, 2) };
  },
};

export const health: Resource = {
  uri: "status://health",
  name: "health",
  title: "Health",
  description: "Server status: version, uptime, session and call counters.",
  mimeType: "application/json",
  async read({ config, stats, store, workspace }) {
    let storage: Record<string, unknown>;
    try {
      const s = await store();
      storage = { url: s.describe, ...(await s.counts()) };
    } catch (error) {
      storage = { error: (error as Error).message };
    }
    const body = {
      status: "error" in storage ? "degraded" : "healthy",
      version: config.server.version || VERSION,
      uptime_seconds: Math.round((Date.now() - stats.startedAt) / 1000),
      session: { client: stats.client ?? null, protocol_version: stats.protocolVersion ?? null },
      workspace: { roots: workspace.roots, why: workspace.why },
      counters: { tool_calls: stats.toolCalls, tool_errors: stats.toolErrors },
      storage,
      memory_rss_bytes: process.memoryUsage.rss(),
    };
    return { uri: "status://health", mimeType: "application/json", text: JSON.stringify(body, null, 2) };
  },
};
