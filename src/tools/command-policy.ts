// Pure rules about which command lines may run and what environment they get.
// This is a guard rail against mistakes, not a sandbox: a shell can always hide a command
// (eval, variables, scripts). The README says so.

const SEPARATORS = /;|&&|\|\||\||&|\n|\$\(|`|\(|\)/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=\S*\s+/;

/** The simple commands in a command line, each without leading VAR=value assignments. */
export function commandParts(line: string): string[] {
  return line
    .split(SEPARATORS)
    .map((part) => {
      let p = part.trim();
      while (ASSIGNMENT.test(p)) p = p.replace(ASSIGNMENT, "");
      return p.replace(/^(?:exec|command|env|nohup|time)\s+/, "");
    })
    .filter((p) => p !== "");
}

/** "rm -rf" matches "rm -rf /x" and "/bin/rm -rf", not "rmdir". Whitespace runs count as one space. */
export function partMatches(part: string, pattern: string): boolean {
  const words = part.split(/\s+/);
  words[0] = words[0]?.split("/").pop() ?? "";
  const p = words.join(" ");
  const pat = pattern.trim().replace(/\s+/g, " ");
  return pat !== "" && (p === pat || p.startsWith(`${pat} `));
}

export type PolicyVerdict = { ok: true } | { ok: false; error: string };

export function checkCommand(line: string, allow: string[], deny: string[]): PolicyVerdict {
  if (line.trim() === "") return { ok: false, error: "command is empty" };
  const parts = commandParts(line);
  for (const part of parts) {
    const hit = deny.find((pattern) => partMatches(part, pattern));
    if (hit) return { ok: false, error: `command refused: "${part}" matches the deny pattern "${hit}" (commands.deny)` };
  }
  if (allow.length > 0) {
    for (const part of parts) {
      if (!allow.some((pattern) => partMatches(part, pattern))) {
        return { ok: false, error: `command refused: "${part}" is not in the allow list (commands.allow: ${allow.join(", ")})` };
      }
    }
  }
  return { ok: true };
}

const ALWAYS_DROPPED = [/^ANTHROPIC_/, /^TELEMETRYFLOW_/];
const BASE_PASSTHROUGH = ["PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "SHELL", "TMPDIR", "SYSTEMROOT", "COMSPEC", "PATHEXT"];

/** The child's environment: the server's own minus its secrets and env_drop; only env_passthrough names when that is set. */
export function childEnv(env: Record<string, string | undefined>, passthrough: string[], drop: string[]): Record<string, string> {
  const keep = passthrough.length ? new Set([...BASE_PASSTHROUGH, ...passthrough]) : undefined;
  const dropSet = new Set(drop);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || dropSet.has(name) || ALWAYS_DROPPED.some((re) => re.test(name))) continue;
    if (keep && !keep.has(name)) continue;
    out[name] = value;
  }
  return out;
}
