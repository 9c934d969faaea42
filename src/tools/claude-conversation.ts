import * as v from "valibot";
import { type ChatMessage, type ChatReply, chat, describeApiError } from "../claude/client.ts";
import { resolveModel } from "../claude/models.ts";
import { type Conversation, historyMessages, newConversationId, titleFrom } from "../sessions/records.ts";
import { defineTool, ToolError, type ToolContext } from "./define.ts";

const input = v.object({
  message: v.pipe(v.string(), v.minLength(1, "message must not be empty"), v.description("What to say to Claude")),
  model: v.optional(v.pipe(v.string(), v.description("Model id or alias (opus, sonnet, haiku); default claude.default_model"))),
  system_prompt: v.optional(v.pipe(v.string(), v.description("System prompt; kept for the rest of a new conversation"))),
  max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128_000), v.description("Most tokens in the reply (default claude.max_tokens, 4096)"))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1), v.description("Sampling temperature, 0 to 1"))),
  conversation_id: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]{1,100}$/, "conversation_id is letters, digits, _ . - (as returned by an earlier call)"), v.description("Continue this conversation (from an earlier result); omit to start a new one")),
  ),
});

type Args = v.InferOutput<typeof input>;

/** No API key, but the client can sample: ask the client's own model, with the same history. */
async function viaSampling(messages: ChatMessage[], system: string | undefined, args: Args, model: string, maxTokens: number, ctx: ToolContext): Promise<ChatReply> {
  const result = await ctx.sample!(
    {
      messages: messages.map((m) => ({ role: m.role, content: { type: "text", text: m.content } })),
      maxTokens,
      ...(system ? { systemPrompt: system } : {}),
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

async function findOrStart(args: Args, model: string, ctx: ToolContext): Promise<Conversation> {
  const store = await ctx.store();
  if (args.conversation_id === undefined) {
    return store.createConversation({ id: newConversationId(), title: titleFrom(args.message), system_prompt: args.system_prompt ?? null, model });
  }
  const found = await store.getConversation(args.conversation_id);
  if (!found) {
    throw new ToolError(
      `Unknown conversation_id ${JSON.stringify(args.conversation_id)}. Omit conversation_id to start a new conversation; \`tfo-mcp conversations list\` shows the stored ones.`,
    );
  }
  return found;
}

export const claudeConversation = defineTool({
  name: "claude_conversation",
  title: "Ask Claude",
  description:
    "Talk with Claude (Anthropic API). Returns the reply and a conversation_id; pass it back to continue the same conversation (history is stored and survives restarts). Without an API key on the server, the client's own model answers through MCP sampling when the client offers it.",
  input,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  // A long reply takes longer than mcp.tool_timeout; claude.timeout bounds each request instead.
  ownTimeout: true,
  async run(args, ctx) {
    const { claude } = ctx.config;
    const chosen = resolveModel(args.model, claude.default_model);
    if (!chosen.ok) throw new ToolError(chosen.error);
    if (!claude.api_key && !ctx.sample) {
      throw new ToolError(
        "No Anthropic API key is configured: set ANTHROPIC_API_KEY (or claude.api_key in tfo-mcp.yaml) in the server's environment, or use a client that supports MCP sampling.",
      );
    }
    const maxTokens = args.max_tokens ?? claude.max_tokens;
    let conversation: Conversation;
    try {
      conversation = await findOrStart(args, chosen.model, ctx);
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw new ToolError(`Conversation storage is unavailable (storage.url): ${(error as Error).message}`);
    }
    const store = await ctx.store();
    const system = args.system_prompt ?? conversation.system_prompt ?? undefined;
    const via = claude.api_key ? "api" : "sampling";

    // One turn at a time per conversation, so each sees the one before it.
    return store.serialize(conversation.id, async () => {
      const history = historyMessages(await store.turns(conversation.id), claude.max_history_messages);
      const messages: ChatMessage[] = [...history, { role: "user", content: args.message }];
      // The message is stored before the call: if the process dies now, it is not lost.
      const turn = await store.beginTurn(conversation.id, args.message, chosen.model);
      let reply: ChatReply;
      try {
        reply =
          via === "api"
            ? await chat(
                { apiKey: claude.api_key, baseUrl: claude.base_url, timeoutSeconds: claude.timeout, maxRetries: claude.max_retries },
                { model: chosen.model, messages, system, maxTokens, temperature: args.temperature ?? claude.temperature },
                { signal: ctx.signal, span: ctx.span, onText: (_delta, soFar) => ctx.progress(soFar, undefined, "receiving reply") },
              )
            : await viaSampling(messages, system, args, chosen.model, maxTokens, ctx);
      } catch (error) {
        const message = via === "sampling" ? `Sampling through the client failed: ${(error as Error).message}` : describeApiError(error);
        await store.finishTurn(conversation.id, turn, { ok: false, error: message });
        throw new ToolError(message, { conversation_id: conversation.id, turn });
      }
      await store.finishTurn(conversation.id, turn, {
        ok: true,
        assistant: reply.text,
        model: reply.model,
        stop_reason: reply.stopReason,
        input_tokens: reply.usage.input_tokens,
        output_tokens: reply.usage.output_tokens,
      });
      const meta = { conversation_id: conversation.id, turn, model: reply.model, stop_reason: reply.stopReason, usage: reply.usage, via };
      return { text: reply.text, meta, note: `conversation_id: ${conversation.id} (turn ${turn}); pass it back to continue.` };
    });
  },
});
