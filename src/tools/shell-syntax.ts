// A POSIX sh reader for the command policy: it finds every simple command a line would run,
// each as its words after quote removal. It does not run or expand anything. Whatever it
// cannot know before the line runs (command substitution, arithmetic, odd parameter
// expansions, function definitions, a syntax error) it refuses, naming the part and why.

/** One word after quote removal. `dynamic` says which expansion or glob makes its value unknown until run time. */
export type Word = { text: string; source: string; start: number; end: number; quoted: boolean; dynamic?: string };
export type SimpleCommand = { argv: Word[]; source: string };
export type ShellParse = { ok: true; commands: SimpleCommand[] } | { ok: false; part: string; reason: string };

type Token = { kind: "word"; word: Word; start: number; end: number } | { kind: "op"; op: string; start: number; end: number };

// Thrown only inside this module and turned into a value by parseShell: it keeps the
// recursive descent readable without threading a result through every rule.
class Refusal {
  constructor(
    readonly part: string,
    readonly reason: string,
  ) {}
}

const OPERATORS = new Set([";;&", "&>>", "<<-", "<<<", "&&", "||", ";;", ";&", "|&", "<<", ">>", "<&", ">&", "<>", ">|", "&>", ";", "&", "|", "(", ")", "<", ">", "\n"]);
const REDIRECTS = new Set(["<", ">", ">>", "<<", "<<-", "<<<", "<&", ">&", "<>", ">|", "&>", "&>>"]);
const SEPARATORS = new Set([";", "&", "\n"]);
const METACHARS = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const CLOSERS = new Set(["then", "else", "elif", "fi", "do", "done", "esac", "}"]);
const MAX_NESTING = 100;
// ${NAME}, ${#NAME}, ${NAME:-word} and the other POSIX forms whose word holds no quotes,
// braces or substitutions. Everything else is refused: bash evaluates array subscripts and
// substring offsets as arithmetic, which can run a command hidden in a variable's value.
const PLAIN_PARAMETER = /^#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:(?::?[-=?+]|##?|%%?)(?:[^'"`\\${}]|\$[A-Za-z0-9_@*#?!-])*)?$/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;
const PARAMETER_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/;
const FD = /^(?:[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\})$/;
const ARITHMETIC = "arithmetic, in which bash evaluates array subscripts that can run commands";
const SUBSTITUTION_TEXT = /\$\(|\$\[|`/;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const heredocs: { word: Word; stripTabs: boolean }[] = [];
  let delimiterNext: boolean | undefined;
  const plain = /[^ \t\n;&|()<>\\'"$`]+/y; // a run of characters with no special meaning in a word
  let i = 0;

  const refuseAt = (start: number, end: number, reason: string): never => {
    throw new Refusal(src.slice(start, end), reason);
  };

  /** `$…` at i; returns where it ends and what makes it dynamic (undefined: a plain "$"). */
  const dollar = (at: number, inDouble: boolean): { end: number; dynamic?: string } => {
    const next = src[at + 1] ?? "";
    // The shell removes a line continuation before it reads `$(`; so must we, or refuse.
    if (next === "\\" && src[at + 2] === "\n") refuseAt(at, at + 3, "a line continuation right after $ is not read");
    if (next === "(") {
      if (src[at + 2] === "(") refuseAt(at, closing(src, at + 3, "))"), ARITHMETIC);
      refuseAt(at, closing(src, at + 2), "command substitution runs a command that is only known when the line runs");
    }
    if (next === "[") refuseAt(at, closing(src, at + 2, "]"), ARITHMETIC);
    if (next === "{") {
      const end = src.indexOf("}", at + 2);
      if (end < 0) refuseAt(at, src.length, "unterminated ${");
      if (!PLAIN_PARAMETER.test(src.slice(at + 2, end))) refuseAt(at, end + 1, "this form of parameter expansion is not read (only ${NAME}, ${#NAME} and ${NAME:-word} forms without quotes are)");
      return { end: end + 1, dynamic: src.slice(at, end + 1) };
    }
    if (!inDouble && next === "'") {
      let j = at + 2;
      while (j < src.length && src[j] !== "'") j += src[j] === "\\" ? 2 : 1;
      if (j >= src.length) refuseAt(at, src.length, "unterminated $'");
      return { end: j + 1, dynamic: src.slice(at, j + 1) };
    }
    if (!inDouble && next === '"') {
      const end = double(at + 2, false).end;
      return { end, dynamic: src.slice(at, end) };
    }
    const name = PARAMETER_NAME.exec(src.slice(at + 1, at + 64));
    if (name) return { end: at + 1 + name[0].length, dynamic: `$${name[0]}` };
    return { end: at + 1 };
  };

  /** Inside "…" (or an unquoted heredoc body, up to `stop`): backslash escapes and $ expansions, no backticks. */
  const double = (from: number, heredoc: boolean, stop = src.length): { text: string; end: number; dynamic?: string } => {
    let text = "";
    let dynamic: string | undefined;
    let j = from;
    while (j < stop) {
      const c = src[j] as string;
      if (c === '"' && !heredoc) return { text, end: j + 1, dynamic };
      if (c === "`") refuseAt(j, closing(src, j + 1, "`"), "command substitution runs a command that is only known when the line runs");
      if (c === "\\" && j + 1 < stop && '$`"\\\n'.includes(src[j + 1] as string)) {
        if (src[j + 1] !== "\n") text += src[j + 1];
        j += 2;
      } else if (c === "$") {
        const d = dollar(j, true);
        if (d.dynamic) dynamic ??= d.dynamic;
        else text += "$";
        j = d.end;
      } else {
        text += c;
        j++;
      }
    }
    if (!heredoc) refuseAt(from - 1, src.length, "unterminated double quote");
    return { text, end: j, dynamic };
  };

  const word = (from: number): Word => {
    let text = "";
    let bare = ""; // the unquoted characters, for glob and brace patterns
    let quoted = false;
    let dynamic: string | undefined;
    let j = from;
    while (j < src.length && !METACHARS.has(src[j] as string)) {
      const c = src[j] as string;
      if (c === "\\") {
        if (src[j + 1] !== "\n") {
          text += src[j + 1] ?? "\\";
          bare += "_";
          quoted = true;
        }
        j += 2;
      } else if (c === "'") {
        const end = src.indexOf("'", j + 1);
        if (end < 0) refuseAt(j, src.length, "unterminated single quote");
        text += src.slice(j + 1, end);
        bare += "_";
        quoted = true;
        j = end + 1;
      } else if (c === '"') {
        const d = double(j + 1, false);
        text += d.text;
        dynamic ??= d.dynamic;
        bare += "_";
        quoted = true;
        j = d.end;
      } else if (c === "$") {
        const d = dollar(j, false);
        if (d.dynamic) {
          dynamic ??= d.dynamic;
          quoted ||= d.dynamic.startsWith("$'") || d.dynamic.startsWith('$"');
        } else text += "$";
        bare += "_";
        j = d.end;
      } else if (c === "`") {
        refuseAt(j, closing(src, j + 1, "`"), "command substitution runs a command that is only known when the line runs");
      } else {
        plain.lastIndex = j;
        plain.test(src);
        text += src.slice(j, plain.lastIndex);
        bare += src.slice(j, plain.lastIndex);
        j = plain.lastIndex;
      }
    }
    const source = src.slice(from, j);
    if (isPattern(bare)) dynamic ??= source;
    return { text, source, start: from, end: j, quoted, dynamic };
  };

  const heredocBodies = () => {
    for (const { word: delimiter, stripTabs } of heredocs) {
      const bodyStart = i;
      let joined: string | undefined; // the line so far, when the last one ended in a backslash
      for (;;) {
        const lineEnd = src.indexOf("\n", i) < 0 ? src.length : src.indexOf("\n", i);
        const line = stripTabs ? src.slice(i, lineEnd).replace(/^\t+/, "") : src.slice(i, lineEnd);
        const done = joined === undefined && line === delimiter.text;
        if (!delimiter.quoted) {
          // Both shells join a line ending in a backslash to the next; only bash then takes
          // the joined line as the end marker, so the two would run different commands.
          if (joined !== undefined && joined + line === delimiter.text) refuseAt(i, lineEnd, "a line continuation forms the here-document's end marker, where bash and dash disagree");
          let backslashes = 0;
          while (line[line.length - 1 - backslashes] === "\\") backslashes++;
          // (cut to the marker's length plus one: a longer line can never become the marker)
          joined = backslashes % 2 === 1 ? ((joined ?? "") + line.slice(0, -1)).slice(0, delimiter.text.length + 1) : undefined;
        }
        if (done || lineEnd >= src.length) {
          // An unquoted delimiter means the body is expanded like a double-quoted string.
          if (!delimiter.quoted) double(bodyStart, true, done ? i : src.length);
          i = Math.min(lineEnd + 1, src.length);
          break;
        }
        i = lineEnd + 1;
      }
    }
    heredocs.length = 0;
  };

  while (i < src.length) {
    const c = src[i] as string;
    if (c === " " || c === "\t") i++;
    else if (c === "\\" && src[i + 1] === "\n") i += 2;
    else if (c === "#") while (i < src.length && src[i] !== "\n") i++;
    else {
      const op = METACHARS.has(c) ? [src.slice(i, i + 3), src.slice(i, i + 2), c].find((o) => OPERATORS.has(o)) : undefined;
      if (op) {
        if ((op === "<" || op === ">") && src[i + 1] === "(") refuseAt(i, closing(src, i + 2), "process substitution runs a command the lists cannot see");
        tokens.push({ kind: "op", op, start: i, end: i + op.length });
        i += op.length;
        delimiterNext = op === "<<" || op === "<<-" ? op === "<<-" : undefined;
        if (op === "\n") heredocBodies();
        continue;
      }
      const w = word(i);
      i = w.end;
      // A file descriptor written before a redirection (2>, {fd}>) is not a word of the command.
      if ((src[i] === "<" || src[i] === ">") && FD.test(w.source)) continue;
      tokens.push({ kind: "word", word: w, start: w.start, end: w.end });
      if (delimiterNext !== undefined) heredocs.push({ word: w, stripTabs: delimiterNext });
      delimiterNext = undefined;
    }
  }
  return tokens;
}

