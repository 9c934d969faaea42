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

function fenced(source: string, lang: string | undefined): string {
  // A fence longer than any backtick run inside keeps the code intact (upstream's three
  // backticks broke on code that holds a fence itself).
  const longest = Math.max(2, ...Array.from(source.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang ?? ""}\n${source}\n${fence}`;
}

// Upstream's words: people compare the prompts they get with the Python server's.
const DETAIL: Record<string, string> = {
  brief: "Provide a brief, high-level explanation.",
  medium: "Provide a balanced explanation with key details.",
  detailed: "Provide a comprehensive, in-depth explanation.",
};

export const prompts: readonly Prompt[] = [
  {
    name: "code_review",
    title: "Code review",
    description: "Get a thorough code review with actionable feedback",
    arguments: [{ name: "code", description: "The code to review", required: true }, language],
    render: (a) =>
      `Please review the following ${a.language ?? ""} code and provide feedback on:
1. Code quality and best practices
2. Potential bugs or issues
3. Performance considerations
4. Security concerns
5. Suggestions for improvement

Code to review:
${fenced(a.code ?? "", a.language)}

Please provide a thorough code review with specific recommendations.`,
  },
  {
    name: "explain_code",
    title: "Explain code",
    description: "Get a detailed explanation of what code does",
    arguments: [
      { name: "code", description: "The code to explain", required: true },
      language,
      { name: "detail_level", description: "Level of detail: brief, medium, or detailed", required: false },
    ],
    render: (a) =>
      `Please explain the following ${a.language ?? ""} code.

${DETAIL[a.detail_level ?? "medium"] ?? DETAIL.medium}

Code to explain:
${fenced(a.code ?? "", a.language)}

Include:
- What the code does overall
- Key functions and their purposes
- Important data structures
- Any notable patterns or techniques used`,
  },
  {
    name: "debug_help",
    title: "Debug help",
    description: "Get help debugging code errors",
    arguments: [
      { name: "code", description: "The code with the bug", required: true },
      { name: "error", description: "The error message or description of the issue", required: true },
      language,
    ],
    render: (a) =>
      `I need help debugging this ${a.language ?? ""} code.

The code:
${fenced(a.code ?? "", a.language)}

The error/issue:
${a.error ?? ""}

Please help me:
1. Understand what's causing the error
2. Identify the root cause
3. Suggest a fix with explanation
4. Recommend any preventive measures for similar issues`,
  },
];

/** What a person may type for an argument, for completion/complete. */
export function promptArgumentValues(argument: string): string[] {
  if (argument === "language") return LANGUAGES;
  if (argument === "detail_level") return DETAIL_LEVELS;
  return [];
}

/**
 * As upstream: a required argument must be present (an empty string is accepted), other
 * arguments a client sends are ignored, an unknown detail_level means medium.
 */
export function checkPromptArguments(prompt: Prompt, args: Record<string, unknown>): string | undefined {
  const missing = prompt.arguments.filter((a) => a.required && typeof args[a.name] !== "string");
  if (missing.length) return `Missing required argument: ${missing.map((a) => a.name).join(", ")} (prompt ${prompt.name} takes ${prompt.arguments.map((a) => a.name).join(", ")})`;
  return undefined;
}
