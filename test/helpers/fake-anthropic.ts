// A local HTTP server that speaks the Anthropic Messages API (JSON and SSE streaming),
// and can be told to fail: 429 with retry-after, 529, 500, 401, a malformed body, or a hang.
// Every 429 and 5xx says retry-after-ms (1 ms unless a step says otherwise), so the SDK's
// retries never wait its real backoff (0.5 s, 1 s, 2 s, ...) in a test.
export type Step =
  | { kind: "reply"; text?: string; chunks?: number; delayMs?: number }
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
      const text = step.text ?? `You said: ${lastText}`;
      const usage = { input_tokens: JSON.stringify(body.messages).length, output_tokens: text.length };
      const message = { id: `msg_${requests.length}`, type: "message", role: "assistant", model: body.model, stop_sequence: null };
      if (!body.stream) {
        return Response.json({ ...message, content: [{ type: "text", text }], stop_reason: "end_turn", usage });
      }
      const parts = splitInto(text, step.chunks ?? 3);
      const stream = new ReadableStream({
        async start(controller) {
          const send = (event: string, data: unknown) => controller.enqueue(new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
          send("message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } });
          send("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
          send("ping", { type: "ping" });
          for (const part of parts) {
            if (step.delayMs) await Bun.sleep(step.delayMs);
            if (req.signal.aborted) {
              abandoned++;
              return controller.close();
            }
            send("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: part } });
          }
          send("content_block_stop", { type: "content_block_stop", index: 0 });
          send("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
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
