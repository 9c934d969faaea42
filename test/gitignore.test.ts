// The .gitignore matcher (src/workspace/gitignore.ts): tables of what gitignore(5) says, and git
// itself as the oracle: a tree with tricky patterns (root, nested and info/exclude, negation,
// anchors, folder-only, **, classes, escapes, bytes of UTF-8 names) where every path's verdict
// must equal `git check-ignore --no-index`. Then the files those rules are read from
// (src/workspace/gitignore-files.ts): a walk with them keeps what `git ls-files` lists, in a
// repository, a linked worktree and one with a separate git folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compilePattern, folderMatcher, type IgnorePattern, isIgnored, lastMatch, parseGitignore } from "../src/workspace/gitignore.ts";
import { gitignoreRules, gitTop, ignoredAbove } from "../src/workspace/gitignore-files.ts";
import { DEFAULT_SKIP_DIRS, joinRelative, walk } from "../src/workspace/walk.ts";
import { tempDir } from "./helpers/tmp.ts";

const one = (line: string) => compilePattern(line)!;
const ignored = (lines: string, path: string, isDir = false) => isIgnored(parseGitignore(lines), path, isDir);

describe("patterns, as gitignore(5) describes them", () => {
  test.each([
    // [pattern lines, path, is a folder, ignored]
    ["*.log", "a.log", false, true],
    ["*.log", "deep/down/a.log", false, true],
    ["*.log\n!keep.log", "x/keep.log", false, false],
    ["/build", "build", true, true],
    ["/build", "src/build", true, false],
    ["out/", "out", true, true],
    ["out/", "out", false, false],
    ["out/", "x/out/file", false, true],
    ["docs/*.md", "docs/a.md", false, true],
    ["docs/*.md", "docs/x/a.md", false, false],
    ["docs/*.md", "x/docs/a.md", false, false],
    ["**/cache", "a/b/cache", true, true],
    ["**/cache", "cache", false, true],
    ["a/**/z", "a/z", false, true],
    ["a/**/z", "a/b/c/z", false, true],
    ["abc/**", "abc", true, false],
    ["abc/**", "abc/x/y", false, true],
    ["[a-c].txt", "b.txt", false, true],
    ["[!a-c].txt", "b.txt", false, false],
    ["[!a-c].txt", "d.txt", false, true],
    ["[[:digit:]]x", "7x", false, true],
    ["\\#hash", "#hash", false, true],
    ["# a comment", "# a comment", false, false],
    ["\\!bang", "!bang", false, true],
    ["trail\\ ", "trail ", false, true],
    ["spaces   ", "spaces", false, true],
    ["data/*\n!data/keep/", "data/keep/f", false, false],
    ["data/*\n!data/keep/", "data/other", false, true],
    // a file inside an ignored folder cannot be included again
    ["build/\n!build/keep", "build/keep", false, true],
    ["?.q", "é.q", false, false],
    ["??.q", "é.q", false, true],
    ["x[", "x[", false, false],
    ["y\\", "y\\", false, false],
    ["crlf\r\n", "crlf", false, true],
  ] as const)("%p on %p (folder: %p) → ignored %p", (lines, path, isDir, expected) => {
    expect(ignored(lines, path, isDir)).toBe(expected);
  });

  test("lines that are no pattern", () => {
    expect(parseGitignore("\n# comment\n\n!\n/\n")).toEqual([]);
    expect(parseGitignore("\ufeffa\nb").map((p) => p.source)).toEqual(["a", "b"]);
  });

  test("the decisive pattern is the last that matches, and negation says so", () => {
    const patterns = parseGitignore("*.log\n!keep.log\n");
    expect(lastMatch(patterns, "keep.log", false)).toMatchObject({ source: "!keep.log", negated: true });
    expect(lastMatch(patterns, "other.log", false)).toMatchObject({ source: "*.log", negated: false });
    expect(lastMatch(patterns, "x.txt", false)).toBeUndefined();
    expect(one("out/")).toMatchObject({ dirOnly: true, byName: true });
    expect(one("/out")).toMatchObject({ dirOnly: false, byName: false });
  });

  test("a nested .gitignore speaks only of its own folder, and outranks the top one", () => {
    const patterns = [...parseGitignore("*.txt\n"), ...parseGitignore("!*.txt\n/local\n", "sub/")];
    expect(isIgnored(patterns, "a.txt", false)).toBe(true);
    expect(isIgnored(patterns, "sub/a.txt", false)).toBe(false);
    expect(isIgnored(patterns, "sub/x/a.txt", false)).toBe(false);
    expect(isIgnored(patterns, "local", false)).toBe(false);
    expect(isIgnored(patterns, "sub/local", false)).toBe(true);
    expect(isIgnored(patterns, "sub/x/local", false)).toBe(false);
    const inSub = folderMatcher(patterns, "sub");
    expect([inSub("a.txt", false), inSub("local", false), inSub("local", true)]).toEqual([false, true, true]);
    expect(folderMatcher(patterns, "")("a.txt", false)).toBe(true);
  });
});

