import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configReference } from "../scripts/config-reference.ts";

const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");

test("the README's config reference matches the schema", () => {
  const inReadme = readme.split("<!-- config-reference:start -->")[1]?.split("<!-- config-reference:end -->")[0]?.trim();
  expect(inReadme).toBe(configReference());
});

test("the README's test command is what .ci/run runs", () => {
  expect(readme).toContain("npm ci && npm test");
  expect(readFileSync(join(import.meta.dir, "..", ".ci", "run"), "utf8")).toContain("npm test");
});
