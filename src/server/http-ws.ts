// MCP over WebSocket (subprotocol `mcp`, as the SDK's WebSocketClientTransport speaks it):
// one session per connection, one JSON-RPC message (or batch) per text frame. Bun.serve
// does the upgrade after http.ts has admitted the request; this is the Transport over the
// socket it hands us.
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ServerWebSocket } from "bun";

export const WS_PATH = "/ws";
export const WS_SUBPROTOCOL = "mcp";

export type WsTransport = Transport & { sessionId: string; /** the socket closed, by either side */ gone(): void };

/** Whether the upgrade asks for our subprotocol (Sec-WebSocket-Protocol is a comma-separated list). */
export const asksForMcp = (header: string | null) => (header ?? "").split(",").some((p) => p.trim() === WS_SUBPROTOCOL);

/** `sent`: told of each message after it went to the socket (http.ts sees calls end by it). */
export function wsTransport<T>(ws: ServerWebSocket<T>, sessionId: string, sent: (message: JSONRPCMessage) => void): WsTransport {
  let closed = false;
  const transport: WsTransport = {
    sessionId,
    async start() {},
    async send(message) {
      if (closed) throw new Error("Not connected: the WebSocket of this session is closed");
      // Bun queues what the peer has not taken yet; -1 would be backpressure, 0 a dropped frame.
      if (ws.send(JSON.stringify(message)) === 0) throw new Error("The WebSocket of this session dropped a message");
      sent(message);
    },
    async close() {
      if (closed) return;
      closed = true;
      ws.close(1000, "session ended");
      transport.onclose?.();
    },
    gone() {
      if (closed) return;
      closed = true;
      transport.onclose?.();
    },
  };
  return transport;
}