// --- git as the oracle ---

const ROOT_IGNORE = [
  "# comment",
  "*.log",
  "!keep.log",
  "/build",
  "out/",
  "docs/**/*.tmp",
  "**/cache",
  "a/**/z",
  "foo**/bar",
  "[abc].txt",
  "[!x]y.md",
  "[^x]w.md",
  "[a-c][[:digit:]].dat",
  "\\#hash",
  "\\!bang",
  "trail\\ ",
  "spaces   ",
  "*.o",
  "!/lib/*.o",
  "data/*",
  "!data/keep/",
  "nested/deep/",
  "?.q",
  "**/logs/**",
  "abc/**",
  "x[",
  "y\\",
  "[[:foo:]]z",
  "[]]r",
  "[!]]s",
  "[a-]t",
  "é?.u",
  "[[:alpha:][:digit:]]-mix",
  "[[:upper:]]*.UP",
  "[[:punct:]]p",
  "[[:space:]]sp",
  "[z-a]rev",
  "[a-c-e]dash",
  "[\\]]esc",
  "*.gen.*",
  "mid/**/",
  "one*two",
  "q?/x",
  "crlf\r",
  "!negdir/",
  "negdir",
  "/anch/ored.txt",
  "lonely/**/",
  "*[",
  "\\*star",
  "[[:a]q",
].join("\n");
const SUB_IGNORE = ["*.txt", "!important.txt", "/local", "deep/", "!/keepdir", "**/gen"].join("\n");
const INNER_IGNORE = ["!*.txt", "*.secret"].join("\n");
// Everything, then folders and dotted names back: only the later lines of the file decide.
const STAR_IGNORE = ["**", "!*/", "!*.*", "*.no.*", "!/top"].join("\n");
const EXCLUDE = ["*.secret", "!sub/inner/visible.secret", "excluded-by-info"].join("\n");

