// The prompts, as upstream: each is data plus a function from arguments to messages.

export type PromptArgument = { name: string; description: string; required: boolean };
export type Prompt = {
  name: string;
  title: string;
  description: string;
  arguments: PromptArgument[];
  render(args: Record<string, string>): string;
};

export const LANGUAGES = [
  "bash", "c", "c++", "c#", "css", "dart", "elixir", "go", "haskell", "html", "java", "javascript", "json", "kotlin",
  "lua", "php", "python", "r", "ruby", "rust", "scala", "sql", "swift", "typescript", "yaml", "zig",
];
export const DETAIL_LEVELS = ["brief", "medium", "detailed"];

const language = { name: "language", description: "Programming language of the code", required: false };
const code = { name: "code", description: "The code", required: true };

function fenced(source: string, lang: string | undefined): string {
  // A fence longer than any backtick run inside keeps the code intact.
  const longest = Math.max(2, ...Array.from(source.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang ?? ""}\n${source}\n${fence}`;
}

const DETAIL: Record<string, string> = {
  brief: "Give a brief explanation in a few sentences: what it does and why.",
  medium: "Explain what it does, how it works step by step, and anything notable.",
  detailed:
    "Explain it in detail: purpose, how each part works, the data flow, edge cases, complexity, and anything a reader could trip over.",
};

export const prompts: readonly Prompt[] = [
  {
    name: "code_review",
    title: "Code review",
    description: "Review code for bugs, security problems, performance and style, with concrete suggestions.",
    arguments: [code, language],
    render: (a) =>
      `Please review the following ${a.language ? `${a.language} ` : ""}code. Point out bugs, security issues, performance problems and readability or style issues, each with a concrete fix. End with a short summary of the most important changes.\n\n${fenced(a.code ?? "", a.language)}`,
  },
  {
    name: "explain_code",
    title: "Explain code",
    description: "Explain what a piece of code does, at the chosen level of detail.",
    arguments: [code, language, { name: "detail_level", description: "brief, medium or detailed (default medium)", required: false }],
    render: (a) =>
      `Please explain the following ${a.language ? `${a.language} ` : ""}code. ${DETAIL[a.detail_level ?? "medium"]}\n\n${fenced(a.code ?? "", a.language)}`,
  },
  {
    name: "debug_help",
    title: "Debug help",
    description: "Find the cause of an error in a piece of code and how to fix it.",
    arguments: [code, { name: "error", description: "The error message or unexpected behaviour", required: true }, language],
    render: (a) =>
      `I get this error:\n\n${fenced(a.error ?? "", undefined)}\n\nfrom the following ${a.language ? `${a.language} ` : ""}code:\n\n${fenced(a.code ?? "", a.language)}\n\nPlease explain the likely cause, show the fix, and say how to avoid it in future.`,
  },
];

/** What a person may type for an argument, for completion/complete. */
export function promptArgumentValues(argument: string): string[] {
  if (argument === "language") return LANGUAGES;
  if (argument === "detail_level") return DETAIL_LEVELS;
  return [];
}

/** Checks arguments against the prompt's declaration: names the missing and the unknown ones. */
export function checkPromptArguments(prompt: Prompt, args: Record<string, unknown>): string | undefined {
  const missing = prompt.arguments.filter((a) => a.required && (typeof args[a.name] !== "string" || args[a.name] === ""));
  if (missing.length) return `prompt ${prompt.name} needs ${missing.map((a) => a.name).join(" and ")}`;
  const known = new Set(prompt.arguments.map((a) => a.name));
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length) return `prompt ${prompt.name} has no argument ${unknown.join(", ")}; it takes ${[...known].join(", ")}`;
  const level = args.detail_level;
  if (prompt.name === "explain_code" && level !== undefined && !DETAIL_LEVELS.includes(String(level))) {
    return `detail_level must be one of ${DETAIL_LEVELS.join(", ")}, got ${JSON.stringify(level)}`;
  }
  return undefined;
}
