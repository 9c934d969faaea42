// edit_file: the pure diff and edit rules in tables, the tool in-process against real files, and once through the binary.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyEdits } from "../src/tools/edit-file.ts";
import { unifiedDiff } from "../src/tools/unified-diff.ts";
import { connectBinary, textOf } from "./helpers/client.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";

type Result = { content: { type: string; text: string }[]; structuredContent?: any; isError?: boolean };

describe("unifiedDiff (pure)", () => {
  test.each([
    ["one line changed", "a\nb\nc\n", "a\nB\nc\n", "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"],
    ["equal texts: no diff", "a\nb\n", "a\nb\n", ""],
    ["insert at the top of an empty file", "", "x\n", "--- f\n+++ f\n@@ -0,0 +1 @@\n+x\n"],
    ["delete the only line", "x\n", "", "--- f\n+++ f\n@@ -1 +0,0 @@\n-x\n"],
    ["last line without a newline", "a\nb\nc", "a\nb\nd", "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n b\n-c\n\\ No newline at end of file\n+d\n\\ No newline at end of file\n"],
    ["CRLF lines shown without \\r", "a\r\nb\r\n", "a\r\nc\r\nb\r\n", "--- f\n+++ f\n@@ -1,2 +1,3 @@\n a\n+c\n b\n"],
    [
      "changes far apart: two hunks with 3 lines of context",
      "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
      "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\nY\n12\n",
      "--- f\n+++ f\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n",
    ],
    ["changes 6 lines apart share one hunk", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "X\n2\n3\n4\n5\n6\n7\nY\n9\n", "--- f\n+++ f\n@@ -1,9 +1,9 @@\n-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n 9\n"],
  ])("%s", (_, before, after, want) => {
    expect(unifiedDiff(before, after, "f")).toBe(want);
  });

  test("a small edit in a large file is diffed quickly and shows only its hunk", () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
    const before = `${lines.join("\n")}\n`;
    const after = before.replace("line 25000\n", "changed\n");
    const started = performance.now();
    const diff = unifiedDiff(before, after, "big");
    expect(performance.now() - started).toBeLessThan(500);
    expect(diff).toBe("--- big\n+++ big\n@@ -24998,7 +24998,7 @@\n line 24997\n line 24998\n line 24999\n-line 25000\n+changed\n line 25001\n line 25002\n line 25003\n");
  });

  test("a file rewritten whole still gives a diff that turns one text into the other", () => {
    const before = Array.from({ length: 3000 }, (_, i) => `a${i}\n`).join("");
    const after = Array.from({ length: 3000 }, (_, i) => `b${i}\n`).join("");
    const diff = unifiedDiff(before, after, "f").split("\n");
    expect(diff[2]).toBe("@@ -1,3000 +1,3000 @@");
    expect(diff.filter((l) => l.startsWith("-a")).length).toBe(3000);
    expect(diff.filter((l) => l.startsWith("+b")).length).toBe(3000);
  });
});

