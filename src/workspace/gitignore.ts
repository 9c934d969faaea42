// .gitignore patterns → a matcher, with git's own semantics (gitignore(5), and where the
// manual is silent git's dir.c and wildmatch.c, which the tests compare against
// `git check-ignore`). Pure: reading the files is gitignore-files.ts's job.
//
// Git matches bytes, not characters: `?` takes one byte of a UTF-8 name and classes compare
// byte values. So patterns and names are compared as "byte strings" (one char per byte);
// a name that is plain ASCII, the usual case, is its own byte string.

export type IgnorePattern = {
  /** the pattern as written in its file, after trimming */
  source: string;
  /** `!pattern`: a match includes again */
  negated: boolean;
  /** `pattern/`: matches folders only */
  dirOnly: boolean;
  /** without a slash (other than a trailing one) the pattern matches a name at any depth */
  byName: boolean;
  /** the folder of the .gitignore it came from, relative to the top, "" or ending in "/" */
  base: string;
  /** tests a byte string: the name (byName) or the path below `base` */
  test: (subject: string) => boolean;
};

const NEVER = () => false;

/** One char per UTF-8 byte: what git compares. */
export function byteString(text: string): string {
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** The lines of a .gitignore (or info/exclude) → its patterns; `base` is its folder relative to the top ("" or "a/b/"). */
export function parseGitignore(text: string, base = ""): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  // Git skips a UTF-8 byte-order mark, and drops the CR of a CRLF line end.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let line of body.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const pattern = compilePattern(trimTrailingSpaces(line), base);
    if (pattern) patterns.push(pattern);
  }
  return patterns;
}

/** Trailing spaces go unless escaped with a backslash (git's trim_trailing_spaces). */
function trimTrailingSpaces(line: string): string {
  let lastSpace = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " ") {
      if (lastSpace < 0) lastSpace = i;
    } else if (c === "\\") {
      i++;
      if (i >= line.length) return line;
      lastSpace = -1;
    } else lastSpace = -1;
  }
  return lastSpace >= 0 ? line.slice(0, lastSpace) : line;
}

const SPECIAL = /[*?[\\]/;

/** One line → a pattern, or undefined for a line that is no pattern. */
export function compilePattern(line: string, base = ""): IgnorePattern | undefined {
  let body = line;
  const negated = body[0] === "!";
  if (negated) body = body.slice(1);
  const dirOnly = body.endsWith("/");
  if (dirOnly) body = body.slice(0, -1);
  if (body === "") return undefined;
  const byName = !body.includes("/");
  const bytes = byteString(body);
  let test: (subject: string) => boolean;
  if (byName) {
    const special = bytes.search(SPECIAL);
    if (special < 0) test = (s) => s === bytes;
    else if (special === 0 && bytes[0] === "*" && !SPECIAL.test(bytes.slice(1))) {
      const tail = bytes.slice(1);
      test = (s) => s.endsWith(tail);
    } else test = regexTest(bytes, false);
  } else {
    test = regexTest(bytes[0] === "/" ? bytes.slice(1) : bytes, true);
  }
  return { source: line, negated, dirOnly, byName, base, test };
}

function regexTest(pattern: string, pathname: boolean): (subject: string) => boolean {
  const source = wildmatchSource(pattern, pathname);
  if (source === undefined) return NEVER;
  const regex = new RegExp(`^${source}$`, "s");
  return (s) => regex.test(s);
}

const escapeChar = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/**
 * wildmatch (with WM_PATHNAME when matching paths) as a regular expression source over byte
 * strings; undefined when git would never match (an unclosed class, a trailing backslash).
 */
export function wildmatchSource(pattern: string, pathname: boolean): string | undefined {
  let out = "";
  // match_pathname compares the part before the first wildcard as plain text and hands only
  // the rest to wildmatch, so a `**` right after that part counts as the pattern's start.
  const firstSpecial = pathname ? pattern.search(SPECIAL) : 0;
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "\\") {
      if (i + 1 >= pattern.length) return undefined;
      out += escapeChar(pattern[i + 1]!);
      i += 2;
    } else if (c === "?") {
      out += pathname ? "[^/]" : ".";
      i++;
    } else if (c === "*") {
      let j = i;
      while (pattern[j] === "*") j++;
      const atStart = i === 0 || i === firstSpecial || pattern[i - 1] === "/";
      const beforeSlash = j === pattern.length || pattern[j] === "/" || (pattern[j] === "\\" && pattern[j + 1] === "/");
      if (!pathname) out += ".*";
      else if (j - i >= 2 && atStart && beforeSlash) {
        // `**/` also matches no folder at all; `**` elsewhere at an edge matches across folders.
        if (pattern[j] === "/") {
          out += "(?:.*/)?";
          j++;
        } else out += ".*";
      } else out += "[^/]*";
      i = j;
    } else if (c === "[") {
      const parsed = parseClass(pattern, i, pathname);
      if (!parsed) return undefined;
      out += parsed.source;
      i = parsed.end;
    } else {
      out += escapeChar(c);
      i++;
    }
  }
  return out;
}

