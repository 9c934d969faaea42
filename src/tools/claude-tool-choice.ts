// Which of this session's tools Claude may use inside claude_conversation, and how a call
// reads in a progress line. Writing and running are never implied: they are offered only
// when the caller names them and the session offers them itself.
import type { ListedTool, SessionTools } from "./define.ts";

/** What `tools: "read"` stands for. */
export const READ_TOOLS = ["read_file", "list_directory", "search_files", "system_info"] as const;
// Offered to Claude, it could call itself without end.
const SELF = "claude_conversation";

export type ToolChoice = { ok: true; tools: ListedTool[] } | { ok: false; error: string };

/**
 * The tools named by `requested` ("read", or names, where "read" may appear too), as this
 * session lists them. A name the session does not offer, or does not know, is refused with
 * what is accepted. Of "read", the members the session does not offer are left out.
 */
export function chooseTools(requested: "read" | readonly string[], session: SessionTools): ToolChoice {
  const listed = session.list().filter((t) => t.name !== SELF);
  const byName = new Map(listed.map((t) => [t.name, t]));
  const named = requested === "read" ? [] : requested.filter((n) => n !== "read");
  const wantsRead = requested === "read" || requested.includes("read");
  const problems: string[] = [];
  for (const name of new Set(named)) {
    if (byName.has(name)) continue;
    if (name === SELF) problems.push(`${SELF} cannot be offered to Claude (it would call itself)`);
    // The server's sentence ends with a full stop; here it is one of a list.
    else problems.push(session.whyNotOffered(name)?.replace(/\.$/, "") ?? `${JSON.stringify(name)} is not among this session's tools`);
  }
  if (problems.length) {
    const accepted = listed.map((t) => t.name).join(", ") || "none";
    return { ok: false, error: `tools: ${problems.join("; ")}. Accepted: "read" (${READ_TOOLS.join(", ")}) or a list of this session's tools: ${accepted}.` };
  }
  const chosen = new Set<string>([...(wantsRead ? READ_TOOLS : []), ...named]);
  return { ok: true, tools: listed.filter((t) => chosen.has(t.name)) };
}

/** A call as a person reads it in a progress line: "reading src/app.ts", "running: npm test". */
export function describeCall(name: string, input: Record<string, unknown>): string {
  const arg = (key: string) => (typeof input[key] === "string" ? (input[key] as string) : undefined);
  const path = arg("path");
  const where = path && path !== "." ? ` in ${path}` : "";
  let line: string;
  switch (name) {
    case "read_file":
      line = `reading ${path ?? "a file"}`;
      break;
    case "list_directory":
      line = `listing ${path ?? "."}`;
      break;
    case "search_files":
      line = arg("content") !== undefined ? `searching ${arg("pattern") ?? "*"}${where} for ${arg("content")}` : `searching for ${arg("pattern") ?? "*"}${where}`;
      break;
    case "execute_command":
      line = `running: ${arg("command") ?? ""}`;
      break;
    case "write_file":
      line = `writing ${path ?? "a file"}`;
      break;
    case "edit_file":
      line = `editing ${path ?? "a file"}`;
      break;
    case "system_info":
      line = "reading system information";
      break;
    default:
      line = `calling ${name}`;
  }
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
