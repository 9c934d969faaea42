// Pure rules about which command lines may run and what environment they get.
// With a deny or allow list set, the line is read as sh would read it (shell-syntax.ts),
// wrappers are followed to the program they run, and what cannot be known before the line
// runs is refused. It is still a guard rail, not a sandbox: a script file, an interpreter
// (python -c, awk's system()) or a copy of rm under another name is not followed. The README says so.
import { parseShell, type Word } from "./shell-syntax.ts";

/** A program the line starts, with its words. A transparent one only runs another (env, nice, sh -c). */
type Run = { argv: Word[]; transparent: boolean };
type Problem = { part: string; reason: string };

/** Options a wrapper takes before the command it runs; an option not listed here is refused, because it might take a value and hide where the command starts. */
type Wrapper = {
  flags?: string; // short options without a value
  values?: string; // short options with a value, attached or the next word
  attached?: string; // short options whose optional value can only be attached (xargs -i{})
  long?: string[]; // long options without a value (or with --name=value)
  longValues?: string[]; // long options with a value: --name=value or --name value
  operands?: number; // words between the options and the command (timeout's DURATION)
  assignments?: boolean; // NAME=value words before the command
  numeric?: boolean; // nice -5
  transparent: boolean; // does nothing but run the command: an allow list looks through it
  noRun?: string[]; // with one of these, the operands are not a command (command -v, sudo -e)
  stdinShell?: string[]; // with one of these and no command, a shell reads commands from stdin (sudo -s)
  refused?: Record<string, string>; // options whose effect cannot be checked
  input?: boolean; // xargs: adds words read from its input, runs echo by default
};

const WRAPPERS: Record<string, Wrapper> = {
  env: {
    flags: "i0v", // `env - cmd` (-i) is read as the "-" wrapper below
    values: "uCPS",
    long: ["ignore-environment", "null", "debug", "list-signal-handling", "default-signal", "ignore-signal", "block-signal"],
    longValues: ["unset", "chdir", "split-string"],
    assignments: true,
    transparent: true,
    refused: { S: "env -S splits a string into a command line", "split-string": "env --split-string splits a string into a command line" },
  },
  nice: { values: "n", longValues: ["adjustment"], numeric: true, transparent: true },
  timeout: { flags: "fpv", values: "ks", long: ["foreground", "preserve-status", "verbose"], longValues: ["kill-after", "signal"], operands: 1, transparent: true },
  stdbuf: { values: "ioe", longValues: ["input", "output", "error"], transparent: true },
  nohup: { transparent: true },
  // bash's time keyword takes a whole pipeline, VAR=value words included
  time: { flags: "apvq", values: "fo", long: ["append", "portability", "verbose", "quiet"], longValues: ["format", "output"], assignments: true, transparent: true },
  command: { flags: "pvV", noRun: ["v", "V"], transparent: true },
  builtin: { transparent: true },
  exec: { flags: "cl", values: "a", transparent: true },
  setsid: { flags: "cfw", long: ["ctty", "fork", "wait"], transparent: true },
  coproc: { transparent: true },
  // zsh's precommand modifiers; "-" is also env's old spelling of -i
  noglob: { transparent: true },
  nocorrect: { transparent: true },
  "-": { transparent: true },
  busybox: { transparent: true },
  toybox: { transparent: true },
  xargs: {
    flags: "0oprtx",
    values: "adEILnPsJRS",
    attached: "eil",
    long: ["null", "interactive", "no-run-if-empty", "verbose", "exit", "open-tty", "show-limits", "replace", "eof", "max-lines"],
    longValues: ["arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"],
    transparent: true,
    input: true,
  },
  // sudo and doas change who runs the command, so an allow list must name them too.
  sudo: {
    flags: "AbEeHhiKklnPSsVv",
    values: "CDgpRrTtUu",
    long: ["askpass", "background", "bell", "edit", "help", "login", "list", "non-interactive", "preserve-groups", "preserve-env", "remove-timestamp", "reset-timestamp", "shell", "set-home", "stdin", "validate", "version"],
    longValues: ["chdir", "chroot", "close-from", "command-timeout", "group", "host", "other-user", "prompt", "role", "type", "user"],
    assignments: true,
    transparent: false,
    noRun: ["e", "edit"],
    stdinShell: ["s", "i", "shell", "login"],
  },
  doas: { flags: "nsL", values: "uC", transparent: false, noRun: ["C"], stdinShell: ["s"] },
};

