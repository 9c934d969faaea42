// An SDK Client talking to the real binary over stdio, as an MCP client would.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { binary, cleanEnv } from "./binary.ts";

export type Connected = { client: Client; transport: StdioClientTransport; stderr: () => string; close(): Promise<void> };

export async function connectBinary(
  opts: { args?: string[]; cwd?: string; env?: Record<string, string>; protocolVersion?: string; capabilities?: Record<string, unknown>; client?: Client } = {},
): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: await binary(),
    args: ["serve", ...(opts.args ?? [])],
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const client = opts.client ?? new Client({ name: "tfo-e2e", version: "1.0.0" }, { capabilities: opts.capabilities ?? {} });
  await client.connect(transport);
  await listToolsFirst(client);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

/**
 * Every test client lists the tools first, as real clients do: the SDK then checks each
 * structuredContent against the tool's outputSchema, so a mismatch fails the test.
 */
export async function listToolsFirst(client: Client) {
  if (client.getServerCapabilities()?.tools) await client.listTools();
}

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content: { type: string; text?: string }[] }).content;
  return content[0]?.text ?? "";
}

/** The text of a resource read's first contents entry. */
export function resourceText(result: { contents: unknown[] }): string {
  return (result.contents[0] as { text: string }).text;
}
