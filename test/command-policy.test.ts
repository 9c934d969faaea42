import { describe, expect, test } from "bun:test";
import { checkCommand, childEnv, commandParts } from "../src/tools/command-policy.ts";

describe("commandParts", () => {
  test.each([
    ["ls -la", ["ls -la"]],
    ["a; b && c || d | e & f", ["a", "b", "c", "d", "e", "f"]],
    ["FOO=1 BAR=2 sudo rm x", ["sudo rm x"]],
    ["echo $(sudo id)", ["echo", "sudo id"]],
    ["echo `whoami`", ["echo", "whoami"]],
    ["env sudo x", ["sudo x"]],
    ["(cd a && rm b)", ["cd a", "rm b"]],
  ])("%p", (line, want) => {
    expect(commandParts(line)).toEqual(want);
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
    ["git status", ["git", "ls"], [], true],
    ["git status; curl x", ["git", "ls"], [], false],
    ["", [], [], false],
  ] as const)("%p allow=%p deny=%p → %p", (line, allow, d, ok) => {
    expect(checkCommand(line, [...allow], [...d]).ok).toBe(ok);
  });
  test("refusals name the part and the pattern", () => {
    const r = checkCommand("echo a; sudo id", [], ["sudo"]);
    expect(!r.ok && r.error).toBe('command refused: "sudo id" matches the deny pattern "sudo" (commands.deny)');
    const a = checkCommand("curl x", ["git"], []);
    expect(!a.ok && a.error).toBe('command refused: "curl x" is not in the allow list (commands.allow: git)');
  });
});

describe("childEnv", () => {
  const env = { PATH: "/bin", HOME: "/h", ANTHROPIC_API_KEY: "k", TELEMETRYFLOW_API_KEY_SECRET: "s", TELEMETRYFLOW_MCP_X: "x", MY_TOKEN: "t", OTHER: "o" };
  test("drops secrets always and env_drop names", () => {
    expect(childEnv(env, [], ["MY_TOKEN"])).toEqual({ PATH: "/bin", HOME: "/h", OTHER: "o" });
  });
  test("passthrough keeps only the named and the basics", () => {
    expect(childEnv(env, ["MY_TOKEN", "ANTHROPIC_API_KEY"], [])).toEqual({ PATH: "/bin", HOME: "/h", MY_TOKEN: "t" });
  });
});
