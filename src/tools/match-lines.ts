// What the content search does with a file's text once it is read, as pure functions: the
// literal a match must hold (checked on the bytes before any decode), and with show_lines the
// matching lines, cut when long, with their context merged as grep -C does.

export type LineOptions = {
  /** lines before and after each matching line */
  context: number;
  /** bytes of lines (as entrySize counts them) worth sending at most; past it only counts */
  budget: number;
  /** a longer line is cut around its match, with a marker */
  maxChars: number;
};

/** A line shown: its number (from 1), its text (cut when long), and whether it is only context. */
export type Line = { line: number; text: string; context?: true };
/** A matching file's lines: those kept (`cut` when the list stopped early), and how many of its lines match. */
export type FileLines = { lines: Line[]; matching: number; cut?: true };

/**
 * Text that every match of the pattern contains, or undefined when none is certain: the
 * longest run of plain characters outside groups, classes and optional parts. A file whose
 * bytes do not hold it cannot match, and is passed over without being decoded or searched
 * (the decode and the regex were most of the time per file once it was read).
 */
export function requiredLiteral(source: string, flags = ""): string | undefined {
  if (flags.includes("i") || flags.includes("u") || flags.includes("v")) return undefined;
  let best = "";
  let run = "";
  let depth = 0;
  const flush = () => {
    if (run.length > best.length) best = run;
    run = "";
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[++i];
      if (next === undefined) return undefined;
      if (depth === 0 && !/[A-Za-z0-9]/.test(next)) {
        run += next;
        continue;
      }
      // Letters and digits after a backslash are classes, assertions, references or codes,
      // some with an operand that is not text of its own: \x41, \u0041, \cA, \101, \k<name>.
      flush();
      const rest = source.slice(i + 1);
      if (next === "x" && /^[0-9a-fA-F]{2}/.test(rest)) i += 2;
      else if (next === "u" && /^[0-9a-fA-F]{4}/.test(rest)) i += 4;
      else if (next === "c" && /^[A-Za-z]/.test(rest)) i += 1;
      else if (/[0-9]/.test(next)) i += /^[0-9]*/.exec(rest)![0].length;
      else if ((next === "k" && rest[0] === "<") || ((next === "p" || next === "P") && rest[0] === "{")) {
        const close = source.indexOf(rest[0] === "<" ? ">" : "}", i + 1);
        if (close < 0) return undefined;
        i = close;
      }
    } else if (c === "[") {
      if (source[i + 1] === "^") i++;
      for (i++; i < source.length && source[i] !== "]"; i++) if (source[i] === "\\") i++;
      flush();
    } else if (c === "(") {
      depth++;
      flush();
    } else if (c === ")") {
      depth--;
      flush();
    } else if (c === "|") {
      if (depth === 0) return undefined;
    } else if (depth > 0) {
      // inside a group: nothing is certain
    } else if (c === "*" || c === "?") {
      run = run.slice(0, -1);
      flush();
    } else if (c === "+") {
      flush();
    } else if (c === "{" && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      const end = source.indexOf("}", i);
      if (/^\{0[,}]/.test(source.slice(i))) run = run.slice(0, -1);
      flush();
      i = end;
    } else if (c === "." || c === "^" || c === "$") {
      flush();
    } else run += c;
  }
  flush();
  // Bytes compared with a lone surrogate or U+FFFD would not be what the decoded text holds.
  if (best === "" || !best.isWellFormed() || best.includes("\ufffd")) return undefined;
  return best;
}

/** Where each line starts: 0, then after every "\n". */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The index of the line holding offset `at` (the last start at or before it). */
function lineAt(starts: number[], at: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A line longer than `max` characters, cut to `max` around `focus` (where its match starts),
 * with a marker for each cut side saying how much was left out there.
 */
export function cutLine(line: string, focus: number, max: number): string {
  if (line.length <= max) return line;
  let start = Math.max(0, Math.min(focus - Math.floor(max / 5), line.length - max));
  // Never half of a surrogate pair at either edge.
  if (start > 0 && /[\udc00-\udfff]/.test(line[start]!)) start++;
  let end = Math.min(line.length, start + max);
  if (end < line.length && /[\ud800-\udbff]/.test(line[end - 1]!)) end--;
  return `${start > 0 ? `[…${start} chars] ` : ""}${line.slice(start, end)}${end < line.length ? ` […${line.length - end} chars]` : ""}`;
}

/** What a shown line costs of the budget: its bytes as a grep line, `path:line:text\n`. */
export const entrySize = (path: string, line: Line) => Buffer.byteLength(path) + Buffer.byteLength(line.text) + String(line.line).length + 3;

/**
 * The lines of `text` that hold a match of `regex` (global; a match over several lines marks
 * them all), with up to `context` lines before and after each, as grep -C shows them (groups
 * that touch are merged). `keep(line)` is asked for each line in order and stops the list when
 * it says no; every matching line is counted whatever it says.
 */
export function linesOf(text: string, regex: RegExp, options: { context: number; maxChars: number }, keep: (line: Line) => boolean = () => true): FileLines {
  const starts = lineStarts(text);
  // A text that ends with a newline has no line after it; an empty one has none at all.
  const count = text === "" ? 0 : text.endsWith("\n") ? starts.length - 1 : starts.length;
  const endOf = (i: number) => {
    let end = i + 1 < starts.length ? starts[i + 1]! - 1 : text.length;
    if (end > starts[i]! && text.charCodeAt(end - 1) === 13) end--;
    return end;
  };
  /** matching lines in order, each with where its (first) match starts in it */
  const hits: { index: number; focus: number }[] = [];
  regex.lastIndex = 0;
  for (;;) {
    const from = regex.lastIndex;
    const m = regex.exec(text);
    if (!m) break;
    const first = lineAt(starts, m.index);
    if (first >= count) break;
    const last = Math.min(count - 1, lineAt(starts, Math.max(m.index, m.index + m[0].length - 1)));
    for (let i = first; i <= last; i++) {
      if (hits.length === 0 || hits[hits.length - 1]!.index < i) hits.push({ index: i, focus: i === first ? m.index - starts[i]! : 0 });
    }
    // One match per line is enough: the search goes on at the next line.
    const next = last + 1 < starts.length ? starts[last + 1]! : text.length + 1;
    if (next > text.length || next <= from) break;
    regex.lastIndex = next;
  }
  const lines: Line[] = [];
  let stopped = false;
  let shownUpTo = -1;
  const show = (index: number, focus: number, context: boolean) => {
    if (stopped) return;
    const line: Line = { line: index + 1, text: cutLine(text.slice(starts[index]!, endOf(index)), focus, options.maxChars) };
    if (context) line.context = true;
    if (!keep(line)) stopped = true;
    else lines.push(line);
    shownUpTo = index;
  };
  for (let h = 0; h < hits.length && !stopped; h++) {
    const { index, focus } = hits[h]!;
    for (let i = Math.max(shownUpTo + 1, index - options.context); i < index; i++) show(i, 0, true);
    show(index, focus, false);
    const nextHit = hits[h + 1]?.index ?? Number.POSITIVE_INFINITY;
    for (let i = index + 1; i <= Math.min(count - 1, index + options.context) && i < nextHit; i++) show(i, 0, true);
  }
  return stopped ? { lines, matching: hits.length, cut: true } : { lines, matching: hits.length };
}
