import { maskSecrets } from "../config/describe.ts";
import { VERSION } from "../version.ts";
import type { Resource } from "./define.ts";

export const serverConfig: Resource = {
  uri: "config://server",
  // upstream's name (clients show it); ours is the title
  name: "Server Configuration",
  title: "Server configuration",
  description: "Current server configuration: the effective configuration of this server, secrets masked.",
  mimeType: "application/json",
  async read({ config, workspace, stats }) {
    const masked = maskSecrets(config);
    // Upstream's camelCase fields beside ours, so readers of the Python server's body keep working.
    const effective = {
      ...masked,
      server: { ...masked.server, version: config.server.version || VERSION },
      mcp: {
        ...masked.mcp,
        protocolVersion: stats.protocolVersion ?? config.mcp.protocol_version,
        enableTools: config.mcp.enable_tools,
        enableResources: config.mcp.enable_resources,
        enablePrompts: config.mcp.enable_prompts,
      },
      workspace: { ...masked.workspace, roots: workspace.roots },
    };
    return { uri: "config://server", mimeType: "application/json", text: JSON.stringify(effective, null, 2) };
  },
};

export const health: Resource = {
  uri: "status://health",
  name: "Health Status",
  title: "Health",
  description: "Server health status: version, uptime, session, roots in effect and call counters.",
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
      session: {
        id: stats.sessionId ?? null,
        state: stats.state ?? "ready",
        toolCount: stats.offered?.tools ?? 0,
        resourceCount: stats.offered?.resources ?? 0,
        promptCount: stats.offered?.prompts ?? 0,
        client: stats.client ?? null,
        protocol_version: stats.protocolVersion ?? null,
      },
      workspace: { roots: workspace.roots, why: workspace.why },
      counters: { tool_calls: stats.toolCalls, tool_errors: stats.toolErrors },
      storage,
      ...(stats.backends ? { backends: stats.backends() } : {}),
      memory_rss_bytes: process.memoryUsage.rss(),
    };
    return { uri: "status://health", mimeType: "application/json", text: JSON.stringify(body, null, 2) };
  },
};