const CLASSES: Record<string, (b: number) => boolean> = {
  alnum: (b) => (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122),
  alpha: (b) => (b >= 65 && b <= 90) || (b >= 97 && b <= 122),
  blank: (b) => b === 32 || b === 9,
  cntrl: (b) => b < 32 || b === 127,
  digit: (b) => b >= 48 && b <= 57,
  graph: (b) => b > 32 && b < 127,
  lower: (b) => b >= 97 && b <= 122,
  print: (b) => b >= 32 && b < 127,
  punct: (b) => b > 32 && b < 127 && !CLASSES.alnum!(b),
  space: (b) => b === 32 || b === 9 || b === 10 || b === 13,
  upper: (b) => b >= 65 && b <= 90,
  xdigit: (b) => (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102),
};

/**
 * A bracket expression starting at `start` ("["), read as wildmatch.c reads it: `!` or `^`
 * negates, the first member may be `]`, `a-z` ranges (byte values), `\x` escapes,
 * `[:alpha:]` classes; it never matches "/" in a path. The set of bytes it matches, as a class.
 */
function parseClass(p: string, start: number, pathname: boolean): { source: string; end: number } | undefined {
  const members = new Uint8Array(256);
  let i = start + 1;
  let negated = false;
  if (p[i] === "!" || p[i] === "^") {
    negated = true;
    i++;
  }
  // 0 for "no previous member" (a range cannot start there), as in wildmatch.c.
  let prev = 0;
  let ch = p.charCodeAt(i);
  do {
    if (i >= p.length) return undefined;
    if (ch === 92) {
      i++;
      if (i >= p.length) return undefined;
      ch = p.charCodeAt(i);
      members[ch & 255] = 1;
    } else if (ch === 45 && prev !== 0 && i + 1 < p.length && p[i + 1] !== "]") {
      i++;
      ch = p.charCodeAt(i);
      if (ch === 92) {
        i++;
        if (i >= p.length) return undefined;
        ch = p.charCodeAt(i);
      }
      for (let b = prev; b <= ch && b < 256; b++) members[b] = 1;
      ch = 0;
    } else if (ch === 91 && p[i + 1] === ":") {
      const s = i + 2;
      let k = s;
      while (k < p.length && p[k] !== "]") k++;
      if (k >= p.length) return undefined;
      if (k - s - 1 < 0 || p[k - 1] !== ":") {
        // No ":]": the "[" is an ordinary member, and the rest is read from the ":".
        members[91] = 1;
      } else {
        const test = CLASSES[p.slice(s, k - 1)];
        if (!test) return undefined;
        for (let b = 0; b < 256; b++) if (test(b)) members[b] = 1;
        i = k;
        ch = 0;
      }
    } else members[ch & 255] = 1;
    prev = ch;
    i++;
    ch = p.charCodeAt(i);
  } while (ch !== 93);
  const inSet = (b: number) => (members[b] === 1) !== negated && !(pathname && b === 47);
  let source = "";
  for (let b = 0; b < 256; b++) {
    if (!inSet(b)) continue;
    let e = b;
    while (e + 1 < 256 && inSet(e + 1)) e++;
    source += e === b ? escapeChar(String.fromCharCode(b)) : `${escapeChar(String.fromCharCode(b))}-${escapeChar(String.fromCharCode(e))}`;
    b = e;
  }
  return { source: source === "" ? "(?!)" : `[${source}]`, end: i + 1 };
}

