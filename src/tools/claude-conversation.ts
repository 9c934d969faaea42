import * as v from "valibot";
import { type ChatMessage, chat, describeApiError } from "../claude/client.ts";
import { resolveModel } from "../claude/models.ts";
import { type ModelReply, runToolLoop } from "../claude/tool-loop.ts";
import { storedExchange } from "../sessions/exchange.ts";
import { type Conversation, historyMessages, newConversationId, titleFrom } from "../sessions/records.ts";
import { chooseTools, describeCall, READ_TOOLS } from "./claude-tool-choice.ts";
import { defineTool, type ListedTool, type SamplingContent, type SamplingResult, ToolError, type ToolContext } from "./define.ts";

const input = v.object({
  message: v.pipe(v.string(), v.minLength(1, "message must not be empty"), v.description("What to say to Claude")),
  model: v.optional(v.pipe(v.string(), v.description("Model id or alias (opus, sonnet, haiku); default claude.default_model"))),
  system_prompt: v.optional(v.pipe(v.string(), v.description("System prompt; kept for the rest of a new conversation"))),
  max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(128_000), v.description("Most tokens in the reply (default claude.max_tokens, 4096)"))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1), v.description("Sampling temperature, 0 to 1"))),
  conversation_id: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]{1,100}$/, "conversation_id is letters, digits, _ . - (as returned by an earlier call)"), v.description("Continue this conversation (from an earlier result); omit to start a new one")),
  ),
  tools: v.optional(
    v.pipe(
      v.union([v.literal("read"), v.array(v.string())]),
      v.description(
        `Tools of this server Claude may use while answering: "read" (${READ_TOOLS.join(", ")}) or a list of tool names; write_file, edit_file and execute_command only when named here and offered by this server`,
      ),
    ),
  ),
});

type Args = v.InferOutput<typeof input>;

type Ask = (messages: ChatMessage[], signal: AbortSignal) => Promise<ModelReply>;

/** The Messages API, with the chosen tools in their JSON Schema as tools/list shows it. */
function viaApi(system: string | undefined, args: Args, model: string, maxTokens: number, tools: readonly ListedTool[], ctx: ToolContext, report: (m: string) => void): Ask {
  const { claude } = ctx.config;
  const specs = tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema }));
  return (messages, signal) =>
    chat(
      { apiKey: claude.api_key, baseUrl: claude.base_url, timeoutSeconds: claude.timeout, maxRetries: claude.max_retries },
      { model, messages, system, maxTokens, temperature: args.temperature ?? claude.temperature, ...(specs.length ? { tools: specs } : {}) },
      { signal, span: ctx.span, onText: () => report("receiving reply") },
    );
}

/** No API key, but the client can sample: ask the client's own model, with the same history (and tools, when it takes them). */
function viaSampling(system: string | undefined, args: Args, model: string, maxTokens: number, tools: readonly ListedTool[], ctx: ToolContext): Ask {
  return async (messages, signal) =>
    fromSampling(
      await ctx.sample!(
        {
          messages: messages.map((m) => ({ role: m.role, content: typeof m.content === "string" ? { type: "text", text: m.content } : m.content.map(toSamplingContent) })),
          maxTokens,
          ...(system ? { systemPrompt: system } : {}),
          ...(args.temperature !== undefined ? { temperature: args.temperature } : {}),
          modelPreferences: { hints: [{ name: model }] },
          ...(tools.length ? { tools: tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })), toolChoice: { mode: "auto" as const } } : {}),
        },
        signal,
      ),
    );
}

function toSamplingContent(block: Exclude<ChatMessage["content"], string>[number]): SamplingContent {
  if (block.type === "text") return block;
  if (block.type === "tool_use") return { type: "tool_use", id: block.id, name: block.name, input: block.input };
  return { type: "tool_result", toolUseId: block.tool_use_id, content: [{ type: "text", text: block.content }], ...(block.is_error ? { isError: true } : {}) };
}

// Sampling's stop reasons in the Messages API's words, which the loop and the store speak.
const STOP_REASONS: Record<string, string> = { endTurn: "end_turn", maxTokens: "max_tokens", stopSequence: "stop_sequence", toolUse: "tool_use" };

