// The Python server's own shipped config and example environment load and serve unchanged.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { connectBinary, resourceText } from "./helpers/client.ts";
import { runBinary, cleanEnv } from "./helpers/binary.ts";
import { tempDir } from "./helpers/tmp.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "upstream");
const YAML = join(FIXTURES, "tfo-mcp.yaml");

/** KEY=value lines of a .env file (comments and blanks skipped), as a shell would export them. */
function dotenv(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
const ENV = dotenv(join(FIXTURES, "env.example"));

describe("upstream's configs/tfo-mcp.yaml and .env.example", () => {
  test("the YAML loads with no error and no warning; its inert keys are accepted quietly", async () => {
    const r = await loadConfig({ file: YAML, env: {}, cwd: "/", home: "/nonexistent" });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.warnings).toEqual([]);
    expect(r.unknown).toEqual([]);
    // Only inert keys set away from their default are noted (for validate's one line).
    expect(r.inert).toEqual([]);
    expect(r.config.server.version).toBe("1.1.2");
    expect(r.config.claude.default_model).toBe("claude-sonnet-4-20250514");
    expect(r.config.logging.format).toBe("json");
  });

  test("the example environment loads with no error and no warning, mapped as upstream mapped it", async () => {
    const r = await loadConfig({ env: ENV, cwd: "/", home: "/nonexistent" });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.warnings).toEqual([]);
    expect(r.config.claude.api_key).toBe("your-anthropic-api-key-here");
    expect(r.config.telemetry.api_key).toBe("your-telemetryflow-api-key-here");
    expect(r.config.telemetry.endpoint).toBe("localhost:4317");
    expect(r.config.telemetry.batch_max_size).toBe(512);
    // TELEMETRYFLOW_MCP_TELEMETRY_ENABLED is upstream's inert MCP-telemetry switch, not the export.
    expect(r.config.telemetry.enabled).toBe(false);
    expect(r.config.telemetry_mcp.enabled).toBe(true);
    expect(r.config.database.postgres_url).toBe("postgres://postgres:postgres@localhost:5432/telemetryflow_mcp?sslmode=disable");
    expect(r.config.cache.cache_ttl).toBe(300);
    // A URL alone connects to nothing.
    expect([r.config.storage.backend, r.config.cache.backend, r.config.queue.backend, r.config.analytics.backend]).toEqual(["sqlite", "memory", "none", "none"]);
  });

  test("both together through the binary: validate passes, serve answers", async () => {
    const dir = tempDir("tfo-upstream-");
    try {
      const env = cleanEnv({ ...ENV, HOME: dir.path });
      const v = await runBinary(["validate", "-c", YAML], { cwd: dir.path, env });
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
      expect(v.stdout).toContain("Configuration OK");
      const c = await connectBinary({ args: ["-c", YAML, "--root", dir.path], env: { ...ENV } });
      try {
        const config = JSON.parse(resourceText(await c.client.readResource({ uri: "config://server" })));
        expect(config.server.name).toBe("TelemetryFlow-MCP");
        expect(config.claude.api_key).toBe("********");
      } finally {
        await c.close();
      }
    } finally {
      dir.cleanup();
    }
  });

  test("Python's spellings: level names in any case, pydantic booleans, lower-case names, null base_url, clamped values", async () => {
    const r = await loadConfig({
      env: { telemetryflow_mcp_log_level: "WARNING", TELEMETRYFLOW_MCP_SERVER_DEBUG: "T", TELEMETRYFLOW_MCP_CLAUDE_TEMPERATURE: "1.5", TELEMETRYFLOW_MCP_CLAUDE__MAX_TOKENS: "200000" },
      cwd: "/",
      home: "/nonexistent",
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect([r.config.logging.level, r.config.server.debug, r.config.claude.temperature, r.config.claude.max_tokens]).toEqual(["warn", true, 1, 128000]);
    expect(r.warnings).toEqual([
      "claude.temperature: 1.5 is above 1 (the Messages API accepts 0 to 1); using 1",
      "claude.max_tokens: 200000 is above 128000 (no Claude model writes more than 128000 tokens); using 128000",
    ]);
    const dir = tempDir("tfo-null-");
    try {
      const file = join(dir.path, "c.yaml");
      await Bun.write(file, "claude:\n  base_url: null\nlogging:\n  level: CRITICAL\n  output: stdout\nserver:\n  debug: 'yes'\n  transport: sse\n");
      const y = await loadConfig({ file, env: {}, cwd: dir.path, home: dir.path });
      if (!y.ok) throw new Error(JSON.stringify(y.problems));
      expect([y.config.claude.base_url, y.config.logging.level, y.config.logging.output, y.config.server.debug, y.config.server.transport]).toEqual(["", "error", "stderr", true, "sse"]);
      expect(y.warnings).toEqual(["logging.output: stdout carries the MCP protocol on the stdio transport; logging to stderr instead"]);
    } finally {
      dir.cleanup();
    }
  });
});
