import os from "node:os";
import * as v from "valibot";
import { VERSION } from "../version.ts";
import { defineTool, readOnly } from "./define.ts";

const output = v.object({
  platform: v.string(),
  platform_release: v.string(),
  platform_version: v.string(),
  architecture: v.string(),
  processor: v.string(),
  hostname: v.string(),
  cwd: v.string(),
  user: v.string(),
  cpu_count: v.number(),
  memory_total_bytes: v.number(),
  memory_free_bytes: v.number(),
  runtime: v.string(),
  server_name: v.string(),
  server_version: v.string(),
  workspace_roots: v.array(v.string()),
});

// The names Python's platform module gives, which upstream clients already expect.
const PLATFORM: Record<string, string> = { linux: "Linux", darwin: "Darwin", win32: "Windows", freebsd: "FreeBSD" };
const MACHINE: Record<string, string> = { x64: "x86_64", arm64: process.platform === "linux" ? "aarch64" : "arm64", ia32: "i386" };

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? "";
  }
}

export const systemInfo = defineTool({
  name: "system_info",
  title: "System information",
  description: "Operating system, architecture, host, user, CPUs, memory and server version of the machine running tfo-mcp.",
  input: v.object({}),
  output,
  annotations: readOnly,
  async run(_args, { config, workspace }) {
    const cpus = os.cpus();
    const data = {
      platform: PLATFORM[process.platform] ?? process.platform,
      platform_release: os.release(),
      platform_version: os.version(),
      architecture: MACHINE[process.arch] ?? process.arch,
      processor: cpus[0]?.model ?? "",
      hostname: os.hostname(),
      cwd: process.cwd(),
      user: userName(),
      cpu_count: cpus.length,
      memory_total_bytes: os.totalmem(),
      memory_free_bytes: os.freemem(),
      runtime: `bun ${Bun.version}`,
      server_name: config.server.name,
      server_version: config.server.version || VERSION,
      workspace_roots: workspace.roots,
    };
    return { text: JSON.stringify(data, null, 2), data };
  },
});
