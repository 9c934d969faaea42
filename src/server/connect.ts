// Connects the SDK Server to a transport whose messages are already checked.
//
// The SDK's Protocol sorts every incoming message by trying up to three zod schemas in
// turn (response? error? request?), two of them failing on each request: a fifth of
// the CPU of a pipelined echo call in a profile. Our stdio transport has already
// classified and validated each line, so we hand messages to the Protocol's own
// request/notification/response entry points directly (sdk-internals.ts); if this SDK
// version lacks them, the stock path is kept.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { protocolEntryPoints } from "./sdk-internals.ts";

export async function connectServer(server: Server, transport: Transport, { checked }: { checked: boolean }): Promise<"direct" | "stock"> {
  await server.connect(transport);
  const entry = checked ? protocolEntryPoints(server) : undefined;
  if (!entry) return "stock";
  transport.onmessage = (message, extra) => {
    const m = message as { method?: unknown; id?: unknown };
    if (typeof m.method === "string") {
      if (m.id === undefined) entry.notification(message);
      else entry.request(message, extra);
    } else entry.response(message);
  };
  return "direct";
}