const FILES = [
  "app.log", "keep.log", "sub/keep.log", "sub/x.log",
  "build/a", "sub/build/a", "out/x", "sub/out/y", "sub2/out",
  "docs/a.tmp", "docs/x/y/b.tmp", "docs/b.tmp.x", "x/docs/c.tmp",
  "cache/c", "sub/cache/c", "deep/er/cache",
  "a/z", "a/b/z", "a/b/c/z", "b/a/z",
  "foox/bar", "foo/bar", "foo/x/bar", "fooy/z/bar", "xfoo/bar",
  "a.txt", "d.txt", "ay.md", "xy.md", "by.md", "aw.md", "xw.md",
  "b1.dat", "d1.dat", "a-.dat", "c9.dat",
  "#hash", "!bang", "trail ", "trail", "spaces", "spaces  x",
  "main.o", "lib/x.o", "lib/sub/y.o",
  "data/1", "data/keep/f", "data/keep2/f",
  "nested/deep/f", "q/nested/deep/f", "nested/deeper/f",
  "1.q", "ab.q", "é.q",
  "logs/x", "z/logs/y/z", "sub2/logs",
  "abc/d", "abc/e/f",
  "x[", "y\\", "fz", "]r", "rr", "]s", "ss", "at", "-t", "bt",
  "é1.u", "éé.u", "e1.u",
  "a-mix", "1-mix", "_-mix", "A.UP", "a.UP", "!p", ".p", "ap", " sp", "\tsp", "asp",
  "arev", "zrev", "adash", "-dash", "edash", "ddash", "]esc", "\\esc",
  "x.gen.c", "gen.c", "mid/a/b", "mid/f",
  "onetwo", "one-x-two", "one/two",
  "q1/x", "q12/x",
  "crlf", "crlf\r",
  "negdir/a", "neg/negdir",
  "anch/ored.txt", "x/anch/ored.txt",
  "lonely/f", "lonely/a/f",
  "s*[", "a[", "*star", "xstar", "[q", ":q", "aq", "bq",
  "excluded-by-info", "sub/excluded-by-info",
  "x.secret", "sub/y.secret", "sub/inner/visible.secret", "sub/inner/z.secret",
  "sub/a.txt", "sub/important.txt", "sub/local", "sub/x/local", "sub/deep/f", "sub/deep2/f",
  "sub/keepdir/f", "sub/gen/f", "sub/x/gen/f", "gen/f",
  "sub/inner/a.txt", "sub/inner/deeper/b.txt", "sub/inner/local", "sub/inner/deep/f",
  "noext", "dir.with.dots/f", "plain/f",
  "star/plain", "star/a.b", "star/x.no.y", "star/top", "star/d/top", "star/d/e.f", "star/d/g",
];

/** Every path of the tree (folders too), with whether it is a folder. */
function allPaths(files: string[]): [string, boolean][] {
  const out = new Map<string, boolean>();
  for (const f of files) {
    out.set(f, false);
    for (let d = dirname(f); d !== "."; d = dirname(d)) out.set(d, true);
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : 1));
}