function parseTokens(src: string, tokens: Token[]): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  let p = 0;
  const peek = (k = 0) => tokens[p + k];
  const isOp = (t: Token | undefined, ...ops: string[]) => t?.kind === "op" && ops.includes(t.op);
  const reserved = (t: Token | undefined) => (t?.kind === "word" && !t.word.quoted && !t.word.dynamic ? t.word.text : undefined);
  const syntaxError = (t: Token | undefined): never => {
    if (!t) throw new Refusal(src.trim(), "the line ends too soon (syntax error)");
    throw new Refusal(t.kind === "op" && t.op === "\n" ? "newline" : src.slice(t.start, t.end), "not expected here (syntax error)");
  };
  const accept = (word: string) => reserved(peek()) === word && ++p > 0;
  const expect = (word: string) => accept(word) || syntaxError(peek());
  const skipNewlines = () => {
    while (isOp(peek(), "\n")) p++;
  };

  /** Commands separated by ; & and newlines, up to a closing word (then, fi, }…), ")" or ";;". */
  const list = (depth: number) => {
    if (depth > MAX_NESTING) throw new Refusal(src.trim().slice(0, 40).trim(), `nested more than ${MAX_NESTING} levels deep`);
    for (;;) {
      while (peek()?.kind === "op" && SEPARATORS.has((peek() as { op: string }).op)) p++;
      const t = peek();
      if (!t || CLOSERS.has(reserved(t) ?? "") || isOp(t, ")", ";;", ";&", ";;&")) return;
      andOr(depth);
      const after = peek();
      if (after && !(after.kind === "op" && SEPARATORS.has(after.op)) && !CLOSERS.has(reserved(after) ?? "") && !isOp(after, ")", ";;", ";&", ";;&")) syntaxError(after);
    }
  };

  const andOr = (depth: number) => {
    pipeline(depth);
    while (isOp(peek(), "&&", "||")) {
      p++;
      skipNewlines();
      pipeline(depth);
    }
  };

  const pipeline = (depth: number) => {
    for (;;) {
      const r = reserved(peek());
      // bash's `time` keyword before a compound command; before a simple one it is the time program
      if (r === "!" || (r === "time" && (isOp(peek(1), "(") || ["{", "if", "while", "until", "for", "case", "!"].includes(reserved(peek(1)) ?? "")))) p++;
      else break;
    }
    command(depth);
    while (isOp(peek(), "|", "|&")) {
      p++;
      skipNewlines();
      command(depth);
    }
  };

  /** A compound command ({ }, ( ), if, while, until, for, case) and its redirections, else a simple command. */
  const command = (depth: number) => {
    const t = peek();
    const r = reserved(t);
    const inner = depth + 1;
    if (isOp(t, "(")) {
      const next = peek(1);
      if (isOp(next, "(") && next?.start === t?.end) throw new Refusal(src.slice(t?.start, closing(src, t?.start ?? 0, "))")), `${ARITHMETIC} (or nested subshells written without a space)`);
      p++;
      list(inner);
      if (!isOp(peek(), ")")) syntaxError(peek());
      p++;
    } else if (r === "{") {
      p++;
      list(inner);
      expect("}");
    } else if (r === "if") {
      p++;
      list(inner);
      expect("then");
      list(inner);
      while (accept("elif")) {
        list(inner);
        expect("then");
        list(inner);
      }
      if (accept("else")) list(inner);
      expect("fi");
    } else if (r === "while" || r === "until") {
      p++;
      list(inner);
      expect("do");
      list(inner);
      expect("done");
    } else if (r === "for" || r === "select") {
      p++;
      if (isOp(peek(), "(")) throw new Refusal(src.slice(t?.start, closing(src, t?.start ?? 0, "))")), ARITHMETIC);
      if (peek()?.kind !== "word") syntaxError(peek());
      p++;
      skipNewlines();
      if (accept("in")) while (peek()?.kind === "word") p++;
      while (isOp(peek(), ";", "\n")) p++;
      expect("do");
      list(inner);
      expect("done");
    } else if (r === "case") {
      p++;
      if (peek()?.kind !== "word") syntaxError(peek());
      p++;
      skipNewlines();
      expect("in");
      skipNewlines();
      while (!accept("esac")) {
        if (isOp(peek(), "(")) p++;
        // patterns: words separated by |, never commands
        do {
          if (peek()?.kind !== "word") syntaxError(peek());
          p++;
        } while (isOp(peek(), "|") && ++p > 0);
        if (!isOp(peek(), ")")) syntaxError(peek());
        p++;
        list(inner);
        if (isOp(peek(), ";;", ";&", ";;&")) p++;
        else if (reserved(peek()) !== "esac") syntaxError(peek());
        skipNewlines();
      }
    } else if (r === "function") {
      throw new Refusal(src.slice(t?.start, peek(1)?.end ?? t?.end), "shell function definitions can give any command name a new meaning");
    } else if (r !== undefined && CLOSERS.has(r)) {
      syntaxError(t);
    } else return simple();
    while (peek()?.kind === "op" && REDIRECTS.has((peek() as { op: string }).op)) {
      if (peek(1)?.kind !== "word") syntaxError(peek(1));
      p += 2;
    }
  };

  const simple = () => {
    const argv: Word[] = [];
    let consumed = false;
    let end = 0;
    let dashSplit = -1;
    for (;;) {
      const t = peek();
      if (!t) break;
      if (t.kind === "op") {
        if (!REDIRECTS.has(t.op)) break;
        if (peek(1)?.kind !== "word") syntaxError(peek(1));
        // dash reads `a &>f b` as `a &` then `>f b`: b is then a command of its own.
        if (t.op.startsWith("&")) dashSplit = argv.length;
        end = (peek(1) as Token).end;
        p += 2;
        consumed = true;
        continue;
      }
      const w = t.word;
      // Also `env X=…`, `export X=…`: a value that looks like a substitution is how a command
      // is hidden from this reader and run later by bash (PS4 with set -x, arithmetic).
      if (w.text.includes("=") && ASSIGNMENT.test(w.text) && SUBSTITUTION_TEXT.test(w.text)) throw new Refusal(w.source, "assigns text holding $( or a backtick, which bash can run later (PS4, arithmetic)");
      if (w.text.startsWith("BASH_")) {
        if (w.text.startsWith("BASH_ENV=")) throw new Refusal(w.source, "BASH_ENV names a file of commands bash runs when it starts");
        if (w.text.startsWith("BASH_FUNC_")) throw new Refusal(w.source, "passes bash a function definition, which can give any command name a new meaning");
      }
      // A leading VAR=value is not a word of the command.
      if (argv.length > 0 || !w.source.includes("=") || !ASSIGNMENT.test(w.source)) argv.push(w);
      if (argv.length === 1 && isOp(peek(1), "(") && isOp(peek(2), ")")) throw new Refusal(src.slice(w.start, closing(src, w.start, "}")), "shell function definitions can give any command name a new meaning");
      end = (peek() as Token).end;
      p++;
      consumed = true;
    }
    if (!consumed) syntaxError(peek());
    const push = (words: Word[]) => {
      if (words[0]) commands.push({ argv: words, source: src.slice(words[0].start, end) });
    };
    push(argv);
    if (dashSplit > 0) push(argv.slice(dashSplit));
  };

  list(0);
  if (p < tokens.length) syntaxError(peek());
  return commands;
}

/**
 * A glob (*, ?, [...]) or bash brace expansion ({r,}m is rm): the words are only known at run time.
 * Written without regular expressions, which would backtrack on a long word of brackets.
 * The brace test is wider than bash's ({ … , … } anywhere), which only costs a refusal.
 */
function isPattern(bare: string): boolean {
  if (bare.includes("*") || bare.includes("?")) return true;
  const bracket = bare.indexOf("[");
  if (bracket >= 0 && bare.indexOf("]", bracket + 1) > 0) return true;
  const open = bare.indexOf("{");
  const inner = open >= 0 ? bare.slice(open + 1, bare.lastIndexOf("}")) : "";
  return inner.includes(",") || inner.includes("..");
}

/** Where a refused construct's text ends, for naming it in the error. */
function closing(src: string, from: number, close = ")"): number {
  const end = src.indexOf(close, from);
  return end < 0 ? src.length : end + close.length;
}

/** The simple commands `src` would run, or which part cannot be checked and why. */
export function parseShell(src: string): ShellParse {
  try {
    return { ok: true, commands: parseTokens(src, tokenize(src)) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, part: error.part, reason: error.reason };
    throw error;
  }
}
