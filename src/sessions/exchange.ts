// A turn's tool use as the store keeps it (Turn.exchange): the messages between the user's
// message and the final answer, bounded in size; checked before it is sent back, folded
// into text where it cannot be, and laid out for people in conversation://.
import type { ChatMessage, ContentBlock, ToolUseBlock } from "../claude/client.ts";
import { cutToBytes } from "../claude/tool-loop.ts";

/** Most bytes of one block's text (a tool result, a long input string) in the stored copy. */
export const STORED_BLOCK_BYTES = 4 * 1024;
/** Most bytes of a turn's stored exchange. */
export const STORED_EXCHANGE_BYTES = 256 * 1024;
const CUT_WHY = "the stored copy of a tool exchange keeps a few KB of each";

const byteLength = (text: string) => Buffer.byteLength(text, "utf8");

function cutValue(value: unknown, maxBytes: number): unknown {
  if (typeof value === "string") return cutToBytes(value, maxBytes, CUT_WHY);
  if (Array.isArray(value)) return value.map((item) => cutValue(item, maxBytes));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, item]) => [k, cutValue(item, maxBytes)]));
  return value;
}

function cutBlock(block: ContentBlock, maxBytes: number): ContentBlock {
  if (block.type === "text") return { ...block, text: cutToBytes(block.text, maxBytes, CUT_WHY) };
  if (block.type === "tool_result") return { ...block, content: cutToBytes(block.content, maxBytes, CUT_WHY) };
  // write_file's content or edit_file's edits can be large: each string is cut, the shape kept.
  return { ...block, input: cutValue(block.input, maxBytes) as Record<string, unknown> };
}

const cutMessage = (m: ChatMessage, maxBytes: number): ChatMessage =>
  typeof m.content === "string" ? { ...m, content: cutToBytes(m.content, maxBytes, CUT_WHY) } : { ...m, content: m.content.map((b) => cutBlock(b, maxBytes)) };

/**
 * The exchange as stored: each block's text cut to a few KB, then the oldest rounds left out
 * (with a note in the first one kept) until it fits `budget`; still too big, the cut is made
 * shorter. What is stored always pairs every tool_use with its tool_result, so it can be
 * sent back. null for a turn without tool use.
 */
export function storedExchange(messages: readonly ChatMessage[], budget = STORED_EXCHANGE_BYTES): string | null {
  if (messages.length === 0) return null;
  for (let perBlock = STORED_BLOCK_BYTES; perBlock >= 64; perBlock = Math.floor(perBlock / 2)) {
    let kept = messages.map((m) => cutMessage(m, perBlock));
    let dropped = 0;
    while (kept.length > 2 && byteLength(JSON.stringify(kept)) > budget) {
      kept = kept.slice(2);
      dropped++;
    }
    if (dropped > 0) {
      const note = { type: "text" as const, text: `[${dropped} earlier round${dropped === 1 ? "" : "s"} of tool use not stored: a stored exchange is limited to ${Math.round(budget / 1024)} KB.]` };
      const first = kept[0]!;
      kept[0] = { ...first, content: [note, ...(typeof first.content === "string" ? [] : first.content)] };
    }
    const json = JSON.stringify(kept);
    if (byteLength(json) <= budget) return json;
  }
  return null;
}

/**
 * The stored exchange as messages the Messages API accepts after the user's message:
 * assistant and user alternating, each assistant message's tool_use blocks answered by
 * exactly the tool_result blocks of the next user message. undefined when it is not that
 * (unparsable, cut by hand, from a newer version).
 */
export function replayableExchange(json: string | null): ChatMessage[] | undefined {
  const messages = parse(json);
  if (!messages || messages.length === 0 || messages.length % 2 !== 0) return undefined;
  for (let i = 0; i < messages.length; i += 2) {
    const asked = messages[i]!;
    const answered = messages[i + 1]!;
    if (asked.role !== "assistant" || answered.role !== "user" || typeof asked.content === "string" || typeof answered.content === "string") return undefined;
    const uses = asked.content.filter((b) => b.type === "tool_use");
    if (uses.length === 0 || !asked.content.every((b) => (b.type === "text" && typeof b.text === "string" && b.text.length > 0) || validUse(b))) return undefined;
    const ids = new Set(uses.map((u) => (u as ToolUseBlock).id));
    const results = answered.content;
    if (results.length !== ids.size) return undefined;
    for (const r of results) {
      if (r.type !== "tool_result" || typeof r.content !== "string" || !ids.delete(r.tool_use_id)) return undefined;
    }
  }
  return messages;
}

function validUse(b: ContentBlock): boolean {
  return b.type === "tool_use" && typeof b.id === "string" && typeof b.name === "string" && typeof b.input === "object" && b.input !== null && !Array.isArray(b.input);
}

function parse(json: string | null): ChatMessage[] | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as unknown;
    return Array.isArray(value) && value.every((m) => m && typeof m === "object" && (typeof m.content === "string" || Array.isArray(m.content))) ? (value as ChatMessage[]) : undefined;
  } catch {
    return undefined;
  }
}

/** One tool call of a stored exchange, as conversation:// shows it. */
export type ToolCallView = { tool: string; input: Record<string, unknown>; result: string | null; is_error: boolean };
/** One round: what Claude said before its calls, and the calls with their results. */
export type ToolRoundView = { round: number; said?: string; calls: ToolCallView[] };

/** The stored exchange laid out round by round; undefined when it cannot be read. */
export function exchangeRounds(json: string | null): ToolRoundView[] | undefined {
  const messages = parse(json);
  if (!messages) return undefined;
  const rounds: ToolRoundView[] = [];
  const byId = new Map<string, ToolCallView>();
  for (const m of messages) {
    if (typeof m.content === "string") continue;
    if (m.role === "assistant") {
      const said = m.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n");
      const calls: ToolCallView[] = [];
      for (const b of m.content) {
        if (b.type !== "tool_use") continue;
        const call = { tool: b.name, input: b.input, result: null, is_error: false };
        byId.set(b.id, call);
        calls.push(call);
      }
      rounds.push({ round: rounds.length + 1, ...(said ? { said } : {}), calls });
    } else {
      for (const b of m.content) {
        const call = b.type === "tool_result" ? byId.get(b.tool_use_id) : undefined;
        if (call && b.type === "tool_result") {
          call.result = b.content;
          call.is_error = b.is_error === true;
        }
      }
    }
  }
  return rounds;
}

/**
 * The exchange folded into a line of text, for a request that cannot carry tool blocks (no
 * tools in it, or sampling without sampling.tools) or an exchange that cannot be sent back.
 */
export function exchangeSummary(json: string | null): string {
  const rounds = exchangeRounds(json);
  if (!rounds) return "[Tools were used in this turn; the record of the calls could not be read.]";
  const calls = rounds.flatMap((r) => r.calls).map((c) => `${c.tool} ${shortJson(c.input)}${c.is_error ? " (failed)" : ""}`);
  return `[Tools used: ${calls.join("; ")}]`;
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? "";
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}