const SHELLS = new Set(["sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh", "tcsh"]);
/** Their code is not sh syntax (fish's `and rm`, csh's own quoting), so reading it as sh would miss commands. */
const FOREIGN_SHELLS = new Set(["fish", "csh", "tcsh"]);
const FIND_EXEC = new Set(["-exec", "-execdir", "-ok", "-okdir"]);
/** Nesting of code strings and find -exec (sh -c "find -exec sh -c …"), and wrappers in a row; more is refused, not followed. */
const MAX_DEPTH = 8;
const MAX_WRAPPERS = 16;
// Reading is linear but runs on the event loop; Linux refuses an argument longer than this
// (MAX_ARG_STRLEN), so `sh -c` could not run a longer line there anyway.
const MAX_CHECKED_LINE = 128 * 1024;

const HIDDEN: Record<string, string> = {
  eval: "eval runs a string as a command line",
  source: "source runs the commands in a file, which the lists cannot see",
  ".": ". runs the commands in a file, which the lists cannot see",
  let: "let is arithmetic, in which bash evaluates array subscripts that can run commands",
  enable: "enable -f loads a builtin from a file",
  complete: "complete -C/-F names a command or function to run later",
  compgen: "compgen -C/-F runs a command or function",
  mapfile: "mapfile -C runs a callback command",
  readarray: "readarray -C runs a callback command",
};

/**
 * Programs that run another program which these lists do not follow (each has its own option
 * grammar). Refused while a list is set rather than let through: `ionice rm x` must not pass
 * `deny: [rm]`.
 */
const UNFOLLOWED = new Set(["ionice", "chrt", "taskset", "flock", "watch", "script", "su", "runuser", "unshare", "nsenter", "chroot", "strace", "ltrace", "parallel", "systemd-run", "at", "batch", "ssh", "dbus-launch", "firejail", "bwrap", "proot", "fakeroot", "catchsegv", "valgrind", "gdb"]);

/**
 * Programs that do what a denied name does under another name. Kept small on purpose: each is a
 * program whose main job is the same act, so `deny: [rm]` written to keep files also catches it;
 * a wider net (rmdir, mv, truncate, git clean) would refuse ordinary work. Only a one-word deny
 * pattern equal to `means` uses this table; an allow list never does.
 */
export const SYNONYMS: { name: string; when?: string; means: string; why: string }[] = [
  { name: "unlink", means: "rm", why: "unlink removes a file, like rm" },
  { name: "shred", means: "rm", why: "shred destroys a file's contents, and with -u removes it" },
  { name: "find", when: "-delete", means: "rm", why: "find -delete removes every file it finds" },
];

const INPUT: Word = { text: "", source: "<input>", start: 0, end: 0, quoted: true, dynamic: "the words xargs reads from its input" };
const ECHO: Word = { text: "echo", source: "echo", start: 0, end: 0, quoted: false };

/** The name a pattern's first word is compared with: /bin/rm is rm; zsh's =rm is rm too. */
function commandName(text: string): string {
  const base = text.slice(text.lastIndexOf("/") + 1);
  return base.startsWith("=") ? base.slice(1) : base;
}

