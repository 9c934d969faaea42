// Every tool through the real server wiring, in-process (fast), against real files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

type Result = { content: { type: string; text: string }[]; structuredContent?: any; _meta?: any; isError?: boolean };

const base = tempDir();
const root = join(base.path, "ws");
const outside = join(base.path, "outside");
let call: (name: string, args?: Record<string, unknown>) => Promise<Result>;
let close: () => Promise<void>;

beforeAll(async () => {
  mkdirSync(join(root, "src", "deep", "deeper"), { recursive: true });
  mkdirSync(join(root, ".git"), { recursive: true });
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, "README.md"), "# Title\nline 2\nline 3\n");
  writeFileSync(join(root, "src", "a.ts"), "export const a = 1;\n");
  writeFileSync(join(root, "src", "b.js"), "const needle = 2;\n");
  writeFileSync(join(root, "src", "deep", "c.ts"), "needle\n");
  writeFileSync(join(root, "src", "deep", "deeper", "d.ts"), "d\n");
  writeFileSync(join(root, ".git", "config.ts"), "git");
  writeFileSync(join(root, "node_modules", "pkg", "index.ts"), "needle");
  writeFileSync(join(root, ".hidden"), "h");
  writeFileSync(join(root, "image.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]));
  writeFileSync(join(root, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  writeFileSync(join(root, "euro.txt"), "€€€");
  writeFileSync(join(root, "no-newline.txt"), "a\nb\nc");
  writeFileSync(join(outside, "secret.txt"), "top secret");
  symlinkSync(outside, join(root, "escape"));
  const s = await inProcess({ roots: [root], config: { workspace: { max_read_bytes: 1000, max_write_bytes: 100, max_results: 50 } } });
  call = (name, args = {}) => s.client.callTool({ name, arguments: args }) as Promise<Result>;
  close = s.close;
});
afterAll(async () => {
  await close();
  base.cleanup();
});

const text = (r: Result) => r.content[0]!.text;

describe("echo", () => {
  test("echoes as upstream", async () => {
    expect(text(await call("echo", { message: "hi there" }))).toBe("Echo: hi there");
  });
  test("missing argument is an isError result naming it", async () => {
    const r = await call("echo", {});
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("Invalid arguments for echo: message: missing (it is required).");
  });
  test("wrong type is named", async () => {
    const r = await call("echo", { message: 5 });
    expect(text(r)).toBe("Invalid arguments for echo: message: expected string, got 5.");
  });
});

describe("read_file", () => {
  test("whole file: the file's own text is the only content, facts in _meta, no structuredContent", async () => {
    const r = await call("read_file", { path: "README.md" });
    expect(r.content).toEqual([{ type: "text", text: "# Title\nline 2\nline 3\n" }]);
    expect(r.structuredContent).toBeUndefined();
    expect(r._meta).toEqual({ path: "README.md", encoding: "utf-8", size: 22, start: 0, end: 22, truncated: false });
  });
  test.each([
    [{ head: 1 }, "# Title\n"],
    [{ head: 2 }, "# Title\nline 2\n"],
    [{ head: 10 }, "# Title\nline 2\nline 3\n"],
    [{ tail: 1 }, "line 3\n"],
    [{ tail: 2 }, "line 2\nline 3\n"],
    [{ tail: 10 }, "# Title\nline 2\nline 3\n"],
    [{ offset: 2, length: 5 }, "Title"],
    [{ offset: 15 }, "line 3\n"],
    [{ offset: 999 }, ""],
  ])("range %p", async (range, want) => {
    expect(text(await call("read_file", { path: "README.md", ...range }))).toBe(want);
  });
  test("tail without a final newline", async () => {
    expect(text(await call("read_file", { path: "no-newline.txt", tail: 2 }))).toBe("b\nc");
  });
  test("byte ranges never split a UTF-8 character", async () => {
    expect(text(await call("read_file", { path: "euro.txt", offset: 1, length: 6 }))).toBe("€");
  });
  test("binary refused with its kind and size; base64 gives the bytes", async () => {
    const r = await call("read_file", { path: "image.png" });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('image.png looks like a binary file (PNG image, 10 bytes); read_file returns text. Use encoding "base64" to get its bytes.');
    expect(text(await call("read_file", { path: "image.png", encoding: "base64" }))).toBe("iVBORw0KGgoAAA==");
  });
  test("Python's codec names work (the Python server took any codec); an unknown one is refused with the list", async () => {
    expect(text(await call("read_file", { path: "latin1.txt", encoding: "latin-1" }))).toBe("café");
    expect(text(await call("read_file", { path: "latin1.txt", encoding: "cp1252" }))).toBe("café");
    const r = await call("read_file", { path: "latin1.txt", encoding: "klingon" });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('encoding: unknown encoding "klingon"; use utf-8 (default), latin-1');
  });
  test("invalid UTF-8 is an error with a way out; latin1 reads it", async () => {
    const r = await call("read_file", { path: "latin1.txt" });
    expect(text(r)).toContain("not valid UTF-8 (first bad byte at offset 3)");
    expect(text(await call("read_file", { path: "latin1.txt", encoding: "latin1" }))).toBe("café");
  });
  test("over the read limit: refused whole, readable by range", async () => {
    writeFileSync(join(root, "big.txt"), `${"x".repeat(2000)}\nlast line\n`);
    const r = await call("read_file", { path: "big.txt" });
    expect(text(r)).toBe("big.txt is 2011 bytes, over the read limit of 1000 bytes (workspace.max_read_bytes). Read part of it with head or tail (lines) or offset and length (bytes).");
    expect(text(await call("read_file", { path: "big.txt", tail: 1 }))).toBe("last line\n");
    const head = await call("read_file", { path: "big.txt", head: 1 });
    expect(head._meta.truncated).toBe(true);
    expect(text(head)).toHaveLength(1000);
    expect(head.content[1]?.text).toBe("[big.txt: bytes 0-1000 of 2011; cut at the read limit of 1000 bytes (workspace.max_read_bytes)]");
  });
  test.each([
    [{ path: "src" }, "src is a directory; use list_directory to see what it holds."],
    [{ path: "missing.txt" }, "File not found: missing.txt. Use list_directory or search_files to find it."],
    [{ path: "escape/secret.txt" }, "leads outside the workspace through a symlink"],
    [{ path: "../outside/secret.txt" }, "is outside the workspace"],
    [{ path: "README.md", head: 1, tail: 1 }, "give head or tail, not both"],
    [{ path: "README.md", head: 1, offset: 1 }, "not both"],
    [{ path: "README.md", head: 0 }, "head: Invalid value"],
    [{ path: "README.md", encoding: "klingon" }, 'encoding: unknown encoding "klingon"'],
  ])("refuses %p", async (args, message) => {
    const r = await call("read_file", args);
    expect(r.isError).toBe(true);
    expect(text(r)).toContain(message);
  });
});

describe("write_file", () => {
  test("creates, overwrites atomically keeping the mode, leaves no temp files", async () => {
    let r = await call("write_file", { path: "out.txt", content: "one" });
    expect(r.structuredContent).toEqual({ path: "out.txt", bytes_written: 3, created: true, appended: false });
    chmodSync(join(root, "out.txt"), 0o600);
    r = await call("write_file", { path: "out.txt", content: "two ünï" });
    // Upstream's sentence; its number was characters, given in a second block when they differ.
    expect(text(r)).toBe("Successfully wrote 9 bytes to out.txt");
    expect(r.content[1]?.text).toBe("(7 characters)");
    expect(readFileSync(join(root, "out.txt"), "utf8")).toBe("two ünï");
    expect(statSync(join(root, "out.txt")).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).filter((n) => n.includes(".tfo-"))).toEqual([]);
  });
  test("a path through a file is an error result that says so, not an unexpected failure", async () => {
    const r = await call("write_file", { path: "README.md/x/y.txt", content: "x", create_dirs: true });
    expect(r.isError).toBe(true);
    expect(text(r)).not.toContain("unexpectedly");
    const plain = await call("write_file", { path: "README.md/x/y.txt", content: "x" });
    expect(text(plain)).not.toContain("unexpectedly");
  });
  test("append adds to the end", async () => {
    await call("write_file", { path: "log.txt", content: "a\n" });
    const r = await call("write_file", { path: "log.txt", content: "b\n", append: true });
    expect(r.structuredContent.appended).toBe(true);
    expect(text(r)).toBe("Successfully appended 2 bytes to log.txt");
    expect(r.content).toHaveLength(1);
    expect(readFileSync(join(root, "log.txt"), "utf8")).toBe("a\nb\n");
  });
  test("missing folder needs create_dirs", async () => {
    const r = await call("write_file", { path: "new/sub/f.txt", content: "x" });
    expect(text(r)).toBe("Folder new/sub does not exist. Set create_dirs to true to create it.");
    await call("write_file", { path: "new/sub/f.txt", content: "x", create_dirs: true });
    expect(readFileSync(join(root, "new/sub/f.txt"), "utf8")).toBe("x");
  });
  test.each([
    [{ path: "big.out", content: "x".repeat(101) }, "Content is 101 bytes, over the write limit of 100 bytes (workspace.max_write_bytes)."],
    [{ path: "src", content: "x" }, "src is a directory; give a file path."],
    [{ path: "escape/new.txt", content: "x" }, "through a symlink"],
    [{ path: "/tmp/tfo-evil.txt", content: "x" }, "outside the workspace"],
    [{ path: "README.md/x", content: "x" }, "README.md is a file, not a folder."],
    [{ path: ".", content: "x" }, "is the workspace root folder, not a file."],
  ])("refuses %p", async (args, message) => {
    const r = await call("write_file", args);
    expect(r.isError).toBe(true);
    expect(text(r)).toContain(message);
  });
  test("nothing was written outside", () => {
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    expect(existsSync("/tmp/tfo-evil.txt")).toBe(false);
  });
});

describe("list_directory", () => {
  test("upstream shape, sorted, with sizes and hidden files", async () => {
    const r = await call("list_directory", { path: "src" });
    expect(JSON.parse(text(r))).toEqual([
      { name: "a.ts", type: "file", size: 20 },
      { name: "b.js", type: "file", size: 18 },
      { name: "deep", type: "directory" },
    ]);
    expect(r.structuredContent.count).toBe(3);
    const top = JSON.parse(text(await call("list_directory", {}))) as { name: string }[];
    expect(top.map((e) => e.name)).toContain(".hidden");
    const visible = JSON.parse(text(await call("list_directory", { include_hidden: false }))) as { name: string }[];
    expect(visible.map((e) => e.name)).not.toContain(".hidden");
  });
  test("recursive gives paths, lists but does not enter .git and node_modules, respects max_depth", async () => {
    const all = JSON.parse(text(await call("list_directory", { recursive: true }))) as { path: string; type: string }[];
    const paths = all.map((e) => e.path);
    expect(paths).toContain("src/deep/deeper/d.ts");
    expect(paths).toContain(".git");
    expect(paths).not.toContain(".git/config.ts");
    expect(paths).not.toContain("node_modules/pkg");
    expect(all.find((e) => e.path === "escape")?.type).toBe("symlink");
    expect(all.find((e) => e.path === "README.md")).toEqual({ path: "README.md", type: "file" });
    const sized = JSON.parse(text(await call("list_directory", { recursive: true, include_size: true }))) as { path: string; size?: number }[];
    expect(sized.find((e) => e.path === "src/a.ts")?.size).toBe(20);
    const shallow = JSON.parse(text(await call("list_directory", { path: "src", recursive: true, max_depth: 2 }))) as { path: string }[];
    expect(shallow.map((e) => e.path)).toEqual(["a.ts", "b.js", "deep", "deep/c.ts", "deep/deeper"]);
  });
  test("truncates at max_results and says so in a second block", async () => {
    const big = join(root, "many");
    mkdirSync(big);
    for (let i = 0; i < 60; i++) writeFileSync(join(big, `f${String(i).padStart(2, "0")}`), "");
    const r = await call("list_directory", { path: "many" });
    expect(JSON.parse(text(r))).toHaveLength(50);
    expect(r.structuredContent.truncated).toBe(true);
    expect(r.content[1]!.text).toContain("Truncated at 50 entries");
  });
  test("a file or a missing folder is a clear error", async () => {
    expect(text(await call("list_directory", { path: "README.md" }))).toBe("README.md is a file, not a folder; use read_file to read it.");
    expect(text(await call("list_directory", { path: "nope" }))).toBe("Folder not found: nope.");
    expect((await call("list_directory", { path: "escape" })).isError).toBe(true);
  });
});

describe("search_files", () => {
  test("glob on names, upstream shape, skips node_modules and .git", async () => {
    const r = await call("search_files", { pattern: "*.ts" });
    expect(JSON.parse(text(r))).toEqual({ matches: ["src/a.ts", "src/deep/c.ts", "src/deep/deeper/d.ts"], count: 3, truncated: false });
    expect(r.structuredContent.matches).toEqual(["src/a.ts", "src/deep/c.ts", "src/deep/deeper/d.ts"]);
  });
  test("glob with a slash matches paths relative to the folder", async () => {
    const r = await call("search_files", { path: "src", pattern: "deep/*.ts" });
    expect(r.structuredContent.matches).toEqual(["deep/c.ts"]);
  });
  test("content regex and exclude", async () => {
    const r = await call("search_files", { pattern: "*", content: "needle" });
    expect(r.structuredContent.matches).toEqual(["src/b.js", "src/deep/c.ts"]);
    const ex = await call("search_files", { pattern: "*.ts", exclude: ["deeper"] });
    expect(ex.structuredContent.matches).toEqual(["src/a.ts", "src/deep/c.ts"]);
  });
  test("max_results truncates and reports it", async () => {
    const r = await call("search_files", { pattern: "*", max_results: 2 });
    expect(r.structuredContent).toMatchObject({ count: 2, truncated: true });
    expect(r.content[1]!.text).toContain("Stopped at 2 matches");
  });
  test.each([
    [{ pattern: "*", content: "(" }, "content is not a valid regular expression"],
    [{ pattern: "" }, "pattern must not be empty"],
    [{ pattern: "*", path: "../outside" }, "outside the workspace"],
    [{ pattern: "*", path: "README.md" }, "is a file, not a folder to search"],
  ])("refuses %p", async (args, message) => {
    const r = await call("search_files", args);
    expect(r.isError).toBe(true);
    expect(text(r)).toContain(message);
  });
});

describe("execute_command", () => {
  test("upstream JSON text and full structured content", async () => {
    const r = await call("execute_command", { command: "echo out; echo err >&2; pwd" });
    expect(r.isError).toBeUndefined();
    expect(JSON.parse(text(r))).toEqual({ exit_code: 0, stdout: `out\n${root}\n`, stderr: "err\n" });
    expect(r.structuredContent).toMatchObject({ exit_code: 0, timed_out: false, cancelled: false, signal: null });
  });
  test("non-zero exit is an error result with the output", async () => {
    const r = await call("execute_command", { command: "echo bad >&2; exit 3" });
    expect(r.isError).toBe(true);
    expect(JSON.parse(text(r))).toEqual({ exit_code: 3, stdout: "", stderr: "bad\n" });
  });
  test("runs in working_dir inside, refuses outside", async () => {
    expect(JSON.parse(text(await call("execute_command", { command: "pwd", working_dir: "src" }))).stdout).toBe(`${join(root, "src")}\n`);
    expect(text(await call("execute_command", { command: "pwd", working_dir: "../outside" }))).toContain("outside the workspace");
    expect(text(await call("execute_command", { command: "pwd", working_dir: "README.md" }))).toBe("working_dir README.md is not an existing folder.");
  });
  test("timeout kills the command and its background children", async () => {
    const marker = `tfo-sleep-${process.pid}-${Date.now() % 100000}`;
    const started = performance.now();
    const r = await call("execute_command", { command: `sh -c 'exec -a ${marker} sleep 60' & sleep 60`, timeout: 0.5 });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    expect(r._meta).toMatchObject({ exit_code: null, timed_out: true });
    expect(r.content[0]!.text).toBe("Command timed out after 0.5s");
    expect(JSON.parse(r.content[1]!.text.split("\nThe command")[0]!)).toMatchObject({ exit_code: null, stdout: "" });
    const running = () => Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim();
    await until(() => running() === "", 5000, 20);
    expect(running()).toBe("");
  });
  test("background children are cleaned up when the shell exits", async () => {
    const marker = `tfo-bg-${process.pid}-${Date.now() % 100000}`;
    const r = await call("execute_command", { command: `(exec -a ${marker} sleep 60) & echo started` });
    expect(JSON.parse(text(r)).stdout).toBe("started\n");
    const running = () => Bun.spawnSync(["pgrep", "-f", marker]).stdout.toString().trim();
    await until(() => running() === "", 5000, 20);
    expect(running()).toBe("");
  });
  test("output is capped with a marker", async () => {
    const s = await inProcess({ roots: [root], config: { commands: { max_output_bytes: 100 } } });
    const r = (await s.client.callTool({ name: "execute_command", arguments: { command: "head -c 5000 /dev/zero | tr '\\0' x" } })) as Result;
    expect(r.structuredContent.stdout_truncated).toBe(true);
    expect(r.structuredContent.stdout).toStartWith("x".repeat(100));
    expect(r.structuredContent.stdout).toContain("[output truncated: 5000 bytes, first 100 kept");
    await s.close();
  });
  test("secrets do not reach the command", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-should-not-leak";
    process.env.TELEMETRYFLOW_API_KEY_SECRET = "also-secret";
    try {
      const r = await call("execute_command", { command: "env" });
      expect(text(r)).not.toContain("sk-should-not-leak");
      expect(text(r)).not.toContain("also-secret");
      expect(text(r)).toContain("PATH=");
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
      delete process.env.TELEMETRYFLOW_API_KEY_SECRET;
    }
  });
  test("deny list, allow list and disabled commands", async () => {
    const s = await inProcess({ roots: [root], config: { commands: { deny: ["rm"], allow: ["echo", "rm"] } } });
    const run = async (command: string) => text((await s.client.callTool({ name: "execute_command", arguments: { command } })) as Result);
    expect(await run("rm -rf src")).toBe('Command refused: "rm -rf src" matches the deny pattern "rm" (commands.deny).');
    expect(await run("ls")).toBe('Command refused: "ls" is not in the allow list (commands.allow: echo, rm).');
    expect(JSON.parse(await run("echo ok")).stdout).toBe("ok\n");
    expect(existsSync(join(root, "src"))).toBe(true);
    await s.close();
    const off = await inProcess({ roots: [root], config: { commands: { enabled: false } } });
    const listed = await off.client.listTools();
    expect(listed.tools.map((t) => t.name)).not.toContain("execute_command");
    await off.close();
  });
});