describe.skipIf(Bun.spawnSync(["git", "--version"]).exitCode !== 0)("the same verdicts as git check-ignore", () => {
  const dir = tempDir("tfo-gitignore-");
  const repo = join(dir.path, "repo");
  const env = { ...process.env, HOME: dir.path, XDG_CONFIG_HOME: dir.path, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LC_ALL: "C" };
  let verdicts: Map<string, { ignored: boolean; pattern: string }>;
  const paths = allPaths(FILES);
  const patterns: IgnorePattern[] = [
    ...parseGitignore(EXCLUDE),
    ...parseGitignore(ROOT_IGNORE),
    ...parseGitignore(SUB_IGNORE, "sub/"),
    ...parseGitignore(INNER_IGNORE, "sub/inner/"),
    ...parseGitignore(STAR_IGNORE, "star/"),
  ];

  beforeAll(() => {
    mkdirSync(repo);
    expect(Bun.spawnSync(["git", "init", "-q", repo], { env }).exitCode).toBe(0);
    for (const f of FILES) {
      mkdirSync(dirname(join(repo, f)), { recursive: true });
      writeFileSync(join(repo, f), "x");
    }
    writeFileSync(join(repo, ".gitignore"), ROOT_IGNORE);
    writeFileSync(join(repo, "sub", ".gitignore"), SUB_IGNORE);
    writeFileSync(join(repo, "sub", "inner", ".gitignore"), INNER_IGNORE);
    writeFileSync(join(repo, "star", ".gitignore"), STAR_IGNORE);
    writeFileSync(join(repo, ".git", "info", "exclude"), EXCLUDE);
    // "./" first: a path given as ":q" would be read as pathspec magic (check-ignore refuses GIT_LITERAL_PATHSPECS).
    const input = paths.map(([p]) => `./${p}\0`).join("");
    const run = Bun.spawnSync(["git", "check-ignore", "--no-index", "-v", "-n", "-z", "--stdin"], { cwd: repo, env, stdin: Buffer.from(input) });
    expect(run.exitCode === 0 || run.exitCode === 1).toBe(true);
    // -z -v -n: source NUL line NUL pattern NUL path NUL, for every path given
    const fields = run.stdout.toString().split("\0");
    verdicts = new Map();
    for (let i = 0; i + 3 < fields.length; i += 4) {
      const pattern = fields[i + 2]!;
      verdicts.set(fields[i + 3]!.slice(2), { ignored: pattern !== "" && !pattern.startsWith("!"), pattern });
    }
  });
  afterAll(() => dir.cleanup());

  test("every path of the tree: the same verdict", () => {
    expect(verdicts.size).toBe(paths.length);
    const differ: string[] = [];
    for (const [path, isDir] of paths) {
      const git = verdicts.get(path)!;
      const ours = isIgnored(patterns, path, isDir);
      if (ours !== git.ignored) differ.push(`${JSON.stringify(path)}: git ${git.ignored ? "ignores" : "keeps"} (${JSON.stringify(git.pattern)}), we ${ours ? "ignore" : "keep"}`);
    }
    expect(differ).toEqual([]);
    // The tree is tricky enough to mean something: both verdicts, and negations deciding.
    const ignoredCount = [...verdicts.values()].filter((v) => v.ignored).length;
    expect(ignoredCount).toBeGreaterThan(40);
    expect(paths.length - ignoredCount).toBeGreaterThan(30);
    expect([...verdicts.values()].filter((v) => v.pattern.startsWith("!")).length).toBeGreaterThan(5);
  });

  test("a walk that checks each folder's entries by name (and skips ignored folders) keeps exactly what git keeps", () => {
    const kept: string[] = [];
    const visit = (folder: string) => {
      const check = folderMatcher(patterns, folder);
      const entries = paths.filter(([p]) => dirname(p) === (folder === "" ? "." : folder));
      for (const [path, isDir] of entries) {
        const name = path.slice(path.lastIndexOf("/") + 1);
        if (check(name, isDir)) continue;
        kept.push(path);
        if (isDir) visit(path);
      }
    };
    visit("");
    const gitKeeps = paths.filter(([p]) => !verdicts.get(p)!.ignored).map(([p]) => p);
    expect(kept.sort()).toEqual(gitKeeps.sort());
  });
});

// --- the files the rules come from ---

