// The one logger: consola with a reporter that writes to stderr (or a file), never stdout,
// as text or JSON lines, with every known secret redacted.
import { appendFileSync } from "node:fs";
// consola/core: the full entry pulls in its fancy reporters, ~15 ms of start-up we never use.
import { createConsola, type LogObject } from "consola/core";
import { coalescingWriter } from "./coalesce.ts";

export type Fields = Record<string, unknown>;
export type Logger = {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
};
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LoggerOptions = {
  level: LogLevel;
  format: "text" | "json";
  /** "stderr" or a file path */
  output: string;
  secrets?: string[];
  /** seam for tests */
  write?: (line: string) => void;
};

const CONSOLA_LEVEL: Record<LogLevel, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 };
const NAME_OF: Record<number, string> = { 0: "error", 1: "warn", 2: "info", 3: "info", 4: "debug", 5: "debug" };

export function redactor(secrets: string[]): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join("***");
    return out;
  };
}

export function formatLine(format: "text" | "json", level: string, message: string, fields: Fields | undefined, date: Date): string {
  // structlog's field names, as the Python server wrote them: existing log pipelines keep working.
  if (format === "json") return JSON.stringify({ timestamp: date.toISOString(), level: level === "warn" ? "warning" : level, logger: "tfo_mcp", event: message, ...fields });
  const extra = fields
    ? Object.entries(fields)
        .map(([k, val]) => `${k}=${typeof val === "string" ? (/[\s"=]/.test(val) ? JSON.stringify(val) : val) : JSON.stringify(val)}`)
        .join(" ")
    : "";
  return `${date.toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ""}`;
}

/** Log lines leave in batches, once per turn of the event loop: logging stays off the hot path. */
function writerFor(output: string): (line: string) => void {
  if (output === "stderr" || output === "") {
    const err = coalescingWriter(process.stderr);
    process.once("exit", err.flush);
    return (line) => err.write(`${line}\n`);
  }
  const file = coalescingWriter({ write: (text: string) => appendFileSync(output, text) });
  process.once("exit", file.flush);
  return (line) => file.write(`${line}\n`);
}

export function createLogger(opts: LoggerOptions): Logger {
  const redact = redactor(opts.secrets ?? []);
  const write = opts.write ?? writerFor(opts.output);
  const consola = createConsola({
    level: CONSOLA_LEVEL[opts.level],
    // consola folds repeated lines by default; audit lines must each be kept.
    throttle: 0,
    reporters: [
      {
        log(obj: LogObject) {
          const [message, fields] = obj.args as [string, Fields | undefined];
          write(redact(formatLine(opts.format, NAME_OF[obj.level] ?? "info", String(message), fields, obj.date)));
        },
      },
    ],
  });
  return {
    debug: (m, f) => consola.debug(m, f),
    info: (m, f) => consola.info(m, f),
    warn: (m, f) => consola.warn(m, f),
    error: (m, f) => consola.error(m, f),
  };
}

export type LogRecordSink = (record: { level: "debug" | "info" | "warn" | "error"; message: string; attributes?: Fields }) => void;

/**
 * A logger that writes what `log` writes and also hands each record it keeps at `level` to
 * `sink` (OTLP logs). The sink redacts with the same redactor and secrets as the lines,
 * after its rate limit: a record it drops costs no redaction.
 */
export function teeLogger(log: Logger, opts: { level: LogLevel; sink: LogRecordSink }): Logger {
  // consola's numbers: a record is kept when its level's is at most the threshold's.
  const max = CONSOLA_LEVEL[opts.level];
  const tee =
    (level: "debug" | "info" | "warn" | "error") =>
    (message: string, fields?: Fields) => {
      log[level](message, fields);
      if (CONSOLA_LEVEL[level] <= max) opts.sink({ level, message, attributes: fields });
    };
  return { debug: tee("debug"), info: tee("info"), warn: tee("warn"), error: tee("error") };
}
