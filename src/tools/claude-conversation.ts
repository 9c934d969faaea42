import * as v from "valibot";
import { chat, describeApiError, type ChatReply } from "../claude/client.ts";
import { resolveModel } from "../claude/models.ts";
import { defineTool, ToolError, type ToolContext } from "./define.ts";

const input = v.object({
  message: v.pipe(v.string(), v.minLength(1, "message must not be empty"), v.description("What to say to Claude")),
  model: v.optional(v.pipe(v.string(), v.description("Model id or alias (opus, sonnet, haiku); default claude.default_model"))),
  system_prompt: v.optional(v.pipe(v.string(), v.description("System prompt for this reply"))),
  max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128_000), v.description("Most tokens in the reply (default claude.max_tokens, 4096)"))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1), v.description("Sampling temperature, 0 to 1"))),
});

const output = v.object({
  text: v.string(),
  model: v.string(),
  stop_reason: v.nullable(v.string()),
  usage: v.object({ input_tokens: v.number(), output_tokens: v.number() }),
  via: v.picklist(["api", "sampling"]),
});

type Args = v.InferOutput<typeof input>;

/** No API key, but the client can sample: ask the client's own model instead. */
async function viaSampling(args: Args, model: string, maxTokens: number, ctx: ToolContext): Promise<ChatReply> {
  const sample = ctx.sample!;
  const result = await sample(
    {
      messages: [{ role: "user", content: { type: "text", text: args.message } }],
      maxTokens,
      ...(args.system_prompt ? { systemPrompt: args.system_prompt } : {}),
      ...(args.temperature !== undefined ? { temperature: args.temperature } : {}),
      modelPreferences: { hints: [{ name: model }] },
    },
    ctx.signal,
  );
  return {
    text: result.content.type === "text" ? (result.content.text ?? "") : `[${result.content.type} content]`,
    model: result.model,
    stopReason: result.stopReason ?? null,
    usage: { input_tokens: 0, output_tokens: 0 },
  };
}

export const claudeConversation = defineTool({
  name: "claude_conversation",
  title: "Ask Claude",
  description:
    "Send a message to Claude (Anthropic API) and return its reply. Without an API key on the server, the client's own model answers through MCP sampling when the client offers it.",
  input,
  output,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(args, ctx) {
    const { claude } = ctx.config;
    const chosen = resolveModel(args.model, claude.default_model);
    if (!chosen.ok) throw new ToolError(chosen.error);
    const maxTokens = args.max_tokens ?? claude.max_tokens;
    let reply: ChatReply;
    let via: "api" | "sampling" = "api";
    try {
      if (claude.api_key) {
        reply = await chat(
          { apiKey: claude.api_key, baseUrl: claude.base_url, timeoutSeconds: claude.timeout, maxRetries: claude.max_retries },
          {
            model: chosen.model,
            messages: [{ role: "user", content: args.message }],
            system: args.system_prompt,
            maxTokens,
            temperature: args.temperature ?? claude.temperature,
          },
          { signal: ctx.signal, onText: (_delta, soFar) => ctx.progress(soFar, undefined, "receiving reply") },
        );
      } else if (ctx.sample) {
        via = "sampling";
        reply = await viaSampling(args, chosen.model, maxTokens, ctx);
      } else {
        throw new ToolError(
          "No Anthropic API key is configured: set ANTHROPIC_API_KEY (or claude.api_key in tfo-mcp.yaml) in the server's environment, or use a client that supports MCP sampling.",
        );
      }
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw new ToolError(via === "sampling" ? `Sampling through the client failed: ${(error as Error).message}` : describeApiError(error));
    }
    const data = { text: reply.text, model: reply.model, stop_reason: reply.stopReason, usage: reply.usage, via };
    return { text: reply.text, data };
  },
});
