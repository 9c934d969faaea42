import { exchangeRounds } from "../sessions/exchange.ts";
import { ResourceError, type ResourceTemplate } from "./define.ts";

const PREFIX = "conversation://";

export const conversationTemplate: ResourceTemplate = {
  uriTemplate: "conversation://{id}",
  name: "conversation",
  title: "Claude conversation",
  description: "A stored claude_conversation: its settings and every turn (message, reply, model, usage, status), with the tools Claude called in it, round by round, and what each returned.",
  match(uri) {
    if (!uri.startsWith(PREFIX) || uri.length === PREFIX.length) return undefined;
    try {
      return { id: decodeURIComponent(uri.slice(PREFIX.length)) };
    } catch {
      // Thrown inside resources/read's try, so it becomes -32602 with this sentence.
      throw new ResourceError(`Invalid conversation URI ${JSON.stringify(uri)}: its percent-encoding is broken (a % must be followed by two hex digits of valid UTF-8).`, "invalid");
    }
  },
  async read(uri, vars, { store }) {
    const id = vars.id ?? "";
    const s = await store();
    const conversation = await s.getConversation(id);
    if (!conversation) throw new ResourceError(`Resource not found: no conversation ${JSON.stringify(id)}`, "not_found");
    // The stored exchange is JSON inside a string: laid out as rounds of calls it reads as data.
    const history = (await s.turns(id)).map(({ exchange, ...turn }) => {
      if (exchange === null) return turn;
      const rounds = exchangeRounds(exchange);
      return rounds ? { ...turn, tool_rounds: rounds } : { ...turn, exchange };
    });
    return { uri, mimeType: "application/json", text: JSON.stringify({ ...conversation, history }, null, 2) };
  },
  async complete(argument, value, { store }) {
    if (argument !== "id") return [];
    const recent = await (await store()).listConversations(200);
    return recent.map((c) => c.id).filter((id) => id.startsWith(value));
  },
};
