// Claude with tools: ask, run the tool_use blocks of the reply, hand back tool_result
// blocks, and ask again, until a final answer or the round limit. The model (the Messages
// API or the client's sampling) and the tools (the server's own call path) come in as
// functions, so the loop is the same for both and a test can drive it with its own.
import type { ToolOutput } from "../tools/define.ts";
import { type ChatMessage, type TextBlock, textOf, type ToolResultBlock, type ToolUseBlock, type Usage } from "./client.ts";

/** One answer of the model, in the Messages API's terms (sampling's are mapped to them). */
export type ModelReply = { content: (TextBlock | ToolUseBlock)[]; stopReason: string | null; model: string; usage: Usage };

export type LoopSettings = {
  /** the history and the user's new message */
  messages: ChatMessage[];
  ask: (messages: ChatMessage[], signal: AbortSignal) => Promise<ModelReply>;
  call: (name: string, input: Record<string, unknown>, signal: AbortSignal) => Promise<ToolOutput>;
  /** the names Claude was offered; a tool_use of any other name is answered with an error */
  offered: readonly string[];
  maxRounds: number;
  signal: AbortSignal;
  /** a line for a person: "asking Claude", "reading src/app.ts" */
  progress: (message: string) => void;
  /** how a call reads in progress */
  describe: (name: string, input: Record<string, unknown>) => string;
};

export type LoopResult = {
  /** the final answer; at the round limit, with a sentence saying so */
  text: string;
  /** the messages between the user's message and the final answer (empty when no tool ran) */
  exchange: ChatMessage[];
  rounds: number;
  toolCalls: number;
  /** the last reply's stop reason, or "round_limit" */
  ended: string;
  stopReason: string | null;
  model: string;
  usage: Usage;
};

/** Most bytes of one tool's result handed to Claude; a 10 MB file read would fill its context. */
export const RESULT_BYTES = 100 * 1024;

export class Cancelled extends Error {
  override name = "Cancelled";
  constructor() {
    super("Cancelled.");
  }
}

export async function runToolLoop(s: LoopSettings): Promise<LoopResult> {
  const exchange: ChatMessage[] = [];
  const usage: Usage = { input_tokens: 0, output_tokens: 0 };
  let rounds = 0;
  let toolCalls = 0;
  for (;;) {
    if (s.signal.aborted) throw new Cancelled();
    s.progress(rounds === 0 ? "asking Claude" : `asking Claude (round ${rounds + 1})`);
    const reply = await s.ask([...s.messages, ...exchange], s.signal);
    usage.input_tokens += reply.usage.input_tokens;
    usage.output_tokens += reply.usage.output_tokens;
    const uses = reply.content.filter((b): b is ToolUseBlock => b.type === "tool_use");
    const done = (text: string, ended: string): LoopResult => ({ text, exchange, rounds, toolCalls, ended, stopReason: reply.stopReason, model: reply.model, usage });
    // A tool_use cut short by max_tokens has half its input: it is not run.
    if (reply.stopReason !== "tool_use" || uses.length === 0) return done(textOf(reply.content), reply.stopReason ?? "end_turn");
    // The API refuses an empty text block in a request, and a reply can hold one.
    const said = reply.content.filter((b) => b.type !== "text" || b.text.length > 0);
    if (rounds >= s.maxRounds) {
      // Answered as not run, so the stored exchange stays valid to send back on the next turn.
      const why = `Not run: the limit of ${s.maxRounds} tool rounds (claude.max_tool_rounds) was reached.`;
      exchange.push({ role: "assistant", content: said }, { role: "user", content: uses.map((u) => ({ type: "tool_result", tool_use_id: u.id, content: why, is_error: true })) });
      const wanted = [...new Set(uses.map((u) => u.name))].join(", ");
      const note = `[Stopped after ${s.maxRounds} rounds of tool use (claude.max_tool_rounds): Claude still wanted to call ${wanted}. Continue the conversation to let it go on, or raise claude.max_tool_rounds.]`;
      const text = textOf(reply.content).trim();
      return done(text ? `${text}\n\n${note}` : note, "round_limit");
    }
    rounds++;
    const results: ToolResultBlock[] = [];
    for (const use of uses) {
      if (s.signal.aborted) throw new Cancelled();
      s.progress(s.describe(use.name, use.input));
      toolCalls++;
      const out = s.offered.includes(use.name)
        ? await untilAborted(s.call(use.name, use.input, s.signal), s.signal)
        : { text: `${use.name} is not among the tools offered in this conversation: ${s.offered.join(", ") || "none"}.`, isError: true };
      const text = out.note ? `${out.text}\n\n${out.note}` : out.text;
      results.push({ type: "tool_result", tool_use_id: use.id, content: cutToBytes(text, RESULT_BYTES, "a tool result sent to Claude is limited to 100 KB"), ...(out.isError ? { is_error: true } : {}) });
    }
    exchange.push({ role: "assistant", content: said }, { role: "user", content: results });
  }
}

/** The call's result, or Cancelled as soon as the signal fires: a tool slow to stop does not hold the loop. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Cancelled());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8 (never inside a character), with a line
 * saying how much was left out and why.
 */
export function cutToBytes(text: string, maxBytes: number, why: string): string {
  // Fast path: a string of n UTF-16 units is at most 3n bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${new TextDecoder().decode(bytes.subarray(0, end))}\n[… ${bytes.length - end} more bytes cut: ${why}]`;
}