/** Whether one pattern matches a path (relative to the top, "/"-separated, as a byte string). */
function matches(pattern: IgnorePattern, path: string, isDir: boolean): boolean {
  if (pattern.dirOnly && !isDir) return false;
  // A .gitignore speaks only of what lies below its own folder.
  if (pattern.base !== "" && !path.startsWith(pattern.base)) return false;
  return pattern.test(pattern.byName ? path.slice(path.lastIndexOf("/") + 1) : path.slice(pattern.base.length));
}

/**
 * The pattern that decides for this path itself (the last that matches), or undefined.
 * `patterns` in precedence order, lowest first: info/exclude, then the top .gitignore, then
 * deeper ones, each file's lines in order (git's "last match wins" across them all).
 */
export function lastMatch(patterns: readonly IgnorePattern[], path: string, isDir: boolean): IgnorePattern | undefined {
  const subject = byteString(path);
  for (let i = patterns.length - 1; i >= 0; i--) {
    if (matches(patterns[i]!, subject, isDir)) return patterns[i];
  }
  return undefined;
}

/** Whether git ignores the path: it or a folder above it is matched last by a pattern that is not negated. */
export function isIgnored(patterns: readonly IgnorePattern[], path: string, isDir: boolean): boolean {
  // A file inside an ignored folder cannot be included again: git does not look inside.
  for (let slash = path.indexOf("/"); slash >= 0; slash = path.indexOf("/", slash + 1)) {
    const folder = lastMatch(patterns, path.slice(0, slash), true);
    if (folder && !folder.negated) return true;
  }
  const own = lastMatch(patterns, path, isDir);
  return own !== undefined && !own.negated;
}

/**
 * The check for the entries of one folder (relative to the top, "" or "a/b") whose own folder
 * is not ignored: only the patterns that can apply there, each with the folder's path below
 * its base worked out once. Entries are then tested by name.
 */
export function folderMatcher(patterns: readonly IgnorePattern[], folder: string): (name: string, isDir: boolean) => boolean {
  const dir = folder === "" ? "" : `${byteString(folder)}/`;
  const here: { pattern: IgnorePattern; prefix: string }[] = [];
  for (const pattern of patterns) {
    if (dir.startsWith(pattern.base)) here.push({ pattern, prefix: pattern.byName ? "" : dir.slice(pattern.base.length) });
  }
  if (here.length === 0) return () => false;
  return (name, isDir) => {
    const subject = byteString(name);
    for (let i = here.length - 1; i >= 0; i--) {
      const { pattern, prefix } = here[i]!;
      if (pattern.dirOnly && !isDir) continue;
      if (pattern.test(pattern.byName ? subject : prefix + subject)) return !pattern.negated;
    }
    return false;
  };
}

/** The patterns in force in a folder (precedence order, lowest first) and its path from the top of its work tree ("" or "a/b"). */
export type IgnoreScope = { patterns: readonly IgnorePattern[]; path: string };

/** A folder's scope: what it inherits, plus its own .gitignore (its text), read relative to the folder. */
export function folderScope(inherited: readonly IgnorePattern[], path: string, own: string | undefined): IgnoreScope {
  if (own === undefined) return { patterns: inherited, path };
  const mine = parseGitignore(own, path === "" ? "" : `${path}/`);
  return { patterns: mine.length === 0 ? inherited : [...inherited, ...mine], path };
}
