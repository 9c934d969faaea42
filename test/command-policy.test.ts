import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkCommand, childEnv } from "../src/tools/command-policy.ts";

// Ways to delete the file `f` that a plain "starts with rm" check let through (issue 16,
// finding 6), and the ones it already caught. `shell` is a shell that really deletes it
// with that spelling; "none" for lines not run here (sudo, doas; zsh and fish may be missing;
// an alias works only in bash's POSIX mode, which is /bin/sh on macOS).
const SPELLINGS: [line: string, shell: "sh" | "bash" | "dash" | "none"][] = [
  ["rm f", "sh"],
  ["/bin/rm f", "sh"],
  ["r\\m f", "sh"],
  ["\\rm f", "sh"],
  ["'rm' f", "sh"],
  ['"rm" f', "sh"],
  ["r''m f", "sh"],
  ["r\\\nm f", "sh"],
  ["$(echo rm) f", "sh"],
  ["`echo rm` f", "sh"],
  ["X=rm; $X f", "sh"],
  ["rm${IFS}f", "sh"],
  ["{r,}m f", "bash"],
  ["echo f | xargs rm", "sh"],
  ["echo f | xargs -n 1 -r rm", "sh"],
  ["xargs rm <<EOF\nf\nEOF", "sh"],
  ["sh -c 'rm f'", "sh"],
  ['bash -c "rm f"', "sh"],
  ["dash -ec 'true; rm f'", "sh"],
  ["bash -o errexit -c 'rm f'", "sh"],
  ["echo rm f | sh", "sh"],
  ["find . -name f -delete", "sh"],
  ["find . -name f -exec rm {} \\;", "sh"],
  ["find . -name f -execdir sh -c 'rm \"$1\"' _ {} +", "sh"],
  ["! rm f", "sh"],
  ["{ rm f; }", "sh"],
  ["(rm f)", "sh"],
  ["if true; then rm f; fi", "sh"],
  ["while true; do rm f; break; done", "sh"],
  ["for x in f; do rm $x; done", "sh"],
  ["case a in a) rm f;; esac", "sh"],
  ["env -i rm f", "sh"],
  ["env -- rm f", "sh"],
  ["env - rm f", "sh"],
  ["env -u HOME FOO=1 rm f", "sh"],
  ["nice rm f", "sh"],
  ["nice -n 5 rm f", "sh"],
  ["timeout 5 rm f", "sh"],
  ["timeout -s KILL 5s rm f", "sh"],
  ["stdbuf -o0 rm f", "sh"],
  ["nohup rm f", "sh"],
  ["time rm f", "sh"],
  ["time X=1 rm f", "bash"],
  ["command rm f", "sh"],
  ["command -p rm f", "sh"],
  ["exec rm f", "sh"],
  ["eval rm f", "sh"],
  ["eval 'r''m f'", "sh"],
  ["trap 'rm f' EXIT", "sh"],
  ["unlink f", "sh"],
  ["shred -u f", "sh"],
  ["X=1 rm f", "sh"],
  ["true && rm f", "sh"],
  ["false || rm f", "sh"],
  ["echo ok; rm f", "sh"],
  ["true | rm f", "sh"],
  ["rm f & wait", "sh"],
  ["echo ok\nrm f", "sh"],
  ['echo "$\\\n(rm f)"', "sh"],
  ["[[ x || rm f ]]", "dash"],
  ["true &>/dev/null rm f", "dash"],
  ["cat <<EOF\nEO\\\nF\nrm f\nEOF", "bash"],
  ["sudo rm f", "none"],
  ["sudo -u root -- rm f", "none"],
  ["doas rm f", "none"],
  ["fish -c 'true; and rm f'", "none"],
  ["zsh -c 'noglob rm f'", "none"],
  ["echo rm f | sudo -s", "none"],
  ["echo 'rm f' | xargs -I{} sh -c '{}'", "sh"],
  ["echo 'rm f' | xargs -i sh -c {}", "sh"],
  ["echo 'rm f' | xargs --replace sh -c {}", "sh"],
  ["echo f | xargs -I % sh -c 'rm %'", "sh"],
  ["echo 'rm f' > x.sh; BASH_ENV=x.sh bash -c true", "sh"],
  ["env 'BASH_FUNC_ls%%=() { rm f; }' bash -c ls", "sh"],
  ["hash -p /bin/rm ls; ls f", "bash"],
  ["alias ls=rm\nls f", "none"],
];