/** Where the wrapped command starts, and the options seen (with their values; "" for none). */
function readOptions(argv: Word[], name: string, spec: Wrapper): { next: number; seen: Map<string, string> } | Problem {
  const seen = new Map<string, string>();
  const fixed = (w: Word | undefined, what: string): Problem | undefined =>
    w?.dynamic ? { part: w.source, reason: `${w.dynamic} ${what} of ${name} could be an option or the command, so where the command starts is only known when the line runs` } : undefined;
  let i = 1;
  for (; i < argv.length; i++) {
    const w = argv[i] as Word;
    const bad = fixed(w, "among the options");
    if (bad) return bad;
    const t = w.text;
    if (t === "--") {
      i++;
      break;
    }
    if (t.startsWith("--")) {
      const [option = "", value] = t.slice(2).split(/=(.*)/s);
      if (spec.longValues?.includes(option) && value === undefined) {
        const badValue = fixed(argv[++i], "as an option value");
        if (badValue) return badValue;
        seen.set(option, argv[i]?.text ?? "");
      } else if (spec.long?.includes(option) || spec.longValues?.includes(option) || option === "help" || option === "version") seen.set(option, value ?? "");
      else return { part: w.source, reason: `${name} option ${t} is not known here, so where the command starts cannot be told` };
    } else if (t.startsWith("-") && t.length > 1) {
      if (spec.numeric && /^-[0-9]+$/.test(t)) continue;
      for (let k = 1; k < t.length; k++) {
        const c = t[k] as string;
        seen.set(c, t.slice(k + 1));
        if (spec.attached?.includes(c)) break;
        if (spec.values?.includes(c)) {
          if (k === t.length - 1) {
            const badValue = fixed(argv[++i], "as an option value");
            if (badValue) return badValue;
            seen.set(c, argv[i]?.text ?? "");
          }
          break;
        }
        if (!spec.flags?.includes(c)) return { part: w.source, reason: `${name} option -${c} is not known here, so where the command starts cannot be told` };
      }
    } else break;
  }
  for (let k = 0; k < (spec.operands ?? 0) && i < argv.length; k++, i++) {
    const bad = fixed(argv[i], "as an operand");
    if (bad) return bad;
  }
  for (; spec.assignments && argv[i]; i++) {
    const bad = fixed(argv[i], "among the NAME=value words");
    if (bad) return bad;
    if (!/^[^=-][^=]*=/.test((argv[i] as Word).text)) break;
  }
  return { next: i, seen };
}

/** Shell code given as a string (sh -c, trap): read it like the line itself. */
function codeRuns(code: Word, who: string, depth: number, runs: Run[]): Problem | undefined {
  if (code.dynamic) return { part: code.source, reason: `the code ${who} runs holds ${code.dynamic}, which is only known when the line runs` };
  if (depth >= MAX_DEPTH) return { part: code.source, reason: `commands nested more than ${MAX_DEPTH} levels deep (sh -c, find -exec) are not followed` };
  const parsed = parseShell(code.text);
  if (!parsed.ok) return { part: parsed.part, reason: `${parsed.reason} (in the code ${who} runs)` };
  for (const command of parsed.commands) {
    const problem = unwrap(command.argv, depth + 1, runs);
    if (problem) return problem;
  }
  return undefined;
}

function shellRuns(argv: Word[], name: string, depth: number, runs: Run[]): Problem | undefined {
  let i = 1;
  let code = false;
  let stdin = false;
  for (; i < argv.length; i++) {
    const w = argv[i] as Word;
    if (w.dynamic && code) break; // refused below either way, as the code sh -c runs
    if (w.dynamic) return { part: w.source, reason: `${w.dynamic} among the options of ${name} could be -c and a command, which is only known when the line runs` };
    if (w.text === "--" || w.text === "-") {
      i++;
      break;
    }
    if (w.text.startsWith("--")) {
      if (w.text === "--rcfile" || w.text === "--init-file") i++;
    } else if (/^[-+]./.test(w.text)) {
      code ||= w.text.startsWith("-") && w.text.includes("c");
      stdin ||= w.text.startsWith("-") && w.text.includes("s");
      if (/[oO]/.test(w.text)) i++;
    } else break;
  }
  const operand = argv[i];
  if (code && FOREIGN_SHELLS.has(name)) return { part: argv.map((w) => w.source).join(" "), reason: `${name} code is not sh syntax, so the commands in it cannot be read` };
  if (code) {
    runs.push({ argv, transparent: true });
    return operand ? codeRuns(operand, `${name} -c`, depth, runs) : undefined;
  }
  if (stdin || !operand) return { part: argv.map((w) => w.source).join(" "), reason: `${name} without -c reads commands from standard input, which the lists cannot see` };
  // A script file: like any program, what it does inside is not followed.
  runs.push({ argv, transparent: false });
  return undefined;
}

function findRuns(argv: Word[], depth: number, runs: Run[]): Problem | undefined {
  runs.push({ argv, transparent: false });
  for (let i = 1; i < argv.length; i++) {
    const w = argv[i] as Word;
    if (w.dynamic) return { part: w.source, reason: `${w.dynamic} in a find expression could add -exec or -delete, which is only known when the line runs` };
    if (!FIND_EXEC.has(w.text)) continue;
    let end = i + 1;
    while (end < argv.length && (argv[end] as Word).text !== ";" && !((argv[end] as Word).text === "+" && argv[end - 1]?.text === "{}")) end++;
    if (depth >= MAX_DEPTH) return { part: w.source, reason: `commands nested more than ${MAX_DEPTH} levels deep (sh -c, find -exec) are not followed` };
    const inner = argv.slice(i + 1, end).map((x) => (x.text.includes("{}") ? { ...x, dynamic: "{} (a file name find fills in)" } : x));
    const problem = unwrap(inner, depth + 1, runs);
    if (problem) return problem;
    i = end;
  }
  return undefined;
}

