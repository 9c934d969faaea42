// Reference: the smallest echo server on @modelcontextprotocol/sdk (McpServer + stock stdio).
// Built by scripts/bench.ts with --compile --minify --bytecode; never shipped.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "sdk-echo", version: "0" });
server.tool("echo", { message: z.string() }, async ({ message }) => ({ content: [{ type: "text", text: `Echo: ${message}` }] }));
await server.connect(new StdioServerTransport());