describe("deny [rm] refuses every spelling of rm", () => {
  test.each(SPELLINGS)("%p", (line) => {
    expect(checkCommand(line, [], ["rm"]).ok).toBe(false);
  });

  // The table must hold real deletions, or a refusal proves nothing.
  test.skipIf(process.platform !== "linux")("each spelling really deletes f in its shell", () => {
    const dir = mkdtempSync(join(tmpdir(), "tfo-policy-"));
    try {
      const kept: string[] = [];
      for (const [line, shell] of SPELLINGS) {
        if (shell === "none" || !Bun.which(shell)) continue;
        writeFileSync(join(dir, "f"), "x");
        Bun.spawnSync([shell === "sh" ? "/bin/sh" : shell, "-c", line], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
        if (existsSync(join(dir, "f"))) kept.push(line);
      }
      expect(kept).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deny [rm] lets ordinary lines through", () => {
  test.each([
    "ls -la",
    'echo "rm is a word"',
    "grep rm file",
    "git commit -m 'rm'",
    "cat <<EOF\nrm\nEOF",
    "cat <<'EOF'\n$(rm x)\nEOF",
    "echo x > rm",
    "echo > /dev/null rm f",
    "rmdir build",
    "echo rm # rm f",
    "ls *.ts $HOME ${TMPDIR:-/tmp}",
    "command -v rm",
    "find . -name '*.ts' -type f",
    "find . -exec grep -l rm {} +",
    "env FOO=1 ls",
    "timeout 5 npm test",
    "nice -10 make",
    "timeout --version",
    "sh -c 'ls -la'",
    "bash build.sh",
    "for f in a b; do echo $f; done",
    "case $x in rm) echo hi;; esac",
    "cd src && git status | head -n 5",
    "sudoedit x",
  ])("%p", (line) => {
    expect(checkCommand(line, [], ["rm"])).toEqual({ ok: true });
  });
});

describe("checkCommand", () => {
  const deny = ["sudo", "rm -rf"];
  test.each([
    ["ls", [], deny, true],
    ["sudo ls", [], deny, false],
    ["/usr/bin/sudo ls", [], deny, false],
    ["echo ok && rm  -rf /", [], deny, false],
    ["rm -r x", [], deny, true],
    ["sudoedit x", [], deny, true],
    ["env sudo ls", [], deny, false],
    ["echo $(sudo id)", [], deny, false],
    ["echo `whoami`", [], deny, false],
    ["(cd a && rm -rf b)", [], deny, false],
    ["FOO=1 BAR=2 sudo rm x", [], deny, false],
    ["'rm' '-rf' x", [], deny, false],
    ["xargs rm -rf", [], deny, false],
    ["echo -rf / | xargs rm", [], deny, false], // xargs adds words from its input
    // a word known only at run time where the pattern has words left: $F may be -rf
    ["rm $F /", [], deny, false],
    ["rm -r $F", [], deny, true],
    ["find . -delete", [], deny, true], // a synonym counts only for a one-word pattern
    ["git status", ["git", "ls"], [], true],
    ["git status; curl x", ["git", "ls"], [], false],
    ["", [], [], false],
  ] as const)("%p allow=%p deny=%p → %p", (line, allow, d, ok) => {
    expect(checkCommand(line, [...allow], [...d]).ok).toBe(ok);
  });
});

describe("allow list", () => {
  test.each([
    ["git status", ["git"], true],
    ["git status && ls -la | grep x", ["git", "ls", "grep"], true],
    ["git status | grep x", ["git", "ls"], false],
    ["env GIT_PAGER=cat git log", ["git"], true], // env, nice, timeout… only run the command
    ["nice -n 5 timeout 60 git fetch", ["git"], true],
    ["sh -c 'git status && ls'", ["git", "ls"], true],
    ["sh -c 'git status; curl x'", ["git", "ls"], false],
    ["echo x | xargs git add", ["git", "echo"], true],
    ["sudo git status", ["git"], false], // sudo changes who runs it: it must be allowed itself
    ["sudo git status", ["git", "sudo"], true],
    ["sudo rm x", ["git", "sudo"], false],
    ["find . -exec git add {} \\;", ["git"], false],
    ["find . -exec git add {} \\;", ["git", "find"], true],
    ["git status -s", ["git status"], true],
    ["git push", ["git status"], false],
    ["git $SUB", ["git status"], false],
    ["command -v git", ["git"], false],
    ["X=1 git status > out.txt 2>&1", ["git"], true],
  ] as const)("%p allow=%p → %p", (line, allow, ok) => {
    expect(checkCommand(line, [...allow], []).ok).toBe(ok);
  });
});

describe("refusals name the part and why", () => {
  test.each([
    ["echo a; sudo id", [], ["sudo"], 'command refused: "sudo id" matches the deny pattern "sudo" (commands.deny)'],
    ["curl x", ["git"], [], 'command refused: "curl x" is not in the allow list (commands.allow: git)'],
    ["env -i rm f", [], ["rm"], 'command refused: "env -i rm f" runs "rm f", which matches the deny pattern "rm" (commands.deny)'],
    ["sh -c 'ls; rm f'", [], ["rm"], "command refused: \"sh -c 'ls; rm f'\" runs \"rm f\", which matches the deny pattern \"rm\" (commands.deny)"],
    ["unlink f", [], ["rm"], 'command refused: "unlink f" counts as "rm" (unlink removes a file, like rm) and matches the deny pattern "rm" (commands.deny)'],
    ["find . -delete", [], ["rm"], 'command refused: "find . -delete" counts as "rm" (find -delete removes every file it finds) and matches the deny pattern "rm" (commands.deny)'],
    ["rm $F /", [], ["rm -rf"], 'command refused: "rm $F /" cannot be checked against the deny pattern "rm -rf": $F is only known when the line runs (commands.deny)'],
    ["env git push", ["git status"], [], 'command refused: "env git push" runs "git push", which is not in the allow list (commands.allow: git status)'],
    ["ls $(echo rm) f", [], ["rm"], 'command refused: cannot check "$(echo rm)": command substitution runs a command that is only known when the line runs (commands.deny)'],
    ["X=rm; $X f", ["ls"], ["rm"], 'command refused: cannot check "$X": $X in command position, so the command is only known when the line runs (commands.deny, commands.allow)'],
    ["r*m f", [], ["rm"], 'command refused: cannot check "r*m": r*m in command position, so the command is only known when the line runs (commands.deny)'],
    ["eval rm f", [], ["rm"], 'command refused: cannot check "eval rm f": eval runs a string as a command line (commands.deny)'],
    [". ./env.sh", [], ["rm"], 'command refused: cannot check ". ./env.sh": . runs the commands in a file, which the lists cannot see (commands.deny)'],
    ["alias ls=rm", [], ["rm"], 'command refused: cannot check "alias ls=rm": aliases can give any command name a new meaning (commands.deny)'],
    ["echo 'rm f", [], ["rm"], "command refused: cannot check \"'rm f\": unterminated single quote (commands.deny)"],
    ["sh -c 'echo \"x'", [], ["rm"], 'command refused: cannot check ""x": unterminated double quote (in the code sh -c runs) (commands.deny)'],
    ["sh -c \"$CODE\"", [], ["rm"], 'command refused: cannot check ""$CODE"": the code sh -c runs holds $CODE, which is only known when the line runs (commands.deny)'],
    ["echo rm f | sh", [], ["rm"], 'command refused: cannot check "sh": sh without -c reads commands from standard input, which the lists cannot see (commands.deny)'],
    ["env -S 'rm f'", [], ["rm"], "command refused: cannot check \"env -S 'rm f'\": env -S splits a string into a command line (commands.deny)"],
    ["nice --frob rm f", [], ["rm"], 'command refused: cannot check "--frob": nice option --frob is not known here, so where the command starts cannot be told (commands.deny)'],
    ["env $OPTS rm f", [], ["rm"], 'command refused: cannot check "$OPTS": $OPTS among the options of env could be an option or the command, so where the command starts is only known when the line runs (commands.deny)'],
    ["find . -name x $MORE", [], ["rm"], 'command refused: cannot check "$MORE": $MORE in a find expression could add -exec or -delete, which is only known when the line runs (commands.deny)'],
    ["f() { ls; }", [], ["rm"], 'command refused: cannot check "f() { ls; }": shell function definitions can give any command name a new meaning (commands.deny)'],
  ] as const)("%p", (line, allow, deny, error) => {
    expect(checkCommand(line, [...allow], [...deny])).toEqual({ ok: false, error });
  });
});

describe("reading stays fast", () => {
  // Lines built to make a backtracking or quadratic reader stall; each is near the size limit.
  // Linear reading takes well under a second even on a busy machine; quadratic takes minutes.
  const size = 128 * 1024 - 16;
  test.each([
    ["brackets", `ls ${"[".repeat(size)}`],
    ["braces and commas", `ls {${",".repeat(size)}`],
    ["backslashes in a here-document", `cat <<EOF\n${"\\".repeat(size)}x\nEOF`],
    ["continued here-document lines", `cat <<EOF\n${"a\\\n".repeat(size / 3)}EOF`],
    ["a long pipeline", `${"a|".repeat(size / 2)}b`],
    ["wrappers in a row", `${"env ".repeat(size / 4)}ls`],
    ["nested subshells", "(".repeat(size)],
  ])("%s", (_, line) => {
    const started = performance.now();
    checkCommand(line, [], ["rm"]);
    expect(performance.now() - started).toBeLessThan(5000);
  });
  test("a refusal quotes at most 200 characters of the part", () => {
    const r = checkCommand(`${"env ".repeat(100)}ls`, [], ["rm"]);
    expect(!r.ok && r.error).toBe(`command refused: cannot check "${"env ".repeat(100).slice(0, 200)}…": more than 16 wrappers in a row are not followed (commands.deny)`);
  });
  test("a line too long for sh -c on Linux is refused without reading it", () => {
    const r = checkCommand(`ls ${"a".repeat(128 * 1024)}`, [], ["rm"]);
    expect(!r.ok && r.error).toBe("command refused: the line has 131075 characters; with commands.deny set, lines over 131072 are not read (Linux cannot run a longer sh -c line either)");
  });
});

describe("review findings: bash array-subscript evaluation, callbacks, unfollowed wrappers", () => {
  test.each([
    [`bash -c "declare 'a[\\$(touch X)]=1'"`, "command substitution in quotes"],
    [`bash -c "printf -v 'a[\\$(touch X)]' x"`, "command substitution in quotes"],
    [`declare 'a[$(touch X)]=1'`, "command substitution in quotes"],
    [`bash -c "mapfile -C touch -c 1 x <<< X"`, "mapfile -C runs a callback command"],
    ["complete -C touch x", "complete -C/-F"],
    ["ionice rm x", "ionice runs another program"],
    ["flock /tmp/l rm x", "flock runs another program"],
    ["su -c 'rm x'", "su runs another program"],
  ])("%p is refused with deny [touch, rm] and with an allow list", (line, why) => {
    const denied = checkCommand(line, [], ["touch", "rm"]);
    expect(!denied.ok && denied.error).toContain(why);
    expect(checkCommand(line, ["declare", "printf", "mapfile", "bash", "complete", "ionice", "flock", "su"], []).ok).toBe(false);
  });
});

describe("with both lists empty nothing is read", () => {
  test.each(SPELLINGS.map(([line]) => line).concat(["echo 'unterminated", "f() { rm x; }", "$((1+2))"]))("%p is accepted", (line) => {
    expect(checkCommand(line, [], [])).toEqual({ ok: true });
  });
  test("an empty line is still refused", () => {
    expect(checkCommand("  \n", [], [])).toEqual({ ok: false, error: "command is empty" });
  });
});

describe("childEnv", () => {
  const env = { PATH: "/bin", HOME: "/h", ANTHROPIC_API_KEY: "k", TELEMETRYFLOW_API_KEY_SECRET: "s", TELEMETRYFLOW_MCP_X: "x", OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer t", MY_TOKEN: "t", OTHER: "o" };
  test("drops secrets always and env_drop names", () => {
    expect(childEnv(env, [], ["MY_TOKEN"])).toEqual({ PATH: "/bin", HOME: "/h", OTHER: "o" });
  });
  test("passthrough keeps only the named and the basics", () => {
    expect(childEnv(env, ["MY_TOKEN", "ANTHROPIC_API_KEY"], [])).toEqual({ PATH: "/bin", HOME: "/h", MY_TOKEN: "t" });
  });
});
