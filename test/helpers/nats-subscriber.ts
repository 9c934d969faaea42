// A NATS subscriber for tests, over a plain TCP socket: CONNECT, SUB, then every MSG
// parsed into its subject and JSON payload. Enough to see what tfo-mcp published.
export type NatsMessage = { subject: string; data: Record<string, any> };

export async function natsSubscriber(url: string, subject: string): Promise<{ messages: NatsMessage[]; close(): void }> {
  const { hostname, port } = new URL(url);
  const messages: NatsMessage[] = [];
  let buffer = Buffer.alloc(0);
  let ready: () => void;
  const subscribed = new Promise<void>((resolve) => (ready = resolve));
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(sock, chunk) {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const eol = buffer.indexOf("\r\n");
          if (eol < 0) return;
          const line = buffer.subarray(0, eol).toString();
          if (line.startsWith("MSG ")) {
            // MSG <subject> <sid> [reply-to] <#bytes>
            const parts = line.split(" ");
            const size = Number(parts.at(-1));
            if (buffer.length < eol + 2 + size + 2) return;
            const payload = buffer.subarray(eol + 2, eol + 2 + size).toString();
            messages.push({ subject: parts[1]!, data: JSON.parse(payload) });
            buffer = buffer.subarray(eol + 2 + size + 2);
            continue;
          }
          buffer = buffer.subarray(eol + 2);
          if (line.startsWith("INFO ")) {
            sock.write(`CONNECT {"verbose":false,"pedantic":false,"name":"tfo-test"}\r\nSUB ${subject} 1\r\nPING\r\n`);
          } else if (line === "PING") sock.write("PONG\r\n");
          else if (line === "PONG") ready();
        }
      },
    },
  });
  await subscribed;
  return { messages, close: () => socket.end() };
}
