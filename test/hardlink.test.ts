// Hard links lead outside (issue 16, finding 4): a name inside the root may be a second
// name of a file outside it. Such a file is neither read nor changed in place unless
// workspace.allow_hardlinks is true; replacing it (a new file renamed over the name) is allowed.
// A content search does not match it either: a match would say what the outside file holds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileTemplate } from "../src/resources/file.ts";
import { directCall, testWorkspace } from "./helpers/direct.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";

type Result = { content: { type: string; text: string }[]; isError?: boolean };

const base = tempDir("tfo-hardlink-");
const root = join(base.path, "ws");
const outside = join(base.path, "outside");
const SECRET = "outside secret\n";
const refusal = (verb: string) =>
  `notes.txt has 2 hard links; one may be a file outside the workspace, so it is not ${verb}. Set workspace.allow_hardlinks: true to allow it.`;

beforeAll(() => {
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), SECRET);
  linkSync(join(outside, "secret.txt"), join(root, "notes.txt"));
  writeFileSync(join(root, "plain.txt"), "plain\n");
});
afterAll(() => base.cleanup());

describe("a hard link inside the root to a file outside", () => {
  test("read_file, append and the file:/// resource are refused and say why; the outside file is unchanged", async () => {
    const s = await inProcess({ roots: [root] });
    try {
      const call = (name: string, args: Record<string, unknown>) => s.client.callTool({ name, arguments: args }) as Promise<Result>;
      const read = await call("read_file", { path: "notes.txt" });
      expect(read.isError).toBe(true);
      expect(read.content[0]!.text).toBe(refusal("read"));
      const ranged = await call("read_file", { path: "notes.txt", head: 1 });
      expect(ranged.content[0]!.text).toBe(refusal("read"));

      const append = await call("write_file", { path: "notes.txt", content: "more\n", append: true });
      expect(append.isError).toBe(true);
      expect(append.content[0]!.text).toStartWith(refusal("appended to"));
      expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe(SECRET);

      await expect(s.client.readResource({ uri: `file://${root}/notes.txt` })).rejects.toThrow(refusal("read"));

      // Other files are unaffected.
      expect((await call("read_file", { path: "plain.txt" })).content[0]!.text).toBe("plain\n");
    } finally {
      await s.close();
    }
  });

  test("replacing it writes a new file inside and leaves the outside file as it was", async () => {
    const s = await inProcess({ roots: [root] });
    try {
      linkSync(join(outside, "secret.txt"), join(root, "replace-me.txt"));
      const r = (await s.client.callTool({ name: "write_file", arguments: { path: "replace-me.txt", content: "new\n" } })) as Result;
      expect(r.isError).toBeFalsy();
      expect(readFileSync(join(root, "replace-me.txt"), "utf8")).toBe("new\n");
      expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe(SECRET);
      expect(readdirSync(outside)).toEqual(["secret.txt"]);
    } finally {
      await s.close();
    }
  });

  test("with workspace.allow_hardlinks true it is read and appended to", async () => {
    const s = await inProcess({ roots: [root], config: { workspace: { allow_hardlinks: true } } });
    try {
      const call = (name: string, args: Record<string, unknown>) => s.client.callTool({ name, arguments: args }) as Promise<Result>;
      const read = await call("read_file", { path: "notes.txt" });
      expect(read.isError).toBeFalsy();
      expect(read.content[0]!.text).toBe(SECRET);
      const resource = await s.client.readResource({ uri: `file://${root}/notes.txt` });
      expect((resource.contents[0] as { text: string }).text).toBe(SECRET);
      const append = await call("write_file", { path: "notes.txt", content: "more\n", append: true });
      expect(append.isError).toBeFalsy();
      expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe(`${SECRET}more\n`);
    } finally {
      writeFileSync(join(outside, "secret.txt"), SECRET);
      await s.close();
    }
  });

  test.each(["openat2", "openat", "realpath"] as const)("search_files by content under the %s guard: not matched (that would tell what the outside file holds), unless allow_hardlinks", async (confine) => {
    const matches = async (allowHardlinks: boolean, args: Record<string, unknown>) => {
      const r = await directCall(testWorkspace([root], { confine, allowHardlinks }))("search_files", args);
      expect(r.isError).toBeFalsy();
      return JSON.parse(r.content[0]!.text).matches;
    };
    expect(await matches(false, { pattern: "*", content: "outside secret" })).toEqual([]);
    expect(await matches(false, { pattern: "*", content: "plain|outside secret" })).toEqual(["plain.txt"]);
    // Its name is inside, and is found by name.
    expect(await matches(false, { pattern: "notes.txt" })).toEqual(["notes.txt"]);
    expect(await matches(true, { pattern: "*", content: "outside secret" })).toEqual(["notes.txt"]);
  });

  test("search_files by content through the server skips it too", async () => {
    const s = await inProcess({ roots: [root] });
    try {
      const r = (await s.client.callTool({ name: "search_files", arguments: { pattern: "*", content: "secret" } })) as Result & { structuredContent: { matches: string[] } };
      expect(r.structuredContent.matches).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test.each(["openat2", "openat", "realpath"] as const)("under the %s guard too: refused, and read with allow_hardlinks", async (confine) => {
    const call = directCall(testWorkspace([root], { confine }));
    expect((await call("read_file", { path: "notes.txt" })).content[0]!.text).toBe(refusal("read"));
    expect((await call("write_file", { path: "notes.txt", content: "more\n", append: true })).content[0]!.text).toStartWith(refusal("appended to"));
    const resource = fileTemplate.read(`file://${root}/notes.txt`, { path: join(root, "notes.txt") }, { workspace: testWorkspace([root], { confine }) } as never);
    await expect(resource).rejects.toThrow(refusal("read"));
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe(SECRET);
    const allowed = directCall(testWorkspace([root], { confine, allowHardlinks: true }));
    expect((await allowed("read_file", { path: "notes.txt" })).content[0]!.text).toBe(SECRET);
  });
});
