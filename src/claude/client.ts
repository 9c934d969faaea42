// The only module that talks to the Anthropic API. The SDK is imported on first use so
// that start-up never pays for it.
import type { SpanHandle } from "../telemetry/port.ts";

// Messages in the Messages API's own shape: the tool loop builds them and the store keeps
// them as they were sent, so a continued conversation sends them back unchanged.
export type TextBlock = { type: "text"; text: string };
export type ToolUseBlock = { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };
export type ToolResultBlock = { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean };
export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock;
export type ChatMessage = { role: "user" | "assistant"; content: string | ContentBlock[] };
/** A tool as the Messages API takes it: input_schema is the JSON Schema tools/list shows. */
export type ToolSpec = { name: string; description: string; input_schema: Record<string, unknown> };
export type ChatRequest = {
  model: string;
  messages: ChatMessage[];
  system?: string;
  maxTokens: number;
  temperature?: number;
  tools?: ToolSpec[];
};
export type Usage = { input_tokens: number; output_tokens: number };
export type ChatReply = {
  text: string;
  /** the reply's text and tool_use blocks, in order (other block types are left out) */
  content: (TextBlock | ToolUseBlock)[];
  model: string;
  stopReason: string | null;
  usage: Usage;
};
export type ClaudeSettings = { apiKey: string; baseUrl: string; timeoutSeconds: number; maxRetries: number };
export type ChatOptions = {
  signal: AbortSignal;
  onText?: (delta: string, soFar: number) => void;
  /** the tool call's span: the request becomes its child, with the GenAI semantic conventions' attributes */
  span?: SpanHandle;
};

type ApiErrorLike = { status?: number; name?: string; message?: string; error?: { error?: { type?: string; message?: string } } };

/** Every API failure becomes a sentence a person can act on, and never contains the key. */
export function describeApiError(error: unknown): string {
  const e = error as ApiErrorLike;
  const name = e?.name ?? (error as object)?.constructor?.name ?? "";
  const apiText = e?.error?.error?.message;
  if (name.includes("UserAbort")) return "Cancelled.";
  if (name.includes("ConnectionTimeout")) return "Claude API request timed out (claude.timeout); try again or raise the timeout.";
  if (name.includes("Connection")) return "Cannot reach the Claude API (connection failed); check the network or claude.base_url / ANTHROPIC_BASE_URL.";
  switch (e?.status) {
    case 400:
      return `Claude API rejected the request: ${apiText ?? "bad request"}.`;
    case 401:
      return "Claude API refused the API key (401); check ANTHROPIC_API_KEY or claude.api_key.";
    case 403:
      return `Claude API: permission denied (403)${apiText ? `: ${apiText}` : ""}.`;
    case 404:
      return `Claude API: not found (404)${apiText ? `: ${apiText}` : ""}; check the model name and claude.base_url.`;
    case 413:
      return "Claude API: request too large (413); shorten the message or the conversation.";
    case 429:
      return "Claude API rate limit reached (429) after retries; wait a moment and try again.";
    case 529:
      return "Claude API is overloaded (529) after retries; try again shortly.";
  }
  if (typeof e?.status === "number" && e.status >= 500) return `Claude API server error (${e.status}) after retries; try again shortly.`;
  return `Claude API call failed: ${e?.message ?? String(error)}`;
}

/** The span of one Messages API call, named and described as the GenAI semantic conventions say. */
function chatSpan(parent: SpanHandle | undefined, settings: ClaudeSettings, request: ChatRequest): SpanHandle | undefined {
  if (!parent) return undefined;
  let server: URL | undefined;
  try {
    server = new URL(settings.baseUrl || "https://api.anthropic.com");
  } catch {}
  return parent.child(
    `chat ${request.model}`,
    {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.system": "anthropic",
      "gen_ai.request.model": request.model,
      "gen_ai.request.max_tokens": request.maxTokens,
      "gen_ai.request.temperature": request.temperature,
      "server.address": server?.hostname,
      "server.port": server ? Number(server.port || (server.protocol === "http:" ? 80 : 443)) : undefined,
    },
    "client",
  );
}

export async function chat(settings: ClaudeSettings, request: ChatRequest, options: ChatOptions): Promise<ChatReply> {
  const { default: Anthropic } = await import("@anthropic-ai/sdk");
  const span = chatSpan(options.span, settings, request);
  // Counting requests is how the span learns the SDK's retries.
  let requests = 0;
  const client = new Anthropic({
    apiKey: settings.apiKey,
    baseURL: settings.baseUrl || undefined,
    timeout: settings.timeoutSeconds * 1000,
    maxRetries: settings.maxRetries,
    ...(span
      ? {
          fetch: (input: string | URL | Request, init?: RequestInit) => {
            requests++;
            return fetch(input, init);
          },
        }
      : {}),
  });
  const retries = () => ({ "http.request.resend_count": Math.max(0, requests - 1) });
  try {
    const reply = await send(client, request, options);
    span?.end({
      attributes: {
        ...retries(),
        "gen_ai.response.model": reply.model,
        "gen_ai.response.id": reply.id,
        "gen_ai.response.finish_reasons": reply.stopReason ? [reply.stopReason] : undefined,
        "gen_ai.usage.input_tokens": reply.usage.input_tokens,
        "gen_ai.usage.output_tokens": reply.usage.output_tokens,
      },
    });
    const { id: _id, ...rest } = reply;
    return rest;
  } catch (error) {
    const e = error as ApiErrorLike;
    span?.end({ errorType: typeof e?.status === "number" ? String(e.status) : e?.name || "Error", message: describeApiError(error), attributes: retries() });
    throw error;
  }
}

type AnthropicClient = InstanceType<(typeof import("@anthropic-ai/sdk"))["default"]>;

async function send(client: AnthropicClient, request: ChatRequest, options: ChatOptions): Promise<ChatReply & { id: string }> {
  const stream = client.messages.stream(
    {
      model: request.model,
      max_tokens: request.maxTokens,
      // Our block types are the API's own, less the optional fields we never send.
      messages: request.messages as Parameters<AnthropicClient["messages"]["stream"]>[0]["messages"],
      ...(request.system ? { system: request.system } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.tools?.length ? { tools: request.tools as { name: string; description: string; input_schema: { type: "object" } }[] } : {}),
    },
    { signal: options.signal },
  );
  let received = 0;
  if (options.onText) {
    stream.on("text", (delta) => {
      received += delta.length;
      options.onText?.(delta, received);
    });
  }
  const message = await stream.finalMessage();
  const content: ChatReply["content"] = [];
  for (const block of message.content) {
    if (block.type === "text") content.push({ type: "text", text: block.text });
    else if (block.type === "tool_use") content.push({ type: "tool_use", id: block.id, name: block.name, input: (block.input ?? {}) as Record<string, unknown> });
  }
  return {
    id: message.id,
    text: textOf(content),
    content,
    model: message.model,
    stopReason: message.stop_reason ?? null,
    usage: { input_tokens: message.usage.input_tokens, output_tokens: message.usage.output_tokens },
  };
}

/** The text blocks of a reply, joined. */
export function textOf(content: readonly ContentBlock[]): string {
  return content
    .filter((block): block is TextBlock => block.type === "text")
    .map((block) => block.text)
    .join("");
}