/** Every program a simple command starts, following wrappers to the command they run. */
function unwrap(start: Word[], depth: number, runs: Run[]): Problem | undefined {
  let argv = start;
  for (let hops = 0; argv[0]; hops++) {
    const head = argv[0];
    if (hops > MAX_WRAPPERS) return { part: start.map((w) => w.source).join(" "), reason: `more than ${MAX_WRAPPERS} wrappers in a row are not followed` };
    if (head.dynamic) return { part: head.source, reason: `${head.dynamic} in command position, so the command is only known when the line runs` };
    const name = commandName(head.text);
    const hidden = HIDDEN[name];
    if (hidden) return { part: argv.map((w) => w.source).join(" "), reason: hidden };
    if (UNFOLLOWED.has(name)) return { part: argv.map((w) => w.source).join(" "), reason: `${name} runs another program, which the command lists do not follow` };
    // Quoted text is literal to sh, but bash evaluates $(…) inside array subscripts
    // (declare 'a[$(cmd)]=1', printf -v, read, unset, test -v): not checkable.
    const hiddenCode = argv.find((w) => /\$\(|`/.test(w.text));
    if (hiddenCode) return { part: hiddenCode.source, reason: "it holds a command substitution in quotes, which bash runs inside array subscripts" };
    if (name === "alias" && argv.length > 1) return { part: argv.map((w) => w.source).join(" "), reason: "aliases can give any command name a new meaning" };
    if (name === "hash" && argv.some((w) => /^-[a-z]*p/.test(w.text))) return { part: argv.map((w) => w.source).join(" "), reason: "hash -p binds a command name to another program" };
    if (SHELLS.has(name)) return shellRuns(argv, name, depth, runs);
    if (name === "find") return findRuns(argv, depth, runs);
    if (name === "trap") {
      runs.push({ argv, transparent: false });
      const operands = argv.slice(argv[1]?.text === "--" ? 2 : 1);
      const action = operands[0];
      // `trap ACTION SIGNAL…` runs ACTION later; `trap - INT`, `trap 2 INT` and `trap -p` run nothing
      if (action && operands.length > 1 && !action.text.startsWith("-") && !/^[0-9]+$/.test(action.text)) return codeRuns(action, "trap", depth, runs);
      return undefined;
    }
    const spec = WRAPPERS[name];
    if (!spec) {
      runs.push({ argv, transparent: false });
      return undefined;
    }
    const options = readOptions(argv, name, spec);
    if ("reason" in options) return options;
    const refused = Object.entries(spec.refused ?? {}).find(([option]) => options.seen.has(option));
    if (refused) return { part: argv.map((w) => w.source).join(" "), reason: refused[1] };
    let inner = spec.noRun?.some((o) => options.seen.has(o)) ? [] : argv.slice(options.next);
    if (inner.length === 0 && spec.stdinShell?.some((o) => options.seen.has(o))) {
      return { part: argv.map((w) => w.source).join(" "), reason: `${name} with a shell and no command reads commands from standard input, which the lists cannot see` };
    }
    if (spec.input) {
      // xargs -I {} (-i, -J, --replace) puts input words where its replace string is, even inside the code of sh -c '{}'
      const seen = options.seen;
      const replace = seen.get("I") || seen.get("J") || ((seen.has("i") || seen.has("replace")) && (seen.get("i") || seen.get("replace") || "{}"));
      const filled = replace ? inner.map((w) => (w.text.includes(replace) ? { ...w, dynamic: `${replace} (filled with the words xargs reads from its input)` } : w)) : inner;
      inner = [...(filled.length ? filled : [ECHO]), INPUT];
    }
    runs.push({ argv, transparent: spec.transparent && inner.length > 0 });
    argv = inner;
  }
  return undefined;
}

type Match = "yes" | "no" | { unknown: string };

/** "rm -rf" matches "rm -rf /x" and "/bin/rm -rf", not "rmdir" or "rm -r -f"; a word only known at run time where the pattern still has words makes it unknown. */
function matches(argv: Word[], pattern: string[]): Match {
  if (pattern.length === 0) return "no";
  for (const [k, word] of pattern.entries()) {
    const w = argv[k];
    if (!w) return "no";
    if (w.dynamic) return { unknown: w.dynamic };
    if ((k === 0 ? commandName(w.text) : w.text) !== word) return "no";
  }
  return "yes";
}

function synonymOf(run: Run) {
  const name = commandName(run.argv[0]?.text ?? "");
  return SYNONYMS.find((s) => s.name === name && (s.when === undefined || run.argv.some((w) => w.text === s.when)));
}

export type PolicyVerdict = { ok: true } | { ok: false; error: string };

export function checkCommand(line: string, allow: string[], deny: string[]): PolicyVerdict {
  if (line.trim() === "") return { ok: false, error: "command is empty" };
  // Without lists nothing is read: the line goes to the shell exactly as before.
  if (allow.length === 0 && deny.length === 0) return { ok: true };
  const lists = [deny.length ? "commands.deny" : "", allow.length ? "commands.allow" : ""].filter(Boolean).join(", ");
  const refuse = (error: string): PolicyVerdict => ({ ok: false, error: `command refused: ${error}` });
  // A refusal quotes the part it is about, but never a whole long line back to the model.
  const cut = (part: string) => (part.length > 200 ? `${part.slice(0, 200)}…` : part);
  if (line.length > MAX_CHECKED_LINE) return refuse(`the line has ${line.length} characters; with ${lists} set, lines over ${MAX_CHECKED_LINE} are not read (Linux cannot run a longer sh -c line either)`);
  const parsed = parseShell(line);
  if (!parsed.ok) return refuse(`cannot check "${cut(parsed.part)}": ${parsed.reason} (${lists})`);

  const found: { runs: Run[]; source: string; argv: Word[] }[] = [];
  for (const command of parsed.commands) {
    const runs: Run[] = [];
    const problem = unwrap(command.argv, 0, runs);
    if (problem) return refuse(`cannot check "${cut(problem.part)}": ${problem.reason} (${lists})`);
    found.push({ runs, source: command.source, argv: command.argv });
  }
  const subject = (run: Run, command: { source: string; argv: Word[] }) =>
    run.argv === command.argv ? `"${cut(command.source)}"` : `"${cut(command.source)}" runs "${cut(run.argv.map((w) => w.source).join(" "))}", which`;

  const denied = deny.map((p) => ({ text: p, words: p.trim().split(/\s+/).filter(Boolean) }));
  for (const command of found) {
    for (const run of command.runs) {
      const synonym = synonymOf(run);
      for (const pattern of denied) {
        const m = matches(run.argv, pattern.words);
        if (m === "yes") return refuse(`${subject(run, command)} matches the deny pattern "${pattern.text}" (commands.deny)`);
        if (m !== "no") return refuse(`${subject(run, command)} cannot be checked against the deny pattern "${pattern.text}": ${m.unknown} is only known when the line runs (commands.deny)`);
        if (synonym && pattern.words.length === 1 && pattern.words[0] === synonym.means) {
          return refuse(`${subject(run, command)} counts as "${synonym.means}" (${synonym.why}) and matches the deny pattern "${pattern.text}" (commands.deny)`);
        }
      }
    }
  }
  if (allow.length === 0) return { ok: true };
  const allowed = allow.map((p) => p.trim().split(/\s+/).filter(Boolean));
  for (const command of found) {
    for (const run of command.runs) {
      if (run.transparent) continue;
      const results = allowed.map((words) => matches(run.argv, words));
      if (results.includes("yes")) continue;
      const unknown = results.find((m): m is { unknown: string } => typeof m === "object");
      if (unknown) return refuse(`${subject(run, command)} cannot be checked against the allow list: ${unknown.unknown} is only known when the line runs (commands.allow: ${allow.join(", ")})`);
      return refuse(`${subject(run, command)} is not in the allow list (commands.allow: ${allow.join(", ")})`);
    }
  }
  return { ok: true };
}

// OTLP header variables carry the collector's credentials; the rest of OTEL_* is a program's own business.
const ALWAYS_DROPPED = [/^ANTHROPIC_/, /^TELEMETRYFLOW_/, /^OTEL_EXPORTER_OTLP_(?:\w+_)?HEADERS$/];
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
