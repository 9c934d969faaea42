export {};
// Reference: the least a JSON-RPC echo over stdio can do in Bun (no SDK, no validation).
// Built by scripts/bench.ts; never shipped.
const decoder = new TextDecoder();
let buffer = "";
const write = (msg: unknown) => process.stdout.write(`${JSON.stringify(msg)}\n`);
for await (const chunk of Bun.stdin.stream()) {
  buffer += decoder.decode(chunk, { stream: true });
  let nl = buffer.indexOf("\n");
  while (nl !== -1) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    nl = buffer.indexOf("\n");
    if (!line) continue;
    const m = JSON.parse(line);
    if (m.id === undefined) continue;
    if (m.method === "initialize") {
      write({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "bare", version: "0" } } });
    } else if (m.method === "tools/call") {
      write({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: `Echo: ${m.params.arguments.message}` }] } });
    } else {
      write({ jsonrpc: "2.0", id: m.id, result: {} });
    }
  }
}
