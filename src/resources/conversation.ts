import { ResourceError, type ResourceTemplate } from "./define.ts";

const PREFIX = "conversation://";

export const conversationTemplate: ResourceTemplate = {
  uriTemplate: "conversation://{id}",
  name: "conversation",
  title: "Claude conversation",
  description: "A stored claude_conversation: its settings and every turn (message, reply, model, usage, status).",
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
    const turns = await s.turns(id);
    return { uri, mimeType: "application/json", text: JSON.stringify({ ...conversation, history: turns }, null, 2) };
  },
  async complete(argument, value, { store }) {
    if (argument !== "id") return [];
    const recent = await (await store()).listConversations(200);
    return recent.map((c) => c.id).filter((id) => id.startsWith(value));
  },
};
