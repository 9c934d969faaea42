// Connects the SDK Server to a transport whose messages are already checked.
//
// The SDK's Protocol sorts every incoming message by trying up to three zod schemas in
// turn (response? error? request?), two of them failing on each request: a fifth of
// the CPU of a pipelined echo call in a profile. Our stdio transport has already
// classified and validated each line, so we hand messages to the Protocol's own
// request/notification/response entry points directly. These are internal methods of
// the SDK version pinned in package.json; if they are missing, the stock path is kept.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";

type Internals = {
  _onrequest?: (message: unknown, extra?: unknown) => void;
  _onnotification?: (message: unknown) => void;
  _onresponse?: (message: unknown) => void;
};

export async function connectServer(server: Server, transport: Transport, { checked }: { checked: boolean }): Promise<"direct" | "stock"> {
  await server.connect(transport);
  const p = server as unknown as Internals;
  if (!checked || typeof p._onrequest !== "function" || typeof p._onnotification !== "function" || typeof p._onresponse !== "function") return "stock";
  const onrequest = p._onrequest.bind(server);
  const onnotification = p._onnotification.bind(server);
  const onresponse = p._onresponse.bind(server);
  transport.onmessage = (message, extra) => {
    const m = message as { method?: unknown; id?: unknown };
    if (typeof m.method === "string") {
      if (m.id === undefined) onnotification(message);
      else onrequest(message, extra);
    } else onresponse(message);
  };
  return "direct";
}
