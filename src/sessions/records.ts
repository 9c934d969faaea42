// Conversations and sessions as plain records, and the pure functions over them.
import type { ChatMessage } from "../claude/client.ts";
import { exchangeSummary, replayableExchange } from "./exchange.ts";

export type Conversation = {
  id: string;
  title: string;
  system_prompt: string | null;
  model: string | null;
  created_at: string;
  updated_at: string;
  turns: number;
};

export type TurnStatus = "pending" | "done" | "failed";

/** One exchange: the user's message is stored before the API is called, the reply after. */
export type Turn = {
  seq: number;
  user: string;
  assistant: string | null;
  status: TurnStatus;
  model: string | null;
  stop_reason: string | null;
  input_tokens: number;
  output_tokens: number;
  error: string | null;
  created_at: string;
  /**
   * The tool use inside the turn, when Claude used tools: the JSON text of the messages
   * between the user's message and the final answer (assistant tool_use blocks and user
   * tool_result blocks), bounded in size before it is stored. null for a plain turn.
   */
  exchange: string | null;
};

/** One tool call or resource read, as the audit trail keeps it: never arguments' contents. */
export type AuditRecord = {
  at: string;
  /** the API key's name (tenant), null for the server's own */
  tenant: string | null;
  session_id: string | null;
  kind: "tool" | "resource";
  /** the tool's name or the resource's URI scheme (never the full URI: it names files) */
  name: string;
  ms: number;
  outcome: "ok" | "error";
  /** JSON of argumentShape(args): names and types of the arguments, never their values */
  args: string;
};

export type Session = {
  id: string;
  client_name: string;
  client_version: string;
  protocol_version: string;
  started_at: string;
  ended_at: string | null;
  calls: number;
};

export type TurnOutcome =
  | { ok: true; assistant: string; model: string; stop_reason: string | null; input_tokens: number; output_tokens: number; exchange?: string | null }
  | { ok: false; error: string };

const TITLE_LENGTH = 60;

export function titleFrom(message: string): string {
  const line = message.trim().split("\n")[0] ?? "";
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

/**
 * The earlier turns to send with a new message: only answered turns (a pending or failed
 * turn has no reply, and the API wants user/assistant alternating), newest kept, whole
 * turns only, at most `maxMessages` messages. A turn with tool use is sent back with its
 * tool_use and tool_result blocks when `toolBlocks` (the request offers tools, which the
 * API then requires) and its stored exchange is whole; otherwise, or when it would not fit,
 * as text that names the calls.
 */
export function historyMessages(turns: readonly Turn[], maxMessages: number, options: { toolBlocks?: boolean } = {}): ChatMessage[] {
  const answered = turns.filter((t) => t.status === "done" && t.assistant !== null);
  const kept: ChatMessage[][] = [];
  let room = maxMessages;
  for (let i = answered.length - 1; i >= 0; i--) {
    const t = answered[i]!;
    const replay = options.toolBlocks && t.exchange ? replayableExchange(t.exchange) : undefined;
    let messages = replay ? [{ role: "user" as const, content: t.user }, ...replay, { role: "assistant" as const, content: answerOf(t) }] : asText(t);
    if (messages.length > room) messages = asText(t);
    if (messages.length > room) break;
    room -= messages.length;
    kept.unshift(messages);
  }
  return kept.flat();
}

// The API refuses an empty assistant message anywhere but last.
const answerOf = (t: Turn) => t.assistant || "(no text in this reply)";

function asText(t: Turn): ChatMessage[] {
  const answer = t.exchange ? `${exchangeSummary(t.exchange)}\n\n${answerOf(t)}` : answerOf(t);
  return [
    { role: "user", content: t.user },
    { role: "assistant", content: answer },
  ];
}

/** A conversation id a person can type: short, url-safe, unguessable enough for a local store. */
export function newConversationId(): string {
  return `conv_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

export const nowIso = () => new Date().toISOString();
