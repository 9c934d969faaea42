// The 2024-11-05 HTTP+SSE transport for clients that still speak it, on Bun.serve: a GET
// opens an event stream whose first event (`endpoint`) names the URL to POST messages to,
// the server's messages go down the stream as `message` events, and each POST hands the
// client's messages in (answered 202). The SDK's SSEServerTransport needs Node's req/res.
// Who may open or post, and which session a POST reaches, http.ts decides.
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";

export const SSE_PATH = "/sse";
export const MESSAGES_PATH = "/messages";

export type SseTransport = Transport & {
  sessionId: string;
  /** The GET's response: the event stream, its `endpoint` event first. */
  response: Response;
};

const encoder = new TextEncoder();
const event = (name: string, data: string) => encoder.encode(`event: ${name}\ndata: ${data}\n\n`);

/**
 * Messages of a POST body (one, or a batch), each checked; or what was wrong. The SDK
 * checks again what it takes in, but a body that is not JSON-RPC is the client's to hear.
 */
export function clientMessages(body: unknown): { ok: true; messages: JSONRPCMessage[] } | { ok: false; message: string } {
  const all = Array.isArray(body) ? body : [body];
  if (all.length === 0) return { ok: false, message: "Invalid request: an empty batch" };
  const messages: JSONRPCMessage[] = [];
  for (const m of all) {
    const parsed = JSONRPCMessageSchema.safeParse(m);
    if (!parsed.success) return { ok: false, message: "Invalid request: the body is not a JSON-RPC 2.0 message (or a batch of them)" };
    messages.push(parsed.data);
  }
  return { ok: true, messages };
}

// A comment line every so often: proxies cut a stream that is quiet for long (nginx after
// 60 s by default), and a session that is only waiting would lose its stream.
export const KEEPALIVE_MS = 15_000;
const keepalive = encoder.encode(": keepalive\n\n");

/** `sent`: told of each message after it was queued on the stream (http.ts sees calls end by it). */
export function sseTransport(sessionId: string, sent: (message: JSONRPCMessage) => void, keepaliveMs = KEEPALIVE_MS): SseTransport {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const timer = setInterval(() => {
    try {
      controller.enqueue(keepalive);
    } catch {
      // The client went away between two beats; cancel() ends the session.
    }
  }, keepaliveMs);
  // A quiet session must not keep the process alive on its own.
  timer.unref?.();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      // Relative, so a client reaching us through a proxy posts to the name it used.
      c.enqueue(event("endpoint", `${MESSAGES_PATH}?sessionId=${sessionId}`));
    },
    // The client went away: the session is over (this transport has no resumption).
    cancel() {
      void transport.close();
    },
  });
  const transport: SseTransport = {
    sessionId,
    response: new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", connection: "keep-alive" } }),
    async start() {},
    async send(message) {
      if (closed) throw new Error("Not connected: the SSE stream of this session is closed");
      controller.enqueue(event("message", JSON.stringify(message)));
      sent(message);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        controller.close();
      } catch {
        // Already cancelled by the client.
      }
      transport.onclose?.();
    },
  };
  return transport;
}
