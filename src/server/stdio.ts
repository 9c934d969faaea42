// Newline-delimited JSON-RPC over stdin/stdout that holds against anything on stdin.
// The SDK's stock transport drops a line it cannot parse without answering and buffers
// without bound; this one answers every bad line as JSON-RPC says and caps a line's size.
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { coalescingWriter } from "../coalesce.ts";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

type Id = string | number;
export type Verdict = { ok: true; message: JSONRPCMessage } | { ok: false; id: Id | null; code: number; message: string };

const isId = (x: unknown): x is Id => typeof x === "string" || (typeof x === "number" && Number.isFinite(x));

/** Pure: one line of text → a message to hand on, or the error to answer with. */
export function classifyLine(line: string): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, id: null, code: PARSE_ERROR, message: `Parse error: ${(error as Error).message}` };
  }
  if (Array.isArray(value)) return { ok: false, id: null, code: INVALID_REQUEST, message: "Invalid Request: JSON-RPC batches are not supported; send one message per line" };
  if (typeof value !== "object" || value === null) {
    return { ok: false, id: null, code: INVALID_REQUEST, message: "Invalid Request: a message must be a JSON object" };
  }
  const m = value as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  const bad = (why: string): Verdict => ({ ok: false, id, code: INVALID_REQUEST, message: `Invalid Request: ${why}` });
  if (m.jsonrpc !== "2.0") return bad('"jsonrpc" must be "2.0"');
  if ("method" in m) {
    if (typeof m.method !== "string" || m.method === "") return bad('"method" must be a non-empty string');
    if ("id" in m && !isId(m.id)) return bad('"id" must be a string or a number');
    if ("params" in m && (typeof m.params !== "object" || m.params === null || Array.isArray(m.params))) return bad('"params" must be an object');
    return { ok: true, message: m as JSONRPCMessage };
  }
  if (isId(m.id) && ("result" in m || "error" in m)) return { ok: true, message: m as JSONRPCMessage };
  return bad('a message needs a "method" (request or notification) or an "id" with "result" or "error" (response)');
}

export type StdioOptions = {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  maxLineBytes?: number;
  /** how long requests still running may finish after stdin ends */
  drainMs?: number;
};

export function createStdioTransport({ input = process.stdin, output = process.stdout, maxLineBytes = DEFAULT_MAX_LINE_BYTES, drainMs = 10_000 }: StdioOptions = {}): Transport {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let discarding = false;
  let closed = false;
  let inputEnded = false;
  // Backpressure: while the client is not reading what we wrote, no new request is read or
  // started, so a slow reader cannot make the server buffer without bound.
  let paused = false;
  const backlog: Buffer[] = [];
  // Requests we are still answering; a second request with the same id is refused, not mixed up.
  const inFlight = new Set<Id>();

  const out = coalescingWriter({
    write(text: string) {
      // A stream says false when its buffer is over its high-water mark; "drain" says it emptied.
      if (output.write(text) === false && !paused && !closed) {
        paused = true;
        input.pause();
        output.once("drain", resume);
      }
    },
  });
  function resume() {
    paused = false;
    while (backlog.length && !paused && !closed) handleLine(backlog.shift()!);
    if (!paused && !closed) {
      input.resume();
      if (inputEnded) finishInput();
    }
  }
  const write = (message: unknown) => {
    if (closed) return;
    out.write(`${JSON.stringify(message)}\n`);
  };
  const answerError = (id: Id | null, code: number, message: string) => write({ jsonrpc: "2.0", id, error: { code, message } });

  const transport: Transport = {
    async start() {
      input.on("data", onData);
      input.on("end", drainThenClose);
      input.on("error", (error: Error) => transport.onerror?.(error));
      output.on("error", () => close());
    },
    async send(message) {
      const m = message as { id?: Id; method?: string };
      if (m.method === undefined && m.id !== undefined) inFlight.delete(m.id);
      write(message);
      if (inputEnded && inFlight.size === 0 && !paused && backlog.length === 0) close();
    },
    async close() {
      close();
    },
  };

  // stdin ended (the client is gone, or a script piped its requests in): answer what is
  // already running, for a while, then close, which aborts the rest.
  function drainThenClose() {
    // A last request written without a newline before stdin closed is still a request.
    if (pending.length && !discarding) dispatch(Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
    inputEnded = true;
    if (!paused) finishInput();
  }

  function finishInput() {
    if (inFlight.size === 0) return close();
    setTimeout(close, drainMs).unref?.();
  }

  function close() {
    if (closed) return;
    out.flush();
    closed = true;
    input.off("data", onData);
    pending = [];
    transport.onclose?.();
  }

  /** A complete line: handled now, or kept (copied: the chunk's buffer may be reused) while output is backed up. */
  function dispatch(bytes: Buffer) {
    if (paused || backlog.length) backlog.push(Buffer.from(bytes));
    else handleLine(bytes);
  }

  function handleLine(bytes: Buffer) {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 13) end--;
    const text = bytes.toString("utf8", 0, end);
    if (text.trim() === "") return;
    const verdict = classifyLine(text);
    if (!verdict.ok) return answerError(verdict.id, verdict.code, verdict.message);
    const m = verdict.message as { id?: Id; method?: string };
    if (m.method === "notifications/cancelled") {
      // A cancelled request gets no response, so it would never leave the set otherwise.
      const cancelled = (verdict.message as { params?: { requestId?: unknown } }).params?.requestId;
      if (isId(cancelled)) inFlight.delete(cancelled);
    } else if (m.method !== undefined && m.id !== undefined) {
      if (inFlight.has(m.id)) return answerError(m.id, INVALID_REQUEST, `Invalid Request: id ${JSON.stringify(m.id)} is already in use by a request still running`);
      inFlight.add(m.id);
    }
    transport.onmessage?.(verdict.message);
  }

  function onData(chunk: Buffer | string) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    // Only the new chunk is scanned for a newline; what came before had none.
    let nl = buf.indexOf(10);
    while (nl !== -1) {
      if (discarding) discarding = false;
      else if (pendingBytes + nl > maxLineBytes) tooLong();
      else dispatch(pending.length ? Buffer.concat([...pending, buf.subarray(0, nl)]) : buf.subarray(0, nl));
      pending = [];
      pendingBytes = 0;
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(10);
    }
    if (buf.length === 0 || discarding) return;
    if (pendingBytes + buf.length > maxLineBytes) {
      tooLong();
      discarding = true;
      pending = [];
      pendingBytes = 0;
      return;
    }
    pending.push(buf);
    pendingBytes += buf.length;
  }

  function tooLong() {
    answerError(null, INVALID_REQUEST, `Invalid Request: message longer than ${maxLineBytes} bytes; it was discarded`);
  }

  return transport;
}
