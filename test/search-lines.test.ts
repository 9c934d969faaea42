// search_files with show_lines (the matching lines, grep -C style, within a byte budget,
// binary files left out and counted) and respect_gitignore: the pure pieces as tables, the
// real binary over stdio through the SDK Client for the rest, and the deadline in line mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { guardFor, type MatchReport, matchFiles } from "../src/tools/content-match-worker.ts";
import { cutLine, entrySize, type FileLines, linesOf, requiredLiteral } from "../src/tools/match-lines.ts";
import { grepText, LINE_BUDGET, shownLines } from "../src/tools/search-files.ts";
import { gitTop } from "../src/workspace/gitignore-files.ts";
import { binary } from "./helpers/binary.ts";
import { connectBinary, type Connected, textOf } from "./helpers/client.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";

type Shown = { path: string; line: number; text: string; context?: true };
type Result = { content: { type: string; text: string }[]; structuredContent?: any; isError?: boolean };

const options = { context: 0, maxChars: 500 };
const g = (source: string) => new RegExp(source, "mg");

describe("linesOf: the lines of one file", () => {
  test("matching lines with their numbers; one entry per line however many matches it holds", () => {
    expect(linesOf("a TODO\nb\nTODO c TODO\n", g("TODO"), options)).toEqual({
      lines: [
        { line: 1, text: "a TODO" },
        { line: 3, text: "TODO c TODO" },
      ],
      matching: 2,
    });
  });

  test("context before and after, merged when groups touch", () => {
    const text = ["l1", "m2", "l3", "l4", "m5", "l6", "l7", "l8", "m9", "l10"].join("\n");
    const { lines } = linesOf(text, g("^m"), { context: 1, maxChars: 500 });
    expect(lines.map((l) => `${l.context ? "-" : ":"}${l.line}`)).toEqual(["-1", ":2", "-3", "-4", ":5", "-6", "-8", ":9", "-10"]);
    const wide = linesOf(text, g("^m"), { context: 3, maxChars: 500 }).lines;
    expect(wide.map((l) => l.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test("a match across lines marks each; CR of CRLF is not part of a line; no line after the last newline", () => {
    expect(linesOf("x\r\nab\r\ncd\r\ny\r\n", g("b\\r\\nc"), options).lines).toEqual([
      { line: 2, text: "ab" },
      { line: 3, text: "cd" },
    ]);
    expect(linesOf("one\ntwo\n", g("$"), options).lines.map((l) => l.line)).toEqual([1, 2]);
    expect(linesOf("", g("^"), options)).toEqual({ lines: [], matching: 0 });
  });

  test("a pattern that matches the empty string ends (one entry per line)", () => {
    const { lines, matching } = linesOf("a\nb\n\nc", g("x*"), options);
    expect(matching).toBe(4);
    expect(lines.map((l) => l.text)).toEqual(["a", "b", "", "c"]);
  });

  test("keep() stops the list (the rest only counted) and says it was cut", () => {
    let left = 2;
    const out = linesOf("m\nm\nm\nm\n", g("m"), options, () => left-- > 0);
    expect(out).toEqual({ lines: [{ line: 1, text: "m" }, { line: 2, text: "m" }], matching: 4, cut: true });
  });

  test("a long line is cut around its match, with markers saying how much each side lost", () => {
    const long = `${"x".repeat(2000)}TODO${"y".repeat(1000)}`;
    const [line] = linesOf(long, g("TODO"), options).lines;
    expect(line!.text).toContain("TODO");
    expect(line!.text).toMatch(/^\[…\d+ chars\] x+TODOy+ \[…\d+ chars\]$/);
    const kept = line!.text.replace(/^\[…(\d+) chars\] /, "").replace(/ \[…(\d+) chars\]$/, "");
    expect(kept).toHaveLength(500);
    const [, before, after] = /^\[…(\d+) chars\].* \[…(\d+) chars\]$/.exec(line!.text)!;
    expect(Number(before) + 500 + Number(after)).toBe(long.length);
  });
});

describe("cutLine", () => {
  test.each([
    ["short", 0, 10, "short"],
    ["abcdefghij", 0, 4, "abcd […6 chars]"],
    ["abcdefghij", 9, 4, "[…6 chars] ghij"],
    ["abcdefghij", 5, 5, "[…4 chars] efghi […1 chars]"],
  ])("%p at %p, %p chars → %p", (line, focus, max, expected) => {
    expect(cutLine(line, focus, max)).toBe(expected);
  });
  test("never splits a surrogate pair", () => {
    const emoji = "😀".repeat(10);
    for (let max = 3; max < 8; max++) {
      for (const focus of [0, 5, 11]) {
        const cut = cutLine(emoji, focus, max).replace(/\[…\d+ chars\] ?| ?\[…\d+ chars\]/g, "");
        expect(cut.isWellFormed()).toBe(true);
      }
    }
  });
});

describe("entrySize: a shown line's cost, its bytes as a grep line", () => {
  test.each([
    ["a.ts", 12, "x"],
    ["é.md", 1, "ü and 😀"],
    ["deep/path/f.txt", 100_000, ""],
  ])("%p line %p %p", (path, line, text) => {
    expect(entrySize(path, { line, text })).toBe(Buffer.byteLength(`${path}:${line}:${text}\n`));
  });
});

describe("requiredLiteral: text every match holds", () => {
  test.each([
    ["needle", "needle"],
    ["foo|bar", undefined],
    ["(a|b)cde", "cde"],
    ["colou?r", "colo"],
    ["a\\.b\\(c", "a.b(c"],
    ["\\d+abc\\w", "abc"],
    ["x{0,2}yz", "yz"],
    ["ab{2}c", "ab"],
    ["[xyz]+def", "def"],
    ["^TODO:", "TODO:"],
    ["foo(?=bar)", "foo"],
    ["(?:a|b)", undefined],
    ["\\bword\\b", "word"],
    ["😀?", undefined],
    ["\\x41BC", "BC"],
    ["\\u0041BC", "BC"],
    ["\\cAbc", "bc"],
    ["\\101bc", "bc"],
  ])("%p → %p", (source, expected) => {
    expect(requiredLiteral(source)).toBe(expected as string | undefined);
  });

  test("never passes over a text the regex matches (random patterns and texts)", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const atoms = ["a", "b", "c", "ab", ".", "\\.", "[ab]", "(a|b)", "(?:bc)", "\\d", "x", "é", "\\n", "\\x61", "\\u0062", "\\141", "\\cJ", "\\k<x>", "\\b", "a{0}", "(?=a)", "(?<=b)c", "[^a]", "{", "\\{"];
    const quantifiers = ["", "", "", "?", "*", "+", "{0,2}", "{2}", "+?"];
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      let source = "";
      for (let k = 1 + rand(5); k > 0; k--) source += atoms[rand(atoms.length)]! + quantifiers[rand(quantifiers.length)]!;
      if (rand(6) === 0) source += `|${atoms[rand(atoms.length)]}`;
      let regex: RegExp;
      try {
        regex = new RegExp(source, "m");
      } catch {
        continue; // a quantifier on an assertion: not a pattern anyone could search with
      }
      const literal = requiredLiteral(source);
      for (let t = 0; t < 20; t++) {
        let text = "";
        for (let k = rand(12); k > 0; k--) text += "abcx.1é\n"[rand(8)];
        if (regex.test(text)) {
          checked++;
          if (literal !== undefined) expect([source, text, text.includes(literal)]).toEqual([source, text, true]);
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

describe("shownLines and grepText: the budget over all files, in order", () => {
  const file = (n: number, from = 1): FileLines => ({ lines: Array.from({ length: n }, (_, i) => ({ line: from + i, text: `TODO ${from + i}` })), matching: n });

  test("within the budget everything is shown", () => {
    const shown = shownLines(["a", "b"], [file(2), file(1)], 1000);
    expect(shown).toMatchObject({ cut: false, linesNotShown: 0, filesNotShown: 0 });
    expect(shown.lines.map((l) => `${l.path}:${l.line}`)).toEqual(["a:1", "a:2", "b:1"]);
  });

  test("past the budget the rest is counted: lines and whole files not shown", () => {
    const one = entrySize("a", { line: 1, text: "TODO 1" });
    const shown = shownLines(["a", "b", "c"], [file(3), file(2), file(4)], one * 4);
    expect(shown.lines.map((l) => `${l.path}:${l.line}`)).toEqual(["a:1", "a:2", "a:3", "b:1"]);
    expect(shown).toMatchObject({ cut: true, linesNotShown: 1 + 4, filesNotShown: 1 });
  });

  test("a list a worker cut for its own share of the budget cuts the whole answer there", () => {
    const cut = { ...file(1), matching: 3, cut: true as const };
    const shown = shownLines(["a", "b"], [cut, file(1)], 10_000);
    expect(shown.lines.map((l) => `${l.path}:${l.line}`)).toEqual(["a:1"]);
    expect(shown).toMatchObject({ cut: true, linesNotShown: 2 + 1, filesNotShown: 1 });
  });

  test("grep's format: ':' for matches, '-' for context, '--' between groups only with context", () => {
    const lines: Shown[] = [
      { path: "a", line: 1, text: "x", context: true },
      { path: "a", line: 2, text: "TODO" },
      { path: "a", line: 9, text: "TODO" },
      { path: "b", line: 1, text: "TODO" },
    ];
    expect(grepText(lines, 1)).toBe("a-1-x\na:2:TODO\n--\na:9:TODO\n--\nb:1:TODO");
    expect(grepText(lines.slice(1), 0)).toBe("a:2:TODO\na:9:TODO\nb:1:TODO");
  });
});

// --- the real binary over stdio ---

const base = tempDir("tfo-search-lines-");
const ws = base.path;
const git = (cwd: string, ...args: string[]) => {
  const run = Bun.spawnSync(["git", ...args], { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", HOME: base.path } });
  if (run.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
};
const put = (path: string, text: string | Buffer) => {
  mkdirSync(join(ws, path, ".."), { recursive: true });
  writeFileSync(join(ws, path), text);
};
const BUDGET_FILES = 40;
const BUDGET_LINES = 100;
let c: Connected;
const call = (args: Record<string, unknown>) => c.client.callTool({ name: "search_files", arguments: args }) as Promise<Result>;

beforeAll(async () => {
  put("lines/a.ts", ['import x from "y";', "// TODO first", "const a = 1;", "const b = 2;", "// TODO second", "const c = 3;", "", "const d = 4;", "const e = 5;", "// TODO third", "end", ""].join("\n"));
  put("lines/b.md", "one\r\nTODO crlf\r\ntwo\r\n");
  put("lines/c.txt", "nothing here\n");
  for (let f = 0; f < BUDGET_FILES; f++) {
    const text = Array.from({ length: BUDGET_LINES }, (_, i) => `TODO ${String(f).padStart(2, "0")}:${String(i + 1).padStart(3, "0")} ${"-".repeat(40)}`).join("\n");
    put(`budget/f${String(f).padStart(2, "0")}.txt`, `${text}\n`);
  }
  put("binary/a.dat", Buffer.from("TODO\0and more"));
  put("binary/b.txt", "a TODO in text\n");
  put("binary/c.bin", Buffer.from("\0nothing to find"));
  // A work tree: rules at the top, in info/exclude, and nested with a negation; a repository inside it.
  mkdirSync(join(ws, "repo"));
  git(join(ws, "repo"), "init", "-q");
  put("repo/.gitignore", "*.log\nbuild/\n/secret.txt\n");
  put("repo/.git/info/exclude", "local-only.txt\n");
  put("repo/app.ts", "TODO app\n");
  put("repo/debug.log", "TODO log\n");
  put("repo/secret.txt", "TODO secret\n");
  put("repo/local-only.txt", "TODO local\n");
  put("repo/build/out.ts", "TODO built\n");
  put("repo/sub/.gitignore", "!keep.log\n*.tmp\n");
  put("repo/sub/keep.log", "TODO keep\n");
  put("repo/sub/drop.log", "TODO drop\n");
  put("repo/sub/x.tmp", "TODO tmp\n");
  put("repo/sub/secret.txt", "TODO not the top one\n");
  put("repo/sub/deep/keep.log", "TODO deep keep\n");
  mkdirSync(join(ws, "repo", "inner"));
  git(join(ws, "repo", "inner"), "init", "-q");
  put("repo/inner/x.log", "TODO inner log\n");
  // No work tree above: a .gitignore alone.
  put("plain/.gitignore", "*.log\n");
  put("plain/a.log", "TODO a\n");
  put("plain/b.txt", "TODO b\n");
  await binary();
  c = await connectBinary({ args: ["--root", ws], cwd: ws });
}, 120_000);
afterAll(async () => {
  await c?.close();
  base.cleanup();
});

describe("show_lines, end to end", () => {
  test("matching lines with context, grep -C style in the text, each line as data", async () => {
    const r = await call({ path: "lines", pattern: "*", content: "TODO", show_lines: true, context_lines: 1 });
    expect(r.isError).toBeUndefined();
    expect(textOf(r)).toBe(
      [
        'a.ts-1-import x from "y";',
        "a.ts:2:// TODO first",
        "a.ts-3-const a = 1;",
        "a.ts-4-const b = 2;",
        "a.ts:5:// TODO second",
        "a.ts-6-const c = 3;",
        "--",
        "a.ts-9-const e = 5;",
        "a.ts:10:// TODO third",
        "a.ts-11-end",
        "--",
        "b.md-1-one",
        "b.md:2:TODO crlf",
        "b.md-3-two",
      ].join("\n"),
    );
    const data = r.structuredContent;
    expect(data).toMatchObject({ matches: ["a.ts", "b.md"], count: 2, truncated: false, path: "lines", lines_truncated: false, lines_not_shown: 0, files_not_shown: 0, binary_skipped: 0 });
    expect(data.lines.slice(0, 3)).toEqual([
      { path: "a.ts", line: 1, text: 'import x from "y";', context: true },
      { path: "a.ts", line: 2, text: "// TODO first" },
      { path: "a.ts", line: 3, text: "const a = 1;", context: true },
    ]);
    // Without show_lines: the upstream answer, unchanged.
    const plain = await call({ path: "lines", pattern: "*", content: "TODO" });
    expect(plain.structuredContent).toEqual({ matches: ["a.ts", "b.md"], count: 2, truncated: false, path: "lines" });
    expect(JSON.parse(textOf(plain))).toEqual({ matches: ["a.ts", "b.md"], count: 2, truncated: false });
  });

  test("the byte budget: the first lines in tree order, then a count of what is not shown, and a note that says so", async () => {
    const r = await call({ path: "budget", pattern: "*", content: "^TODO", show_lines: true });
    const data = r.structuredContent;
    const shown = data.lines as Shown[];
    expect(data.count).toBe(BUDGET_FILES);
    expect(data.lines_truncated).toBe(true);
    const bytes = shown.reduce((n, l) => n + entrySize(l.path, l), 0);
    expect(bytes).toBeLessThanOrEqual(LINE_BUDGET);
    expect(bytes).toBeGreaterThan(LINE_BUDGET - 200);
    // A prefix of all lines, in order.
    const all = Array.from({ length: BUDGET_FILES * BUDGET_LINES }, (_, k) => `f${String(Math.floor(k / BUDGET_LINES)).padStart(2, "0")}.txt:${(k % BUDGET_LINES) + 1}`);
    expect(shown.map((l) => `${l.path}:${l.line}`)).toEqual(all.slice(0, shown.length));
    expect(data.lines_not_shown).toBe(BUDGET_FILES * BUDGET_LINES - shown.length);
    const filesWithLines = new Set(shown.map((l) => l.path)).size;
    expect(data.files_not_shown).toBe(BUDGET_FILES - filesWithLines);
    expect(r.content[1]!.text).toContain(`The lines stop at the 64 KiB budget: ${data.lines_not_shown} more matching lines not shown, ${data.files_not_shown} files with none shown`);
  });

  test("binary files are left out and counted (a NUL in the first 8 KiB), only those that match", async () => {
    const r = await call({ path: "binary", pattern: "*", content: "TODO", show_lines: true });
    expect(r.structuredContent).toMatchObject({ matches: ["b.txt"], binary_skipped: 1, lines: [{ path: "b.txt", line: 1, text: "a TODO in text" }] });
    expect(r.content[1]!.text).toContain("1 file that matches looks binary");
  });

  test("show_lines needs content; context_lines needs show_lines", async () => {
    const a = await call({ pattern: "*", show_lines: true });
    expect([a.isError, textOf(a)]).toEqual([true, "show_lines needs content: the regular expression whose lines to show."]);
    const b = await call({ pattern: "*", content: "x", context_lines: 2 });
    expect(b.isError).toBe(true);
    const d = await call({ pattern: "*", content: "x", show_lines: true, context_lines: 11 });
    expect(d.isError).toBe(true);
  });
});

describe("respect_gitignore, end to end", () => {
  test("in a work tree by default: top, nested (with a negation) and info/exclude rules, .git itself, and a repository inside with its own rules", async () => {
    const byContent = await call({ path: "repo", pattern: "*", content: "TODO" });
    expect(byContent.structuredContent.matches).toEqual(["app.ts", "inner/x.log", "sub/deep/keep.log", "sub/keep.log", "sub/secret.txt"]);
    const byName = await call({ path: "repo", pattern: "*" });
    expect(byName.structuredContent.matches).toEqual([".gitignore", "app.ts", "inner", "inner/x.log", "sub", "sub/.gitignore", "sub/deep", "sub/deep/keep.log", "sub/keep.log", "sub/secret.txt"]);
    const lines = await call({ path: "repo", pattern: "*.log", content: "TODO", show_lines: true });
    expect(textOf(lines)).toBe("inner/x.log:1:TODO inner log\nsub/deep/keep.log:1:TODO deep keep\nsub/keep.log:1:TODO keep");
  });

  test("from a folder inside the work tree, the rules above it still hold", async () => {
    const r = await call({ path: "repo/sub", pattern: "*", content: "TODO" });
    expect(r.structuredContent.matches).toEqual(["deep/keep.log", "keep.log", "secret.txt"]);
  });

  test("respect_gitignore false searches everything but .git's insides", async () => {
    const r = await call({ path: "repo", pattern: "*", content: "TODO", respect_gitignore: false });
    expect(r.structuredContent.matches).toEqual([
      "app.ts",
      "build/out.ts",
      "debug.log",
      "inner/x.log",
      "local-only.txt",
      "secret.txt",
      "sub/deep/keep.log",
      "sub/drop.log",
      "sub/keep.log",
      "sub/secret.txt",
      "sub/x.tmp",
    ]);
  });

  test("outside a work tree a .gitignore is not applied, unless asked", async () => {
    expect(gitTop(join(ws, "plain"))).toBeUndefined();
    const byDefault = await call({ path: "plain", pattern: "*", content: "TODO" });
    expect(byDefault.structuredContent.matches).toEqual(["a.log", "b.txt"]);
    const asked = await call({ path: "plain", pattern: "*", content: "TODO", respect_gitignore: true });
    expect(asked.structuredContent.matches).toEqual(["b.txt"]);
  });
});

describe("line mode keeps the regex off the protocol thread", () => {
  // Each file matches at once (TODO, line 1); finding its other matching lines then makes the
  // regex backtrack (~0.5-2 s a file): the lines are looked for where the deadline can stop them.
  test("the deadline ends a search whose line finding backtracks; ping is answered meanwhile", async () => {
    const slow = join(ws, "slow");
    mkdirSync(slow);
    for (let i = 0; i < 20; i++) writeFileSync(join(slow, `f${i}.txt`), `TODO\n${"a".repeat(30)}!\n`);
    const s = await inProcess({ roots: [ws], config: { mcp: { tool_timeout: 1 } } });
    try {
      const started = performance.now();
      let done = false;
      const run = (s.client.callTool({ name: "search_files", arguments: { path: "slow", pattern: "*", content: "TODO|(a|a)+$", show_lines: true } }) as Promise<Result>).finally(() => (done = true));
      const pings: number[] = [];
      while (!done) {
        const t = performance.now();
        await s.client.ping({ timeout: 3000 });
        pings.push(performance.now() - t);
        await Promise.race([run, Bun.sleep(50)]);
      }
      const r = await run;
      expect(textOf(r)).toBe("search_files took longer than 1 s (mcp.tool_timeout) and was stopped.");
      expect(performance.now() - started).toBeLessThan(4000);
      expect(pings.length).toBeGreaterThan(5);
      expect(Math.max(...pings)).toBeLessThan(1000);
    } finally {
      await s.close();
    }
  }, 20_000);
});

// The worker opens each file by its name in its folder, with libc directly where it can: a
// symlink, a FIFO or a second link must fare exactly as through the guard.
describe.if(process.platform === "linux")("files opened by name in their folder keep the workspace's rules", () => {
  const root = join(ws, "confined");
  beforeAll(() => {
    put("confined/sub/a.txt", "TODO inside\n");
    put("confined/other/b.txt", "TODO other\n");
    put("outside/s.txt", "TODO outside\n");
    put("outside/h.txt", "TODO outside, linked\n");
    symlinkSync("a.txt", join(root, "sub", "alias.txt"));
    symlinkSync("../other/b.txt", join(root, "sub", "sibling.txt"));
    symlinkSync(join(ws, "outside", "s.txt"), join(root, "sub", "absolute.txt"));
    symlinkSync("../../outside/s.txt", join(root, "sub", "up.txt"));
    linkSync(join(ws, "outside", "h.txt"), join(root, "sub", "hard.txt"));
    Bun.spawnSync(["mkfifo", join(root, "sub", "fifo")]);
  });
  const paths = ["other/b.txt", "sub/a.txt", "sub/absolute.txt", "sub/alias.txt", "sub/fifo", "sub/hard.txt", "sub/sibling.txt", "sub/up.txt"];

  test.each([
    ["symlinks that stay in the searched folder are followed; ones that leave it, a second link and a FIFO are not", true, ["other/b.txt", "sub/a.txt", "sub/alias.txt", "sub/sibling.txt"]],
    ["with follow_symlinks false no symlink is", false, ["other/b.txt", "sub/a.txt"]],
  ] as const)("%s", async (_name, followSymlinks, expected) => {
    for (const confine of ["openat2", "openat"] as const) {
      const guard = (await guardFor(confine))!;
      const held = new Int32Array(3).fill(-1);
      const reports: MatchReport[] = [];
      const job = { root: ws, folder: "confined", source: "TODO", flags: "m", maxBytes: 1000, limit: 100, followSymlinks, allowHardlinks: false, held };
      matchFiles(job, paths, (r) => reports.push(r), undefined, guard);
      expect([guard.guard, reports.flatMap((r) => r.matches)]).toEqual([guard.guard, [...expected]]);
      expect([...held]).toEqual([-1, -1, -1]);
    }
  });
});