function fromSampling(result: SamplingResult): ModelReply {
  const content: ModelReply["content"] = [];
  for (const block of Array.isArray(result.content) ? result.content : [result.content]) {
    if (block.type === "text") content.push({ type: "text", text: block.text ?? "" });
    else if (block.type === "tool_use" && block.id && block.name) content.push({ type: "tool_use", id: block.id, name: block.name, input: block.input ?? {} });
    else content.push({ type: "text", text: `[${block.type} content]` });
  }
  const wantsTools = content.some((b) => b.type === "tool_use");
  const stopReason = result.stopReason ? (STOP_REASONS[result.stopReason] ?? result.stopReason) : wantsTools ? "tool_use" : null;
  return { content, stopReason, model: result.model, usage: { input_tokens: 0, output_tokens: 0 } };
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
    'Talk with Claude (Anthropic API). Returns the reply and a conversation_id; pass it back to continue the same conversation (history is stored and survives restarts). With `tools` ("read", or tool names), Claude can read and search this workspace (and write or run commands, when those are named) through this server\'s own tools, under the same limits. Without an API key on the server, the client\'s own model answers through MCP sampling when the client offers it.',
  input,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  // A long reply takes longer than mcp.tool_timeout; claude.timeout bounds each request, and
  // each tool Claude calls keeps its own deadline.
  ownTimeout: true,
  async run(args, ctx) {
    const { claude } = ctx.config;
    const chosen = resolveModel(args.model, claude.default_model);
    if (!chosen.ok) throw new ToolError(chosen.error);
    // Checked before anything is stored or sent: a wrong name costs nothing.
    let tools: ListedTool[] = [];
    if (args.tools !== undefined) {
      const choice = chooseTools(args.tools, ctx.tools);
      if (!choice.ok) throw new ToolError(choice.error);
      tools = choice.tools;
    }
    if (!claude.api_key && !ctx.sample) {
      throw new ToolError(
        "No Anthropic API key is configured: set ANTHROPIC_API_KEY (or claude.api_key in tfo-mcp.yaml) in the server's environment, or use a client that supports MCP sampling.",
      );
    }
    if (tools.length && !claude.api_key && !ctx.sampleTools) {
      throw new ToolError(
        "Tools inside claude_conversation need an Anthropic API key (ANTHROPIC_API_KEY or claude.api_key) or a client that supports MCP sampling with tools (the sampling.tools capability, protocol 2025-11-25); this client samples without tools. Leave out `tools` to ask without them.",
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
    // Progress must only grow: one count across every request and tool of the turn.
    let step = 0;
    const report = (message: string) => ctx.progress(++step, undefined, message);
    const ask = via === "api" ? viaApi(system, args, chosen.model, maxTokens, tools, ctx, report) : viaSampling(system, args, chosen.model, maxTokens, tools, ctx);

    // One turn at a time per conversation, so each sees the one before it.
    return store.serialize(conversation.id, async () => {
      // Earlier tool use goes back as tool blocks only in a request that offers tools.
      const history = historyMessages(await store.turns(conversation.id), claude.max_history_messages, { toolBlocks: tools.length > 0 });
      const messages: ChatMessage[] = [...history, { role: "user", content: args.message }];
      // The message is stored before the call: if the process dies now, it is not lost.
      const turn = await store.beginTurn(conversation.id, args.message, chosen.model);
      let result: Awaited<ReturnType<typeof runToolLoop>>;
      try {
        result = await runToolLoop({
          messages,
          ask,
          call: (name, input, signal) => ctx.tools.call(name, input, signal),
          offered: tools.map((t) => t.name),
          maxRounds: claude.max_tool_rounds,
          signal: ctx.signal,
          progress: report,
          describe: describeCall,
        });
      } catch (error) {
        const message = ctx.signal.aborted ? "Cancelled." : via === "sampling" ? `Sampling through the client failed: ${(error as Error).message}` : describeApiError(error);
        await store.finishTurn(conversation.id, turn, { ok: false, error: message });
        throw new ToolError(message, { conversation_id: conversation.id, turn });
      }
      await store.finishTurn(conversation.id, turn, {
        ok: true,
        assistant: result.text,
        model: result.model,
        stop_reason: result.stopReason,
        input_tokens: result.usage.input_tokens,
        output_tokens: result.usage.output_tokens,
        exchange: storedExchange(result.exchange),
      });
      const meta = {
        conversation_id: conversation.id,
        turn,
        model: result.model,
        stop_reason: result.stopReason,
        usage: result.usage,
        via,
        ...(args.tools !== undefined ? { tools: tools.map((t) => t.name), tool_rounds: result.rounds, tool_calls: result.toolCalls, ended: result.ended } : {}),
      };
      return { text: result.text, meta, note: `conversation_id: ${conversation.id} (turn ${turn}); pass it back to continue.` };
    }, ctx.signal);
  },
});
