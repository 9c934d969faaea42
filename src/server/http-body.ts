// Reading a request body without letting a client hold the server: a size cap per body, a
// deadline for the whole body (a byte every few seconds is not "idle", so Bun's idle
// timeout never fires), and a cap on the bytes all bodies being read may hold at once.
import type { byteBudget } from "./http-limits.ts";
import { jsonError } from "./http-response.ts";

export type BodyLimits = { maxBytes: number; timeoutMs: number; budget: ReturnType<typeof byteBudget> };

export type BodyResult = { ok: true; body: unknown } | { ok: false; response: Response };

const TIMED_OUT = Symbol("timed out");
// The rest of a refused body is not read; closing the connection is what frees it.
const CLOSE = { Connection: "close" };

export async function readJsonBody(req: Request, { maxBytes, timeoutMs, budget }: BodyLimits): Promise<BodyResult> {
  const declared = req.headers.get("content-length");
  // A body of unknown length may be as long as the cap allows (Bun enforces the cap as it reads).
  const length = declared === null ? maxBytes : Number(declared);
  if (!(length <= maxBytes)) {
    return { ok: false, response: jsonError(413, `The request body is over http.max_body_bytes (${maxBytes} bytes)`, CLOSE) };
  }
  if (!budget.reserve(length)) {
    return { ok: false, response: jsonError(503, "Too many request bodies are being received at once; try again", { ...CLOSE, "Retry-After": "1" }) };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const text = await Promise.race([
      req.text(),
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      }),
    ]);
    if (text === TIMED_OUT) {
      return { ok: false, response: jsonError(408, `The request body did not arrive within http.body_timeout (${timeoutMs / 1000} s)`, CLOSE) };
    }
    try {
      return { ok: true, body: JSON.parse(text) };
    } catch {
      return { ok: false, response: jsonError(400, "Parse error: the body is not JSON", {}, -32700) };
    }
  } catch {
    // Bun ends the read when a body of unknown length passes its cap, or the client hangs up.
    return { ok: false, response: jsonError(413, `The request body is over http.max_body_bytes (${maxBytes} bytes) or was cut off`, CLOSE) };
  } finally {
    clearTimeout(timer);
    budget.release(length);
  }
}
