import { describe, expect, test } from "bun:test";
import { parseShell } from "../src/tools/shell-syntax.ts";

/** Each simple command as its words; a word only known at run time is shown as {text|why}. */
function commands(line: string) {
  const parsed = parseShell(line);
  if (!parsed.ok) throw new Error(`refused: ${parsed.part}: ${parsed.reason}`);
  return parsed.commands.map((c) => c.argv.map((w) => (w.dynamic ? `{${w.text}|${w.dynamic}}` : w.text)));
}

describe("parseShell finds every simple command", () => {
  test.each([
    ["ls -la", [["ls", "-la"]]],
    ["a; b && c || d | e & f |& g", [["a"], ["b"], ["c"], ["d"], ["e"], ["f"], ["g"]]],
    ["a\nb", [["a"], ["b"]]],
    ["FOO=1 BAR+=2 sudo rm x", [["sudo", "rm", "x"]]],
    ["X=1", []],
    ["r\\m 'a b' \"c d\" e\\ f r''m", [["rm", "a b", "c d", "e f", "rm"]]],
    ['echo "a\\"b\\$c\\x"', [["echo", 'a"b$c\\x']]],
    ["r\\\nm f", [["rm", "f"]]],
    ["ls \\\n  -la", [["ls", "-la"]]],
    ["echo x # rm y", [["echo", "x"]]],
    ["echo a#b", [["echo", "a#b"]]],
    ["echo x > rm 2>&1 < in >> out 2> err", [["echo", "x"]]],
    ["> out rm x", [["rm", "x"]]],
    ["cat <<EOF\nrm x\nEOF\nls", [["cat"], ["ls"]]],
    ["cat <<-'E' | wc\n\trm x\n\tE\nls", [["cat"], ["wc"], ["ls"]]],
    ["cat <<< 'rm x'", [["cat"]]],
    ["! rm x", [["rm", "x"]]],
    ["{ rm x; }", [["rm", "x"]]],
    ["(cd a && rm b)", [["cd", "a"], ["rm", "b"]]],
    ["if a; then b; elif c; then d; else e; fi > log", [["a"], ["b"], ["c"], ["d"], ["e"]]],
    ["while a; do b; done; until c\ndo d\ndone", [["a"], ["b"], ["c"], ["d"]]],
    ["for f in rm x; do echo $f; done", [["echo", "{|$f}"]]],
    ["for f\ndo g; done", [["g"]]],
    ["case $x in rm|ls) a;; (*) b;& esac", [["a"], ["b"]]],
    ["time { rm x; }", [["rm", "x"]]],
    ["time -p ls", [["time", "-p", "ls"]]],
    // read as dash reads it: there [[ is a program, and `[[ x || rm f ]]` runs rm
    ["[[ -f a && b < c ]] || rm x ]]", [["[[", "-f", "a"], ["b", "]]"], ["rm", "x", "]]"]]],
    ["cat <<EOF\nx \\\n  y\nEOF\nls", [["cat"], ["ls"]]],
    ["cat <<EOF\nx\\\nEOF\nrm x\nEOF\nls", [["cat"], ["ls"]]],
    ["echo } fi then", [["echo", "}", "fi", "then"]]],
    ["echo $HOME ${HOME} ${x:-a} ${#x} $1 $@ \"$*\"", [["echo", "{|$HOME}", "{|${HOME}}", "{|${x:-a}}", "{|${#x}}", "{|$1}", "{|$@}", "{|$*}"]]],
    ["echo $ a$ '$(x)' \"\\$(x)\"", [["echo", "$", "a$", "$(x)", "$(x)"]]],
    ["ls *.ts a?c [ab] {r,}m x{1..3} HEAD@{1} [", [["ls", "{*.ts|*.ts}", "{a?c|a?c}", "{[ab]|[ab]}", "{{r,}m|{r,}m}", "{x{1..3}|x{1..3}}", "HEAD@{1}", "["]]],
    ["echo $'a\\'b' $\"c\"", [["echo", "{|$'a\\'b'}", "{|$\"c\"}"]]],
    ["true &>f rm x", [["true", "rm", "x"], ["rm", "x"]]],
    ["exec {fd}>f 3<&0", [["exec"]]],
  ])("%p", (line, want) => {
    expect(commands(line)).toEqual(want);
  });

  test("words keep their source for messages", () => {
    const parsed = parseShell("a; FOO=1 'r'm  -f x >y");
    expect(parsed.ok && parsed.commands.map((c) => c.source)).toEqual(["a", "'r'm  -f x >y"]);
  });
});

describe("parseShell refuses what it cannot know, naming the part", () => {
  test.each([
    ["echo $(rm x) y", "$(rm x)", "command substitution"],
    ['echo "a `rm x` b"', "`rm x`", "command substitution"],
    ["cat <<EOF\n$(rm x)\nEOF", "$(rm x)", "command substitution"],
    ["cat <<EOF\n`rm x`\nEOF", "`rm x`", "command substitution"],
    ["diff <(rm x) y", "<(rm x)", "process substitution"],
    ["tee >(rm x)", ">(rm x)", "process substitution"],
    ["echo $((1+2))", "$((1+2))", "arithmetic"],
    ["echo $[1+2]", "$[1+2]", "arithmetic"],
    ["((x++))", "((x++))", "arithmetic"],
    ["for ((i=0;i<2;i++)); do :; done", "for ((i=0;i<2;i++))", "arithmetic"],
    ["echo ${a[$i]}", "${a[$i]}", "parameter expansion"],
    ["echo ${x:1}", "${x:1}", "parameter expansion"],
    ["echo ${!x}", "${!x}", "parameter expansion"],
    ["echo \"${x:-'$(rm x)'}\"", "${x:-'$(rm x)'}", "parameter expansion"],
    ["PS4='$(rm x)' sh -x", "PS4='$(rm x)'", "bash can run later"],
    ["env X='`rm x`' ls", "X='`rm x`'", "bash can run later"],
    ["f() { rm x; }", "f() { rm x; }", "function definitions"],
    ["function f { rm x; }", "function f", "function definitions"],
    ["echo 'abc", "'abc", "unterminated single quote"],
    ['echo "abc', '"abc', "unterminated double quote"],
    ["echo ${x", "${x", "unterminated ${"],
    ["echo x &&", "echo x &&", "ends too soon"],
    ["if true; then rm x", "if true; then rm x", "ends too soon"],
    ["echo (rm x)", "(", "not expected"],
    ["f () rm x", "f () rm x", "function definitions"],
    ["fi", "fi", "not expected"],
    ["a ;; b", ";;", "not expected"],
    ["{ rm x }", "{ rm x }", "ends too soon"],
    ['echo "$\\\n(rm x)"', "$\\\n", "line continuation right after $"],
    ["cat <<EOF\nEO\\\nF\nrm x\nEOF", "F", "bash and dash disagree"],
    [`${"{ ".repeat(200)}x`, "{ { { { { { { { { { { { { { { { { { { {", "nested more than"],
  ])("%p", (line, part, reason) => {
    const parsed = parseShell(line);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.part).toBe(part);
    expect(parsed.reason).toContain(reason);
  });
});
