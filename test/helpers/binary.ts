// Builds the real binary once per test run (bun test runs every file in one process).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../../build.ts";

let built: Promise<string> | undefined;

export function binary(): Promise<string> {
  built ??= buildBinary({ outfile: join(mkdtempSync(join(tmpdir(), "tfo-bin-")), "tfo-mcp") });
  return built;
}

export type RunResult = { code: number; stdout: string; stderr: string };

/** Runs the binary to completion with the given args, folder and environment. */
export async function runBinary(args: string[], opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn([await binary(), ...args], {
    cwd: opts.cwd,
    env: opts.env ?? cleanEnv(),
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

let dataHome: string | undefined;

/**
 * The environment without anything of ours or Anthropic's, and with the default
 * storage (XDG_DATA_HOME) in a temp folder, so tests never write to the real home.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("TELEMETRYFLOW_") && !k.startsWith("ANTHROPIC_")) env[k] = v;
  }
  dataHome ??= mkdtempSync(join(tmpdir(), "tfo-data-"));
  return { ...env, XDG_DATA_HOME: dataHome, ...extra };
}