describe.skipIf(Bun.spawnSync(["git", "--version"]).exitCode !== 0)("rules read from disk: a walk keeps what git lists", () => {
  const dir = tempDir("tfo-gitignore-files-");
  const env = { ...process.env, HOME: dir.path, XDG_CONFIG_HOME: dir.path, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LC_ALL: "C" };
  const git = (cwd: string, ...args: string[]) => {
    const run = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, env });
    if (run.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
    return run.stdout.toString();
  };
  const put = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  const TOP = "*.log\n/top-only\n";
  const SUB = "!keep.log\n*.tmp\n";
  const FILES = ["a.txt", "x.log", "top-only", "excluded.txt", "sub/top-only", "sub/keep.log", "sub/drop.log", "sub/t.tmp", "sub/excluded.txt", "sub/b.txt", "sub/deep/keep.log", "sub/deep/c.log"];
  const main = join(dir.path, "main");
  const worktree = join(dir.path, "worktree");
  const separate = join(dir.path, "separate");

  beforeAll(() => {
    git(dir.path, "init", "-q", main);
    put(join(main, ".gitignore"), TOP);
    put(join(main, "sub", ".gitignore"), SUB);
    git(main, "add", ".gitignore", "sub/.gitignore");
    git(main, "commit", "-q", "-m", "rules");
    // A linked worktree: its .git is a file naming .git/worktrees/<name>, whose commondir leads back to main's .git (and its info/exclude).
    git(main, "worktree", "add", "-q", worktree);
    put(join(main, ".git", "info", "exclude"), "excluded.txt\n");
    // A .git file naming a git folder elsewhere, as a submodule has.
    git(dir.path, "init", "-q", `--separate-git-dir=${join(dir.path, "separate.git")}`, separate);
    put(join(dir.path, "separate.git", "info", "exclude"), "excluded.txt\n");
    put(join(separate, ".gitignore"), TOP);
    put(join(separate, "sub", ".gitignore"), SUB);
    for (const tree of [main, worktree, separate]) for (const f of FILES) put(join(tree, f), "x");
  });
  afterAll(() => dir.cleanup());

  /** The files a walk of `folder` keeps with the rules read for it, relative to it. */
  async function kept(folder: string, within: (real: string) => boolean = () => true): Promise<string[]> {
    const files: string[] = [];
    const rules = gitignoreRules(ignoredAbove(folder, gitTop(folder), within), within);
    await walk(folder, { maxDepth: Number.POSITIVE_INFINITY, includeHidden: true, skipDirs: DEFAULT_SKIP_DIRS, rules }, (parent, name, type) => {
      if (type === "file") files.push(joinRelative(parent, name));
    });
    return files.sort();
  }
  /** What git lists in `folder` (tracked, and untracked but not ignored), relative to it. */
  const gitKeeps = (folder: string) => git(folder, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0").filter(Boolean).sort();

  test.each([
    ["a repository, from its top", "main", ""],
    ["a repository, from a folder inside (the rules above it hold)", "main", "sub"],
    ["a linked worktree (info/exclude of the main repository)", "worktree", "sub"],
    ["a separate git folder (info/exclude there)", "separate", "sub"],
  ])("%s", async (_name, tree, sub) => {
    const folder = join(dir.path, tree, sub);
    expect(gitTop(folder)).toBe(join(dir.path, tree));
    const ours = await kept(folder);
    expect(ours).toEqual(gitKeeps(folder));
    // Something of each kind was left out: a rule of the top, of info/exclude, of the folder's own file.
    expect(ours).not.toContain("excluded.txt");
    expect(ours).not.toContain(sub === "" ? "x.log" : "drop.log");
  });

  test("outside a work tree there is no top and nothing is in force above", () => {
    const alone = join(dir.path, "alone");
    mkdirSync(alone);
    expect(gitTop(alone)).toBeUndefined();
    expect(ignoredAbove(alone, undefined, () => true)).toEqual({ patterns: [], path: "" });
  });

  test("a .git inside the workspace that points outside it (gitdir:, a symlink) is not followed; its .gitignore files still are", async () => {
    const inside = (root: string) => (real: string) => real === root || real.startsWith(`${root}/`);
    // The workspace is the separate tree alone: its git folder (separate.git) lies outside it.
    const separate = join(dir.path, "separate");
    const confined = await kept(separate, inside(separate));
    expect(confined).toContain("excluded.txt");
    expect(confined).not.toContain("x.log");
    // A planted .git symlink to a repository outside, inside a workspace folder of its own.
    const planted = join(dir.path, "planted");
    mkdirSync(planted);
    symlinkSync(join(dir.path, "separate.git"), join(planted, ".git"));
    put(join(planted, "excluded.txt"), "x");
    expect(await kept(planted, inside(planted))).toContain("excluded.txt");
    // Followed when the workspace holds where it points.
    expect(await kept(planted, inside(dir.path))).not.toContain("excluded.txt");
  });

  test("a hard-linked .gitignore is not read: it could be any file of the machine", async () => {
    const tree = join(dir.path, "hardlinked");
    mkdirSync(tree);
    git(tree, "init", "-q");
    put(join(dir.path, "elsewhere.txt"), "secret-*\n");
    linkSync(join(dir.path, "elsewhere.txt"), join(tree, ".gitignore"));
    put(join(tree, "secret-one.txt"), "x");
    expect(await kept(tree)).toContain("secret-one.txt");
  });
});
