// The conformance run's verdicts (scripts/conformance.ts) and the checked-in list of expected
// failures: every entry names a server scenario of the pinned suite and gives a reason.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { EXPECTED_FAILURES_FILE, judge, parseExpectedFailures, readResults, scenariosRun, type Check } from "../scripts/conformance.ts";
import { tempDir } from "./helpers/tmp.ts";

const ok: Check[] = [{ id: "a", status: "SUCCESS" }];
const bad: Check[] = [{ id: "a", status: "FAILURE", errorMessage: "Unknown tool" }];
const warned: Check[] = [{ id: "a", status: "SUCCESS" }, { id: "b", status: "WARNING", errorMessage: "SHOULD send retry" }];

describe("judge", () => {
  test.each([
    ["passes, not listed", ok, {}, "pass", 0],
    ["fails, listed", bad, { s: "fixture tool" }, "expected failure", 0],
    ["fails, not listed", bad, {}, "UNEXPECTED FAILURE", 1],
    ["a warning counts as failing, as in the suite's own baseline", warned, {}, "UNEXPECTED FAILURE", 1],
    ["passes, listed: the entry is stale", ok, { s: "fixture tool" }, "STALE (now passes)", 1],
    ["no results at all", undefined, {}, "UNEXPECTED FAILURE", 1],
  ] as const)("%s", (_, checks, expected, verdict, problems) => {
    const out = judge([{ scenario: "s", checks: checks as Check[] | undefined }], expected);
    expect(out.rows[0]!.verdict).toBe(verdict);
    expect(out.problems).toHaveLength(problems);
  });

  test("an entry naming a scenario the suite did not run is a problem", () => {
    const out = judge([{ scenario: "ping", checks: ok }], { "tools-call-imagee": "typo" });
    expect(out.problems.join("\n")).toContain('"tools-call-imagee", which the suite did not run');
  });
});

test("an expected failure without a reason is refused", () => {
  expect(parseExpectedFailures('{"ping": ""}').ok).toBe(false);
  expect(parseExpectedFailures('["ping"]').ok).toBe(false);
  expect(parseExpectedFailures('{"ping": "why"}').ok).toBe(true);
});

test("results are read from the suite's per-scenario folders, and a missing one is no result", () => {
  const dir = tempDir("tfo-conf-");
  try {
    const stdout = "Running active suite (2 scenarios)\n\n=== Running scenario: tools-call-image ===\n\n=== Running scenario: ping ===\n";
    const names = scenariosRun(stdout);
    expect(names).toEqual(["tools-call-image", "ping"]);
    // A prefix of another scenario's name must not pick up that scenario's folder.
    mkdirSync(join(dir.path, "server-tools-call-image-extra-2026-11-26T21-58-40-295Z"));
    writeFileSync(join(dir.path, "server-tools-call-image-extra-2026-11-26T21-58-40-295Z", "checks.json"), JSON.stringify(ok));
    mkdirSync(join(dir.path, "server-ping-2026-11-26T21-58-40-234Z"));
    writeFileSync(join(dir.path, "server-ping-2026-11-26T21-58-40-234Z", "checks.json"), JSON.stringify(ok));
    expect(readResults(dir.path, names)).toEqual([
      { scenario: "tools-call-image", checks: undefined },
      { scenario: "ping", checks: ok },
    ]);
  } finally {
    dir.cleanup();
  }
});

test("the checked-in expected failures name server scenarios of the pinned suite, each with a reason", async () => {
  const parsed = parseExpectedFailures(readFileSync(EXPECTED_FAILURES_FILE, "utf8"));
  if (!parsed.ok) throw new Error(parsed.error);
  const pkgFile = createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance/package.json");
  const bin = join(dirname(pkgFile), JSON.parse(readFileSync(pkgFile, "utf8")).bin.conformance);
  const proc = Bun.spawn([process.execPath, bin, "list", "--server"], { stdout: "pipe", stderr: "pipe" });
  const [listing, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  const known = new Set([...listing.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]));
  expect(known.size).toBeGreaterThan(0);
  expect(Object.keys(parsed.value).filter((name) => !known.has(name))).toEqual([]);
});
