// A local HTTP server that speaks the Anthropic Messages API (JSON and SSE streaming),
// and can be told to fail: 429 with retry-after, 529, 500, 401, a malformed body, or a hang.
// Every 429 and 5xx says retry-after-ms (1 ms unless a step says otherwise), so the SDK's
// retries never wait its real backoff (0.5 s, 1 s, 2 s, ...) in a test.
// It can play a model that uses tools (a "tool_use" step), and it refuses what the real API
// refuses about tool blocks (unpaired tool_use / tool_result, tool blocks without tools,
// empty text), so a test sees a request the API would reject fail here too.
export type ToolCall = { name: string; input: Record<string, unknown>; id?: string };
export type Step =
  | { kind: "reply"; text?: string; chunks?: number; delayMs?: number; stopReason?: string }
  | { kind: "tool_use"; calls: ToolCall[]; text?: string }
  | { kind: "status"; status: number; type?: string; message?: string; retryAfterMs?: number }
  | { kind: "malformed" }
  | { kind: "hang" };

/** `at`: when the request arrived (performance.now()) */
export type Recorded = { body: Record<string, any>; headers: Record<string, string>; at: number };

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export function startFakeAnthropic() {
  const script: Step[] = [];
  const requests: Recorded[] = [];
  let hung = 0;
  // Requests the client gave up on while we held them: a hang or a stream cut short.
  let abandoned = 0;
  let toolIds = 0;
  // What the fake refused as the real API would, for a test to show.
  const refused: string[] = [];

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/messages") return new Response("not found", { status: 404 });
      // The SDK sends the key as x-api-key or as a bearer token, depending on its version.
      if (!req.headers.get("x-api-key") && !req.headers.get("authorization")?.startsWith("Bearer ")) {
        return Response.json({ type: "error", error: { type: "authentication_error", message: "no key" } }, { status: 401 });
      }
      const body = (await req.json()) as Record<string, any>;
      requests.push({ body, headers: Object.fromEntries(req.headers), at: performance.now() });
      const invalid = refusedByApi(body);
      if (invalid) {
        refused.push(invalid);
        return Response.json({ type: "error", error: { type: "invalid_request_error", message: invalid } }, { status: 400 });
      }
      const step = script.shift() ?? { kind: "reply" };
      if (step.kind === "status") {
        const headers: Record<string, string> = { "content-type": "application/json", "request-id": `req_${requests.length}` };
        if (step.status === 429 || step.status >= 500) headers["retry-after-ms"] = String(step.retryAfterMs ?? 1);
        const error = { type: step.type ?? ERROR_TYPES[step.status] ?? "api_error", message: step.message ?? `fake ${step.status}` };
        return new Response(JSON.stringify({ type: "error", error }), { status: step.status, headers });
      }
      if (step.kind === "malformed") return new Response("{not json", { status: 200, headers: { "content-type": "application/json" } });
      if (step.kind === "hang") {
        hung++;
        return new Promise<Response>((resolve) =>
          req.signal.addEventListener("abort", () => {
            abandoned++;
            resolve(new Response("aborted", { status: 499 }));
          }),
        );
      }
      const last = [...(body.messages as { role: string; content: unknown }[])].reverse().find((m) => m.role === "user");
      const lastText = typeof last?.content === "string" ? last.content : JSON.stringify(last?.content);
      const text = step.kind === "tool_use" ? (step.text ?? "") : (step.text ?? `You said: ${lastText}`);
      const uses = step.kind === "tool_use" ? step.calls.map((c) => ({ type: "tool_use", id: c.id ?? `toolu_fake_${++toolIds}`, name: c.name, input: c.input })) : [];
      const stopReason = step.kind === "tool_use" ? "tool_use" : (step.stopReason ?? "end_turn");
      const usage = { input_tokens: JSON.stringify(body.messages).length, output_tokens: text.length };
      const message = { id: `msg_${requests.length}`, type: "message", role: "assistant", model: body.model, stop_sequence: null };
      if (!body.stream) {
        return Response.json({ ...message, content: [...(text || !uses.length ? [{ type: "text", text }] : []), ...uses], stop_reason: stopReason, usage });
      }
      const parts = text || !uses.length ? splitInto(text, step.kind === "reply" ? (step.chunks ?? 3) : 1) : [];
      const delayMs = step.kind === "reply" ? step.delayMs : undefined;
      const stream = new ReadableStream({
        async start(controller) {
          const send = (event: string, data: unknown) => controller.enqueue(new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
          send("message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } });
          let index = 0;
          if (parts.length) {
            send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } });
            send("ping", { type: "ping" });
            for (const part of parts) {
              if (delayMs) await Bun.sleep(delayMs);
              if (req.signal.aborted) {
                abandoned++;
                return controller.close();
              }
              send("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: part } });
            }
            send("content_block_stop", { type: "content_block_stop", index });
            index++;
          }
          // The input arrives as JSON in pieces, as the API streams it.
          for (const use of uses) {
            send("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: use.id, name: use.name, input: {} } });
            const json = JSON.stringify(use.input);
            for (const piece of splitInto(json, 2)) send("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } });
            send("content_block_stop", { type: "content_block_stop", index });
            index++;
          }
          send("message_delta", { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
          send("message_stop", { type: "message_stop" });
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    /** what the next requests get, in order; afterwards each gets a normal reply */
    queue(...steps: Step[]) {
      script.push(...steps);
    },
    /** the 400 messages given to requests the real API would refuse */
    refused,
    hungCount: () => hung,
    /** how many requests the client aborted while they hung or streamed */
    abandonedCount: () => abandoned,
    stop: () => server.stop(true),
  };
}

function splitInto(text: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

type Block = { type: string; text?: string; id?: string; tool_use_id?: string };

/** Why the Messages API would refuse these messages (its own wording, near enough), or undefined. */
export function refusedByApi(body: Record<string, any>): string | undefined {
  const messages = (body.messages ?? []) as { role: string; content: string | Block[] }[];
  if (messages[0]?.role !== "user") return "messages: the first message must use the \"user\" role";
  const blocks = (m: { content: string | Block[] }): Block[] => (typeof m.content === "string" ? [] : m.content);
  const hasToolBlocks = messages.some((m) => blocks(m).some((b) => b.type === "tool_use" || b.type === "tool_result"));
  if (hasToolBlocks && !(Array.isArray(body.tools) && body.tools.length)) return "Requests which include `tool_use` or `tool_result` blocks must define tools.";
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const final = i === messages.length - 1 && m.role === "assistant";
    if (!final && (m.content === "" || (Array.isArray(m.content) && m.content.length === 0))) return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    if (blocks(m).some((b) => b.type === "text" && !b.text)) return `messages.${i}: text content blocks must be non-empty`;
    const uses = m.role === "assistant" ? blocks(m).filter((b) => b.type === "tool_use").map((b) => b.id!) : [];
    const next = messages[i + 1];
    const answered = next?.role === "user" ? blocks(next).filter((b) => b.type === "tool_result").map((b) => b.tool_use_id!) : [];
    const missing = uses.filter((id) => !answered.includes(id));
    if (missing.length) return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    if (m.role === "user") {
      const before = i > 0 ? blocks(messages[i - 1]!).filter((b) => b.type === "tool_use").map((b) => b.id!) : [];
      const stray = blocks(m).filter((b) => b.type === "tool_result" && !before.includes(b.tool_use_id!));
      if (stray.length) return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.map((b) => b.tool_use_id).join(", ")}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
  }
  return undefined;
}
