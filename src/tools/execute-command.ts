import * as v from "valibot";
import { spawnContained } from "../process/contain.ts";
import { openFolderInsideRoots } from "../workspace/open-inside.ts";
import { checkCommand, childEnv } from "./command-policy.ts";
import { defineTool, ToolError } from "./define.ts";

const input = v.object({
  command: v.pipe(v.string(), v.minLength(1, "command must not be empty"), v.description("Shell command line to run")),
  working_dir: v.optional(v.pipe(v.string(), v.description("Folder to run in, inside the workspace (default: the first root)"))),
  timeout: v.optional(
    v.pipe(v.number(), v.gtValue(0, "timeout must be more than 0 seconds"), v.maxValue(3600, "timeout is at most 3600 seconds"), v.description("Seconds before the command and everything it started are killed")),
    30,
  ),
});

const output = v.object({
  exit_code: v.nullable(v.number()),
  stdout: v.string(),
  stderr: v.string(),
  signal: v.nullable(v.string()),
  timed_out: v.boolean(),
  cancelled: v.boolean(),
  duration_ms: v.number(),
  stdout_truncated: v.boolean(),
  stderr_truncated: v.boolean(),
});

type Captured = { text: string; truncated: boolean };

/** Reads a whole stream but keeps only the first `cap` bytes, so a chatty command cannot fill memory. */
async function capture(stream: ReadableStream<Uint8Array>, cap: number, seen: { bytes: number }): Promise<Captured> {
  const kept: Uint8Array[] = [];
  let size = 0;
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    seen.bytes += chunk.length;
    if (size < cap) {
      const part = chunk.length > cap - size ? chunk.subarray(0, cap - size) : chunk;
      kept.push(part);
      size += part.length;
    }
  }
  const text = Buffer.concat(kept).toString("utf8");
  return total > cap ? { text: `${text}\n[output truncated: ${total} bytes, first ${cap} kept (commands.max_output_bytes)]`, truncated: true } : { text, truncated: false };
}

export const executeCommand = defineTool({
  name: "execute_command",
  title: "Execute command",
  description:
    "Run a shell command in a workspace folder. Returns JSON {exit_code, stdout, stderr}; a non-zero exit is an error result. The command and its children are killed at the timeout or on cancel; output is capped.",
  input,
  output,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  ownTimeout: true,
  writes: true,
  async run(args, { workspace, config, signal, log, span: callSpan, progress }) {
    if (!config.commands.enabled) throw new ToolError("Commands are disabled on this server (commands.enabled is false).");
    const verdict = checkCommand(args.command, config.commands.allow, config.commands.deny);
    if (!verdict.ok) throw new ToolError(`${verdict.error[0]?.toUpperCase()}${verdict.error.slice(1)}.`);
    const notFolder = (shown: string) => `working_dir ${shown} is not an existing folder.`;
    // Opened by descriptor (Linux): the folder the command starts in is the one checked,
    // even if a folder on the way is swapped for a symlink meanwhile.
    const folder = await openFolderInsideRoots(workspace, args.working_dir ?? ".", { missing: notFolder, file: notFolder });
    if (!folder.ok) throw new ToolError(folder.error);

    const started = performance.now();
    // The program's name only: a command line can hold anything, and only configured secrets are scrubbed.
    const span = callSpan?.child("mcp.command.execute", { "process.executable.name": args.command.trim().split(/\s+/)[0] ?? "", "mcp.command.timeout": args.timeout });
    let contained: Awaited<ReturnType<typeof spawnContained>>;
    try {
      contained = await spawnContained(args.command, {
        cwd: folder.ref,
        env: { ...childEnv(process.env, config.commands.env_passthrough, config.commands.env_drop), PWD: folder.path },
        log,
        cgroups: config.commands.cgroups,
      });
    } catch (error) {
      span?.end({ errorType: "spawn" });
      throw error;
    } finally {
      folder.close();
    }
    const { proc, kill, finish } = contained;
    let timedOut = false;
    let cancelled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, args.timeout * 1000);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    const cap = config.commands.max_output_bytes;
    const seen = { bytes: 0 };
    const out = capture(proc.stdout, cap, seen);
    const err = capture(proc.stderr, cap, seen);
    // Once a second while it runs: elapsed time and output so far (sent only when the client
    // gave a progressToken; a no-op otherwise). Quick commands never start the timer's work.
    const ticker = setInterval(() => {
      const elapsed = Math.round((performance.now() - started) / 1000);
      progress(elapsed, args.timeout, `running for ${elapsed} s, ${seen.bytes} bytes of output so far`);
    }, 1000);
    const exitCode = await proc.exited;
    clearTimeout(timer);
    clearInterval(ticker);
    signal.removeEventListener("abort", onAbort);
    // The shell is done; anything it left running goes with it (a `sleep 1000 &`, a `setsid`
    // daemon), otherwise it would hold our pipes open and outlive the call.
    finish();
    const [stdout, stderr] = await Promise.all([out, err]);
    const duration = Math.round(performance.now() - started);
    const exit_code = timedOut || cancelled ? null : exitCode;
    const data = {
      exit_code,
      stdout: stdout.text,
      stderr: stderr.text,
      signal: proc.signalCode ?? null,
      timed_out: timedOut,
      cancelled,
      duration_ms: duration,
      stdout_truncated: stdout.truncated,
      stderr_truncated: stderr.truncated,
    };
    log.debug("command finished", { exit_code, duration_ms: duration, timed_out: timedOut });
    span?.end({
      attributes: { "process.exit.code": exit_code ?? undefined, "mcp.command.duration_ms": duration, "mcp.command.timed_out": timedOut, "mcp.command.output_truncated": stdout.truncated || stderr.truncated },
      ...(exit_code === 0 ? {} : { errorType: timedOut ? "timeout" : cancelled ? "cancelled" : "exit_code" }),
    });
    const text = JSON.stringify({ exit_code, stdout: stdout.text, stderr: stderr.text }, null, 2);
    // Upstream's sentence first, as the Python server answered a timeout; the output so far after it.
    if (timedOut) return { text: `Command timed out after ${args.timeout}s`, data, isError: true, note: `${text}\nThe command and its children were killed.` };
    if (cancelled) return { text, data, isError: true, note: "Cancelled; the command and its children were killed." };
    return { text, data, isError: exitCode !== 0 };
  },
});
