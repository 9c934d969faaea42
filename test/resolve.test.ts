import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkPathText, displayPath, isInside, resolveInsideRoots, type Workspace } from "../src/workspace/resolve.ts";
import { realRoots } from "../src/workspace/roots.ts";
import { tempDir } from "./helpers/tmp.ts";

describe("isInside (pure)", () => {
  test.each([
    ["/x/app", "/x/app", true],
    ["/x/app", "/x/app/a/b", true],
    ["/x/app", "/x/app2", false],
    ["/x/app", "/x/app-evil/f", false],
    ["/x/app", "/x", false],
    ["/", "/anything", true],
    ["/x/app/", "/x/app/f", true],
  ])("root %s, candidate %s → %p", (root, candidate, want) => {
    expect(isInside(root, candidate)).toBe(want);
  });
});

describe("checkPathText (pure)", () => {
  test.each([
    ["ok.txt", undefined],
    ["a\0b", "path contains a NUL byte"],
    ["x".repeat(5000), "path is 5000 characters long; at most 4096 are accepted"],
    [42, "path must be a string, got number"],
    [null, "path must be a string, got null"],
  ])("%p", (input, want) => {
    expect(checkPathText(input)).toBe(want as string | undefined);
  });
});

describe("resolveInsideRoots on a real tree", () => {
  const base = tempDir();
  const root = join(base.path, "app");
  const other = join(base.path, "other");
  const sibling = join(base.path, "app2");
  let ws: Workspace;

  beforeAll(() => {
    for (const d of [root, other, sibling, join(root, "src")]) mkdirSync(d, { recursive: true });
    writeFileSync(join(root, "src", "a.ts"), "a");
    writeFileSync(join(other, "secret.txt"), "s");
    writeFileSync(join(sibling, "f.txt"), "f");
    symlinkSync(join(other, "secret.txt"), join(root, "link-out.txt"));
    symlinkSync(other, join(root, "dir-out"));
    symlinkSync(join(root, "src", "a.ts"), join(root, "link-in.ts"));
    symlinkSync(join(root, "loop1"), join(root, "loop2"));
    symlinkSync(join(root, "loop2"), join(root, "loop1"));
    ws = { roots: [root], explicit: true, why: "test", readOnly: false, maxReadBytes: 1e6, maxWriteBytes: 1e6, maxResults: 100, followSymlinks: true, allowHardlinks: false };
  });
  afterAll(() => base.cleanup());

  const accepted: [string, string, boolean][] = [
    ["src/a.ts", "src/a.ts", true],
    ["./src/../src/a.ts", "src/a.ts", true],
    ["", ".", true],
    [".", ".", true],
    ["new/dir/file.txt", "new/dir/file.txt", false],
    ["link-in.ts", "src/a.ts", true],
  ];
  test.each(accepted)("accepts %p as %p (exists %p)", async (input, shown, exists) => {
    const r = await resolveInsideRoots(ws, input);
    if (!r.ok) throw new Error(r.error);
    expect(displayPath(ws, r.path)).toBe(shown);
    expect(r.exists).toBe(exists);
  });

  test("accepts an absolute path inside", async () => {
    const r = await resolveInsideRoots(ws, join(root, "src/a.ts"));
    expect(r.ok).toBe(true);
  });

  const refused: [string, () => string, RegExp][] = [
    ["parent escape", () => "../other/secret.txt", /outside the workspace/],
    ["deep parent escape", () => "src/../../../../../../etc/passwd", /outside the workspace/],
    ["absolute elsewhere", () => "/etc/passwd", /outside the workspace/],
    ["sibling prefix", () => sibling + "/f.txt", /outside the workspace/],
    ["sibling prefix, relative", () => "../app2/f.txt", /outside the workspace/],
    ["symlinked file out", () => "link-out.txt", /through a symlink/],
    ["symlinked folder out", () => "dir-out/secret.txt", /through a symlink/],
    ["new file under symlinked folder out", () => "dir-out/new.txt", /through a symlink/],
    ["symlink loop", () => "loop1/x", /symlink loop/],
    ["NUL byte", () => "src/a.ts\0.png", /NUL byte/],
    ["too long", () => "a/".repeat(3000), /characters long/],
  ];
  test.each(refused)("refuses %s", async (_name, input, why) => {
    const r = await resolveInsideRoots(ws, input());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(why);
      if (!/NUL|long/.test(r.error)) expect(r.error).toContain(root);
    }
  });

  test("follow_symlinks false refuses even inside links", async () => {
    const r = await resolveInsideRoots({ ...ws, followSymlinks: false }, "link-in.ts");
    expect(!r.ok && r.error).toMatch(/follow_symlinks/);
  });

  test("several roots: a path in the second is accepted and shown absolute", async () => {
    const two = { ...ws, roots: [root, other] };
    const r = await resolveInsideRoots(two, join(other, "secret.txt"));
    expect(r.ok && displayPath(two, r.path)).toBe(join(other, "secret.txt"));
    const sym = await resolveInsideRoots(two, "link-out.txt");
    expect(sym.ok).toBe(true);
  });

  test("realRoots resolves, dedupes, and refuses a missing folder", async () => {
    expect(await realRoots([], root)).toEqual({ ok: true, roots: [] });
    expect(await realRoots(["~/src"], "/", root)).toEqual({ ok: true, roots: [join(root, "src")] });
    expect(await realRoots([root, `${root}/src/..`], base.path)).toEqual({ ok: true, roots: [root] });
    const r = await realRoots(["nope"], base.path);
    expect(!r.ok && r.error).toContain(join(base.path, "nope"));
  });
});