describe("applyEdits (pure)", () => {
  test("edits apply in order; a later one sees what an earlier one wrote", () => {
    expect(applyEdits("a b c", [{ old_text: "a", new_text: "x" }, { old_text: "x b", new_text: "y" }], "\n")).toEqual({ ok: true, text: "y c" });
  });
  test("old_text written with \\n matches CRLF lines, and new_text is written with CRLF", () => {
    expect(applyEdits("a\r\nb\r\nc\r\n", [{ old_text: "a\nb", new_text: "1\n2\n3" }], "\r\n")).toEqual({ ok: true, text: "1\r\n2\r\n3\r\nc\r\n" });
  });
  test.each([
    ["several matches: count and lines", "x\ny\nx\nx\n", [{ old_text: "x", new_text: "z" }], "In the edit, old_text matches 3 times, at lines 1, 3, 4; it must match exactly once. Add surrounding lines to old_text to pick one."],
    ["overlapping matches count", "aaa\n", [{ old_text: "aa", new_text: "b" }], "In the edit, old_text matches 2 times, at lines 1, 1; it must match exactly once. Add surrounding lines to old_text to pick one."],
    [
      "no match: where its first line is",
      "f() {\n  one\n}\n",
      [{ old_text: "f() {\n  two\n}", new_text: "" }],
      "In the edit, old_text matches 0 times; it must match exactly once. Its first line appears at line 1; compare the lines after it.",
    ],
    [
      "the second edit is judged on the text the first left",
      "a\nb\n",
      [
        { old_text: "a", new_text: "b" },
        { old_text: "b", new_text: "c" },
      ],
      "In edit 2 of 2, old_text matches 2 times (the text after edit 1), at lines 1, 2; it must match exactly once. Add surrounding lines to old_text to pick one.",
    ],
  ])("%s", (_, text, edits, error) => {
    expect(applyEdits(text, edits, "\n")).toEqual({ ok: false, error });
  });
  test("many matches: the first ten lines and how many more", () => {
    const r = applyEdits("x\n".repeat(13), [{ old_text: "x", new_text: "y" }], "\n");
    expect(r.ok ? "" : r.error).toContain("matches 13 times, at lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more;");
  });
});

