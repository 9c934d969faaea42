import { expect, test } from "bun:test";
import { createLogger, formatLine, redactor } from "../src/log.ts";

test("redactor hides every secret, longest first", () => {
  const redact = redactor(["abcd1234", "abcd", "no"]);
  expect(redact("key abcd1234 and abcd and no")).toBe("key *** and *** and no");
});

test("text and json lines", () => {
  const date = new Date("2026-01-02T03:04:05.000Z");
  expect(formatLine("text", "info", "tool call", { tool: "echo", ms: 1.5, note: "a b" }, date)).toBe(
    '2026-01-02T03:04:05.000Z INFO  tool call tool=echo ms=1.5 note="a b"',
  );
  expect(JSON.parse(formatLine("json", "warn", "m", { k: 1 }, date))).toEqual({ timestamp: "2026-01-02T03:04:05.000Z", level: "warning", logger: "tfo_mcp", event: "m", k: 1 });
});

test("levels filter, secrets are redacted, repeated lines are all kept", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", output: "stderr", secrets: ["sk-ant-xyz"], write: (l) => lines.push(l) });
  log.debug("hidden");
  log.info("key is sk-ant-xyz", { also: "sk-ant-xyz" });
  for (let i = 0; i < 10; i++) log.info("same");
  log.error("bad");
  expect(lines.map((l) => JSON.parse(l).event)).toEqual(["key is ***", ...Array(10).fill("same"), "bad"]);
  expect(lines[0]).not.toContain("sk-ant-xyz");
  const silent: string[] = [];
  createLogger({ level: "silent", format: "text", output: "stderr", write: (l) => silent.push(l) }).error("x");
  expect(silent).toEqual([]);
});