describe("system_info", () => {
  test("upstream keys plus ours", async () => {
    const r = await call("system_info");
    const info = JSON.parse(text(r));
    for (const key of ["platform", "platform_release", "platform_version", "architecture", "processor", "hostname", "cwd", "user"]) {
      expect(info).toHaveProperty(key);
    }
    expect(info.platform).toBe("Linux");
    expect(info.cpu_count).toBeGreaterThan(0);
    expect(info.workspace_roots).toEqual([root]);
    expect(r.structuredContent).toEqual(info);
  });
});

describe("read-only workspace", () => {
  test("writing tools are not listed, a call says why; reading works", async () => {
    const s = await inProcess({ roots: [root], config: { workspace: { read_only: true } } });
    const listed = (await s.client.listTools()).tools.map((t) => t.name);
    expect(listed).not.toContain("write_file");
    expect(listed).not.toContain("execute_command");
    const r = (await s.client.callTool({ name: "write_file", arguments: { path: "ro.txt", content: "x" } })) as Result;
    expect(r.isError).toBe(true);
    expect(text(r)).toBe("write_file is not offered: the workspace is read-only (workspace.read_only is true).");
    const c = (await s.client.callTool({ name: "execute_command", arguments: { command: "touch ro2.txt" } })) as Result;
    expect(c.isError).toBe(true);
    expect(existsSync(join(root, "ro.txt")) || existsSync(join(root, "ro2.txt"))).toBe(false);
    expect(((await s.client.callTool({ name: "read_file", arguments: { path: "README.md" } })) as Result).isError).toBeUndefined();
    await s.close();
  });
});

describe("unreadable folders", () => {
  test("are counted by the walk and named in the note, not silently dropped", async () => {
    const { walk, notes, unreadableNote } = await import("../src/workspace/walk.ts");
    // (Permissions cannot hide a folder from root, who runs CI; a vanished folder can.)
    const r = await walk(join(root, "vanished"), { maxDepth: 5, includeHidden: true, skipDirs: new Set() }, () => {});
    expect(r.unreadable).toBe(1);
    expect(notes(false, unreadableNote(2))).toBe("2 folders could not be read (permission denied or removed meanwhile) and are left out.");
    expect(notes(false, unreadableNote(0))).toBeUndefined();
    expect(notes("a.", unreadableNote(1))).toBe("a. 1 folder could not be read (permission denied or removed meanwhile) and is left out.");
  });
});
