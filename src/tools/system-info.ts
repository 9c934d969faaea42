import { readFileSync } from "node:fs";
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
  // upstream's key; there is no Python here
  python_version: v.null(),
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

/**
 * As Python's getpass.getuser(), which upstream used: the login variables, then the OS's
 * account of this uid. Bun's os.userInfo() reads $USER and says "unknown" without it (MCP
 * clients often start servers with a bare environment), so the uid is looked up here.
 */
export function userName(env: Record<string, string | undefined> = process.env, uid = process.getuid?.()): string {
  const fromEnv = env.LOGNAME || env.USER || env.LNAME || env.USERNAME;
  if (fromEnv) return fromEnv;
  if (uid === undefined) return "";
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && id === String(uid)) return name;
    }
  } catch {
    // no /etc/passwd (a minimal container): ask id(1) below
  }
  try {
    const r = Bun.spawnSync(["id", "-un"], { stdout: "pipe", stderr: "ignore" });
    if (r.exitCode === 0) return r.stdout.toString().trim();
  } catch {
    // no id(1) either
  }
  return String(uid);
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
      python_version: null,
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