describe("edit_file in-process", () => {
  const base = tempDir("tfo-edit-");
  const root = join(base.path, "ws");
  const outside = join(base.path, "outside");
  let s: Awaited<ReturnType<typeof inProcess>>;
  const call = (args: Record<string, unknown>) => s.client.callTool({ name: "edit_file", arguments: args }) as Promise<Result>;
  const file = (name: string) => readFileSync(join(root, name));
  const text = (r: Result) => r.content[0]!.text;

  beforeAll(async () => {
    mkdirSync(root);
    mkdirSync(outside);
    s = await inProcess({ roots: [root], config: { workspace: { max_read_bytes: 1000, max_write_bytes: 1000 } } });
  });
  afterEach(() => {
    for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
  });
  afterAll(async () => {
    await s.close();
    base.cleanup();
  });

  test("one edit: the file is replaced, the answer is the diff, the data says what was done", async () => {
    writeFileSync(join(root, "a.txt"), "one\ntwo\nthree\n", { mode: 0o640 });
    const r = await call({ path: "a.txt", edits: [{ old_text: "two", new_text: "2" }] });
    expect(r.isError).toBeUndefined();
    const diff = "--- a.txt\n+++ a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n";
    expect(text(r)).toBe(diff);
    expect(r.structuredContent).toEqual({ path: "a.txt", diff, edits_applied: 1, dry_run: false, bytes_written: 12 });
    expect(file("a.txt").toString()).toBe("one\n2\nthree\n");
    // Replaced atomically: no temp file left beside it; the mode is kept.
    expect(readdirSync(root)).toEqual(["a.txt"]);
    expect(statSync(join(root, "a.txt")).mode & 0o777).toBe(0o640);
  });

  test("several edits apply in order and give one diff", async () => {
    writeFileSync(join(root, "m.ts"), "const a = 1;\nconst b = 2;\nconst c = 3;\n");
    const r = await call({
      path: "m.ts",
      edits: [
        { old_text: "const a = 1;", new_text: "let a = 1;" },
        { old_text: "let a = 1;\nconst b", new_text: "let a = 1;\nlet b" },
        { old_text: "c = 3", new_text: "c = 4" },
      ],
    });
    expect(file("m.ts").toString()).toBe("let a = 1;\nlet b = 2;\nconst c = 4;\n");
    expect(text(r)).toBe("--- m.ts\n+++ m.ts\n@@ -1,3 +1,3 @@\n-const a = 1;\n-const b = 2;\n-const c = 3;\n+let a = 1;\n+let b = 2;\n+const c = 4;\n");
    expect(r.structuredContent.edits_applied).toBe(3);
  });

  test("dry run: the diff, and nothing written", async () => {
    writeFileSync(join(root, "d.txt"), "keep\n");
    const r = await call({ path: "d.txt", edits: [{ old_text: "keep", new_text: "gone" }], dry_run: true });
    expect(text(r)).toBe("--- d.txt\n+++ d.txt\n@@ -1 +1 @@\n-keep\n+gone\n");
    expect(r.content[1]!.text).toBe("Dry run: nothing was written.");
    expect(r.structuredContent).toMatchObject({ dry_run: true, bytes_written: 0 });
    expect(file("d.txt").toString()).toBe("keep\n");
  });

  test("new_text equal to old_text: No changes, nothing written", async () => {
    writeFileSync(join(root, "same.txt"), "x\n");
    const mtime = statSync(join(root, "same.txt")).mtimeMs;
    const r = await call({ path: "same.txt", edits: [{ old_text: "x", new_text: "x" }] });
    expect(text(r)).toBe("No changes");
    expect(r.structuredContent).toEqual({ path: "same.txt", diff: "", edits_applied: 1, dry_run: false, bytes_written: 0 });
    expect(statSync(join(root, "same.txt")).mtimeMs).toBe(mtime);
  });

  test("several matches: refused with the count and the lines; the file and the earlier edits are not written", async () => {
    writeFileSync(join(root, "amb.txt"), "x = 1\ny = 2\nx = 1\n");
    const r = await call({ path: "amb.txt", edits: [{ old_text: "y = 2", new_text: "y = 3" }, { old_text: "x = 1", new_text: "x = 0" }] });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("amb.txt was not changed. In edit 2 of 2, old_text matches 2 times (the text after edit 1), at lines 1, 3; it must match exactly once. Add surrounding lines to old_text to pick one.");
    expect(file("amb.txt").toString()).toBe("x = 1\ny = 2\nx = 1\n");
  });

  test("no match: refused, saying 0 times; the file unchanged", async () => {
    writeFileSync(join(root, "none.txt"), "alpha\nbeta\n");
    const r = await call({ path: "none.txt", edits: [{ old_text: "gamma", new_text: "delta" }] });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("none.txt was not changed. In the edit, old_text matches 0 times; it must match exactly once. Read the file and copy old_text from it exactly, whitespace included.");
    expect(file("none.txt").toString()).toBe("alpha\nbeta\n");
  });

  test("a CRLF file stays CRLF, edited with \\n in old_text and new_text", async () => {
    writeFileSync(join(root, "win.txt"), "a\r\nb\r\nc\r\n");
    const r = await call({ path: "win.txt", edits: [{ old_text: "a\nb", new_text: "a\nB\nB2" }] });
    expect(r.isError).toBeUndefined();
    expect(file("win.txt").toString()).toBe("a\r\nB\r\nB2\r\nc\r\n");
    expect(text(r)).toBe("--- win.txt\n+++ win.txt\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c\n");
  });

  test("a missing final newline stays missing, and a present one stays present", async () => {
    writeFileSync(join(root, "nonl.txt"), "a\nb\nc");
    await call({ path: "nonl.txt", edits: [{ old_text: "c", new_text: "d\n" }] });
    expect(file("nonl.txt").toString()).toBe("a\nb\nd");
    writeFileSync(join(root, "nl.txt"), "a\nb\n");
    await call({ path: "nl.txt", edits: [{ old_text: "b\n", new_text: "B" }] });
    expect(file("nl.txt").toString()).toBe("a\nB\n");
  });

  test("a UTF-8 byte-order mark is kept", async () => {
    writeFileSync(join(root, "bom.txt"), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("héllo\n")]));
    const r = await call({ path: "bom.txt", edits: [{ old_text: "héllo", new_text: "hé" }] });
    expect(r.structuredContent.bytes_written).toBe(7);
    expect([...file("bom.txt")]).toEqual([0xef, 0xbb, 0xbf, ...Buffer.from("hé\n")]);
  });

  test.each([
    ["outside the workspace", () => writeFileSync(join(outside, "o.txt"), "secret\n"), () => join(outside, "o.txt"), "Access denied"],
    ["a missing file", () => {}, () => "nope.txt", "File not found: nope.txt. edit_file changes an existing file; use write_file to create one."],
    ["a binary file", () => writeFileSync(join(root, "b.bin"), Buffer.from([0x61, 0, 0x62])), () => "b.bin", "b.bin looks like a binary file (binary data, 3 bytes); edit_file edits UTF-8 text only."],
    ["non-UTF-8 text", () => writeFileSync(join(root, "l1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])), () => "l1.txt", "l1.txt is not valid UTF-8 text (first bad byte at offset 3); edit_file edits UTF-8 text only."],
    ["a file over max_read_bytes", () => writeFileSync(join(root, "big.txt"), "s".repeat(1001)), () => "big.txt", "big.txt is 1001 bytes, over the read limit of 1000 bytes (workspace.max_read_bytes)"],
    ["a hard-linked file", () => (writeFileSync(join(outside, "h.txt"), "s\n"), linkSync(join(outside, "h.txt"), join(root, "h.txt"))), () => "h.txt", "h.txt has 2 hard links; one may be a file outside the workspace, so it is not edited."],
    ["a result over max_write_bytes", () => writeFileSync(join(root, "grow.txt"), "s\n"), () => "grow.txt", "grow.txt would be 1001 bytes after these edits, over the write limit of 1000 bytes"],
  ])("refuses %s, saying why, and changes nothing", async (_, make, path, message) => {
    make();
    const target = path();
    const before = (() => {
      try {
        return readFileSync(target.startsWith("/") ? target : join(root, target));
      } catch {
        return undefined;
      }
    })();
    const r = await call({ path: target, edits: [{ old_text: "s", new_text: "s".repeat(1000) }] });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain(message);
    if (before) expect(readFileSync(target.startsWith("/") ? target : join(root, target))).toEqual(before);
  });

  test("empty old_text or no edits: invalid arguments that say what is accepted", async () => {
    writeFileSync(join(root, "e.txt"), "x\n");
    expect(text(await call({ path: "e.txt", edits: [{ old_text: "", new_text: "y" }] }))).toContain("old_text is empty; give text that appears exactly once in the file");
    expect(text(await call({ path: "e.txt", edits: [] }))).toContain("edits is empty");
    expect(file("e.txt").toString()).toBe("x\n");
  });

  test("listed with its annotations; read-only mode does not offer it", async () => {
    const listed = (await s.client.listTools()).tools.find((t) => t.name === "edit_file")!;
    expect(listed.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false });
    expect(listed.outputSchema).toBeDefined();
    const ro = await inProcess({ roots: [root], config: { workspace: { read_only: true } } });
    writeFileSync(join(root, "ro.txt"), "x\n");
    expect((await ro.client.listTools()).tools.map((t) => t.name)).not.toContain("edit_file");
    const r = (await ro.client.callTool({ name: "edit_file", arguments: { path: "ro.txt", edits: [{ old_text: "x", new_text: "y" }] } })) as Result;
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("edit_file is not offered: the workspace is read-only (workspace.read_only is true).");
    expect(file("ro.txt").toString()).toBe("x\n");
    await ro.close();
  });
});

describe("edit_file through the binary", () => {
  const dir = tempDir("tfo-edit-e2e-");
  afterAll(() => dir.cleanup());
  test("listed, then an edit answered with the diff and structured data", async () => {
    writeFileSync(join(dir.path, "main.ts"), "console.log('hi');\r\n");
    const c = await connectBinary({ cwd: dir.path, args: ["--root", dir.path] });
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name)).toContain("edit_file");
      const r = (await c.client.callTool({ name: "edit_file", arguments: { path: "main.ts", edits: [{ old_text: "'hi'", new_text: "'hello'" }] } })) as Result;
      expect(textOf(r)).toBe("--- main.ts\n+++ main.ts\n@@ -1 +1 @@\n-console.log('hi');\n+console.log('hello');\n");
      expect(r.structuredContent).toMatchObject({ path: "main.ts", edits_applied: 1, dry_run: false, bytes_written: 23 });
      expect(readFileSync(join(dir.path, "main.ts"), "utf8")).toBe("console.log('hello');\r\n");
    } finally {
      await c.close();
    }
  });
});
