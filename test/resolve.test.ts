import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openFileInsideRoots, openFolderInsideRoots, openParentInsideRoots } from "../src/workspace/open-inside.ts";
import { checkPathText, type Confinement, displayPath, isInside, resolveInsideRoots, type Workspace } from "../src/workspace/resolve.ts";
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

describe("opening by descriptor gives the same answers under every guard", () => {
  const base = tempDir();
  const root = join(base.path, "app");
  const other = join(base.path, "other");
  const guards: Confinement[] = ["openat2", "openat", "realpath"];
  let ws: Workspace;

  beforeAll(() => {
    for (const d of [root, other, join(root, "src", "deep")]) mkdirSync(d, { recursive: true });
    writeFileSync(join(root, "src", "a.ts"), "a");
    writeFileSync(join(other, "secret.txt"), "s");
    symlinkSync(join(other, "secret.txt"), join(root, "link-out.txt"));
    symlinkSync(other, join(root, "dir-out"));
    symlinkSync("../other", join(root, "rel-out"));
    symlinkSync(join(root, "src", "a.ts"), join(root, "abs-in.ts"));
    symlinkSync("src/a.ts", join(root, "rel-in.ts"));
    symlinkSync("deep/../../src", join(root, "src", "up"));
    symlinkSync(join(root, "loop2"), join(root, "loop1"));
    symlinkSync(join(root, "loop1"), join(root, "loop2"));
    ws = { roots: [root], explicit: true, why: "test", readOnly: false, maxReadBytes: 1e6, maxWriteBytes: 1e6, maxResults: 100, followSymlinks: true, allowHardlinks: false };
  });
  afterAll(() => base.cleanup());

  const shown = async (w: Workspace, input: string) => {
    const r = await openFileInsideRoots(w, input);
    if (!r.ok) return r.code === "ENOENT" ? `missing ${displayPath(w, r.path!)}` : r.error.replace(root, "ROOT").replace(other, "OTHER");
    closeSync(r.fd);
    return displayPath(w, r.path);
  };

  test.each([
    ["src/a.ts", "src/a.ts"],
    [".", "."],
    ["abs-in.ts", "src/a.ts"],
    ["rel-in.ts", "src/a.ts"],
    ["src/up/a.ts", "src/a.ts"],
    ["nope/x.ts", "missing nope/x.ts"],
    ["src/a.ts/x", "missing src/a.ts/x"],
    ["link-out.txt", 'Access denied: "link-out.txt" leads outside the workspace through a symlink (to OTHER/secret.txt); paths must stay inside the workspace root ROOT.'],
    ["dir-out/secret.txt", 'Access denied: "dir-out/secret.txt" leads outside the workspace through a symlink (to OTHER/secret.txt); paths must stay inside the workspace root ROOT.'],
    ["rel-out/secret.txt", 'Access denied: "rel-out/secret.txt" leads outside the workspace through a symlink (to OTHER/secret.txt); paths must stay inside the workspace root ROOT.'],
    ["../other/secret.txt", 'Access denied: "../other/secret.txt" is outside the workspace; paths must stay inside the workspace root ROOT.'],
    ["loop1", 'Access denied: "loop1" is a symlink loop; paths must stay inside the workspace root ROOT.'],
  ])("%p → %p", async (input, want) => {
    for (const confine of guards) expect([confine, await shown({ ...ws, confine }, input)]).toEqual([confine, want]);
  });

  test("follow_symlinks false refuses a symlink that stays inside, under every guard", async () => {
    for (const confine of guards) {
      expect(await shown({ ...ws, confine, followSymlinks: false }, "rel-in.ts")).toContain("goes through a symlink and workspace.follow_symlinks is false");
      expect(await shown({ ...ws, confine, followSymlinks: false }, "src/a.ts")).toBe("src/a.ts");
    }
  });

  test("a symlink into a second root is opened beneath that root", async () => {
    for (const confine of guards) expect(await shown({ ...ws, confine, roots: [root, other] }, "link-out.txt")).toBe(join(other, "secret.txt"));
  });

  test("a folder: its entries are reached through what was opened, sizes without following links", async () => {
    for (const confine of guards) {
      const say = { missing: (s: string) => `missing ${s}`, file: (s: string) => `file ${s}` };
      const f = await openFolderInsideRoots({ ...ws, confine }, "src", say);
      if (!f.ok) throw new Error(f.error);
      try {
        expect(readdirSync(f.ref).sort()).toEqual(["a.ts", "deep", "up"]);
        const top = f.openBelow("")!;
        expect(f.sizeOf(top, "a.ts")).toBe(1);
        expect(f.sizeOf(top, "gone")).toBeUndefined();
        // Below the listed folder no symlink is entered, not even one that stays inside.
        expect(f.openBelow("up") === undefined).toBe(confine !== "realpath");
        expect(f.openBelow("deep")).toBeDefined();
      } finally {
        f.close();
      }
      expect(await openFolderInsideRoots({ ...ws, confine }, "src/a.ts", say)).toEqual({ ok: false, error: "file src/a.ts" });
      expect(await openFolderInsideRoots({ ...ws, confine }, "nope", say)).toEqual({ ok: false, error: "missing nope" });
    }
  });

  test("the folder a file is written into, made step by step beneath the root with create_dirs", async () => {
    for (const confine of guards) {
      const w = { ...ws, confine };
      const through = await openParentInsideRoots(w, "rel-in.ts", false);
      expect(through.ok && [displayPath(w, through.path), through.name]).toEqual(["src/a.ts", "a.ts"]);
      if (through.ok) through.close();
      expect(await openParentInsideRoots(w, `new-${confine}/x.txt`, false)).toMatchObject({ ok: false, error: `Folder new-${confine} does not exist. Set create_dirs to true to create it.` });
      const made = await openParentInsideRoots(w, `new-${confine}/a/b/x.txt`, true);
      if (!made.ok) throw new Error(made.error);
      writeFileSync(`${made.dir}/${made.name}`, "x");
      made.close();
      expect(readdirSync(join(root, `new-${confine}`, "a", "b"))).toEqual(["x.txt"]);
      expect(await openParentInsideRoots(w, "src/a.ts/x.txt", true)).toMatchObject({ ok: false, error: "src/a.ts is a file, not a folder." });
      expect(await openParentInsideRoots(w, ".", false)).toMatchObject({ ok: false, error: ". is the workspace root folder, not a file." });
      expect(await openParentInsideRoots(w, "dir-out/new.txt", true)).toMatchObject({ ok: false, error: expect.stringContaining("through a symlink") });
    }
    expect(readdirSync(other)).toEqual(["secret.txt"]);
  });
});
