// A local Messages API that plays a model using one tool: asked with that tool on offer,
// it calls it once; handed the tool's result, it records it and answers with text.
// Agents such as Claude Code also send side requests (titles, token counts, a HEAD probe);
// those get a plain reply, so only the conversation that offers the tool drives the script.
export type ToolScript = {
  /** picks the tool to call from the names in the request's `tools` (clients rename MCP tools) */
  pick: (names: string[]) => string | undefined;
  input: Record<string, unknown>;
  /** the model's last word, once it has the tool's result */
  finalText: string;
};

export type ToolResultSeen = { toolName: string; isError: boolean; text: string; raw: unknown };

type Block = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };
type Message = { role: string; content: string | { type: string; tool_use_id?: string; is_error?: boolean; content?: unknown }[] };

const TOOL_USE_ID = "toolu_fake_01";

export function startFakeToolModel(script: ToolScript) {
  const requests: { path: string; body: Record<string, any> }[] = [];
  const offered: string[][] = [];
  const results: ToolResultSeen[] = [];
  let called: string | undefined;

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      // Claude Code probes the base URL before its first call.
      if (req.method !== "POST") return new Response(null, { status: 200 });
      const body = (await req.json().catch(() => ({}))) as Record<string, any>;
      requests.push({ path: url.pathname, body });
      if (url.pathname === "/v1/messages/count_tokens") return Response.json({ input_tokens: JSON.stringify(body).length >> 2 });
      if (url.pathname !== "/v1/messages") return new Response("not found", { status: 404 });

      const names = ((body.tools ?? []) as { name: string }[]).map((t) => t.name);
      const tool = script.pick(names);
      if (tool) offered.push(names);
      const result = toolResultIn(body.messages ?? []);
      let blocks: Block[];
      if (result && called) {
        results.push({ toolName: called, isError: result.is_error === true, text: textOf(result.content), raw: result.content });
        blocks = [{ type: "text", text: script.finalText }];
      } else if (tool && !result) {
        called = tool;
        blocks = [{ type: "tool_use", id: TOOL_USE_ID, name: tool, input: script.input }];
      } else {
        blocks = [{ type: "text", text: "ok" }];
      }
      const stop = blocks[0]!.type === "tool_use" ? "tool_use" : "end_turn";
      const message = { id: `msg_${requests.length}`, type: "message", role: "assistant", model: body.model, stop_sequence: null };
      const usage = { input_tokens: 10, output_tokens: 5 };
      if (!body.stream) return Response.json({ ...message, content: blocks, stop_reason: stop, usage });
      return new Response(sse(message, blocks, stop), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    /** the tool names of every request that offered the scripted tool */
    offered,
    /** what the client sent back for the tool call, in order */
    results,
    stop: () => server.stop(true),
  };
}

/** The Messages streaming event sequence for a finished reply. */
function sse(message: Record<string, unknown>, blocks: Block[], stop: string): ReadableStream {
  const events: [string, unknown][] = [["message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } }]];
  blocks.forEach((b, index) => {
    if (b.type === "tool_use") {
      events.push(["content_block_start", { type: "content_block_start", index, content_block: { ...b, input: {} } }]);
      events.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(b.input) } }]);
    } else {
      events.push(["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }]);
      events.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: b.text } }]);
    }
    events.push(["content_block_stop", { type: "content_block_stop", index }]);
  });
  events.push(["message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } }]);
  events.push(["message_stop", { type: "message_stop" }]);
  const text = events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
  return new Response(text).body!;
}

/** The tool_result answering our call, in the last user message, if there is one. */
function toolResultIn(messages: Message[]) {
  const last = messages.at(-1);
  if (last?.role !== "user" || typeof last.content === "string") return undefined;
  return last.content.find((c) => c.type === "tool_result" && c.tool_use_id === TOOL_USE_ID);
}

/** A tool_result's content is a string or a list of blocks; the text blocks, joined. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((c): c is { type: "text"; text: string } => c?.type === "text")
    .map((c) => c.text)
    .join("");
}
