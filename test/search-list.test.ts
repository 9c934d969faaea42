// search_files and list_directory: truncated answers are the same on every call (issue 11:
// the parallel walk let whichever folders were read first fill max_results), in tree order;
// and the file:/// template: its completion values round-trip through the SDK's UriTemplate,
// and source files are served with a text MIME type.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { joinRelative, walk } from "../src/workspace/walk.ts";
import { inProcess } from "./helpers/inproc.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/wait.ts";

type Result = { content: { type: string; text: string }[]; structuredContent?: any; isError?: boolean };
type Server = Awaited<ReturnType<typeof inProcess>>;

const base = tempDir("tfo-search-list-");
const ws = join(base.path, "ws");
const tree = join(ws, "tree");
const order = join(ws, "order");
const files = join(ws, "files");
const LIMIT = 50;
let small: Server;
let large: Server;
const call = (s: Server, name: string, args: Record<string, unknown>) => s.client.callTool({ name, arguments: args }) as Promise<Result>;

beforeAll(async () => {
  // 3,000 files in 200 folders; every seventh says "needle".
  for (let d = 0; d < 40; d++) {
    for (let s = 0; s < 5; s++) {
      const dir = join(tree, `d${d}`, `s${s}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 15; f++) writeFileSync(join(dir, `f${f}.txt`), (d + s + f) % 7 === 0 ? "a needle here\n" : "hay\n");
    }
  }
  // Names below "/" ("-", ".") sort before it as text, but a folder's contents come right after it.
  mkdirSync(join(order, "a"), { recursive: true });
  writeFileSync(join(order, "a", "x.txt"), "needle");
  writeFileSync(join(order, "a-b.txt"), "needle");
  writeFileSync(join(order, "a.txt"), "needle");
  writeFileSync(join(order, "B.txt"), "needle");
  mkdirSync(files);
  writeFileSync(join(base.path, "outside.txt"), "no");
  small = await inProcess({ roots: [ws], config: { workspace: { max_results: LIMIT } } });
  large = await inProcess({ roots: [ws], config: { workspace: { max_results: 100_000 } } });
}, 60_000);
afterAll(async () => {
  await small.close();
  await large.close();
  base.cleanup();
});

/** The distinct answers of `times` calls (their JSON text). */
async function answers(s: Server, name: string, args: Record<string, unknown>, times = 20) {
  const seen = new Set<string>();
  for (let i = 0; i < times; i++) {
    const r = await call(s, name, args);
    expect(r.isError).toBeUndefined();
    seen.add(r.content[0]!.text);
  }
  return [...seen];
}

describe("a truncated answer is the same on every call, and is the start of the whole answer", () => {
  test("list_directory, recursive, over 3,000 files with max_results 50", async () => {
    const seen = await answers(small, "list_directory", { path: "tree", recursive: true });
    expect(seen).toHaveLength(1);
    const truncated = JSON.parse(seen[0]!);
    expect(truncated).toHaveLength(LIMIT);
    const whole = JSON.parse((await call(large, "list_directory", { path: "tree", recursive: true })).content[0]!.text);
    expect(whole).toHaveLength(3000 + 200 + 40);
    expect(truncated).toEqual(whole.slice(0, LIMIT));
    expect(truncated.slice(0, 4)).toEqual([
      { path: "d0", type: "directory" },
      { path: "d0/s0", type: "directory" },
      { path: "d0/s0/f0.txt", type: "file" },
      { path: "d0/s0/f1.txt", type: "file" },
    ]);
  });

  test("list_directory, plain, with sizes", async () => {
    const many = join(ws, "many");
    mkdirSync(many);
    for (let i = 0; i < 300; i++) writeFileSync(join(many, `n${i}`), "x".repeat(i));
    const seen = await answers(small, "list_directory", { path: "many" });
    expect(seen).toHaveLength(1);
    const whole = JSON.parse((await call(large, "list_directory", { path: "many" })).content[0]!.text);
    expect(JSON.parse(seen[0]!)).toEqual(whole.slice(0, LIMIT));
    expect(whole[0]).toEqual({ name: "n0", type: "file", size: 0 });
  });

  test("search_files by name, max_results 20", async () => {
    const seen = await answers(small, "search_files", { path: "tree", pattern: "*.txt", max_results: 20 });
    expect(seen).toHaveLength(1);
    const whole = JSON.parse((await call(large, "search_files", { path: "tree", pattern: "*.txt" })).content[0]!.text);
    expect(whole.count).toBe(3000);
    expect(JSON.parse(seen[0]!)).toEqual({ matches: whole.matches.slice(0, 20), count: 20, truncated: true });
  });

  test("search_files by content, over more candidates than one batch to the worker", async () => {
    const seen = await answers(small, "search_files", { path: "tree", pattern: "*", content: "needle", max_results: 20 });
    expect(seen).toHaveLength(1);
    const whole = JSON.parse((await call(large, "search_files", { path: "tree", pattern: "*", content: "needle" })).content[0]!.text);
    expect(whole.count).toBe(428);
    expect(whole.truncated).toBe(false);
    expect(JSON.parse(seen[0]!)).toEqual({ matches: whole.matches.slice(0, 20), count: 20, truncated: true });
    // Exactly as many as exist is not truncated.
    const exact = await call(large, "search_files", { path: "tree", pattern: "*", content: "needle", max_results: 428 });
    expect(exact.structuredContent).toMatchObject({ count: 428, truncated: false });
  });

  test("tree order: a folder's contents right after it, names sorted by code unit", async () => {
    const list = await call(large, "list_directory", { path: "order", recursive: true });
    expect(JSON.parse(list.content[0]!.text).map((e: { path: string }) => e.path)).toEqual(["B.txt", "a", "a/x.txt", "a-b.txt", "a.txt"]);
    const byName = await call(large, "search_files", { path: "order", pattern: "*.txt" });
    expect(byName.structuredContent.matches).toEqual(["B.txt", "a/x.txt", "a-b.txt", "a.txt"]);
    const byContent = await call(large, "search_files", { path: "order", pattern: "*", content: "needle", max_results: 3 });
    expect(byContent.structuredContent).toMatchObject({ matches: ["B.txt", "a/x.txt", "a-b.txt"], truncated: true });
  });
});

describe("the walk under them", () => {
  const counting = () => {
    const opened: string[] = [];
    const open = (rel: string) => {
      opened.push(rel);
      return { path: rel ? join(tree, rel) : tree, close() {} };
    };
    return { opened, open };
  };
  const options = { maxDepth: Number.POSITIVE_INFINITY, includeHidden: true, skipDirs: new Set<string>(), concurrency: 4, readAhead: 8 };

  test("a visit that returns a promise holds it; meanwhile at most readAhead folders are read ahead", async () => {
    const { opened, open } = counting();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const visited: string[] = [];
    const walking = walk(tree, { ...options, open }, (parent, name) => {
      visited.push(joinRelative(parent, name));
      if (visited.length === 1) return held;
    });
    expect(await until(() => opened.length === 1 + 8)).toBe(true);
    // Nothing more happens until the visit lets go (a negative: only time can show it).
    await Bun.sleep(100);
    expect([opened.length, visited]).toEqual([9, ["d0"]]);
    release();
    await walking;
    expect(visited).toHaveLength(3000 + 200 + 40);
    expect(new Set(opened).size).toBe(opened.length);
  });

  test("a walk stopped early has read only the folders near the start, and is done reading when it returns", async () => {
    const { opened, open } = counting();
    let reading = 0;
    let visits = 0;
    const result = await walk(
      tree,
      {
        ...options,
        open: (rel) => {
          reading++;
          const folder = open(rel);
          return { ...folder, close: () => reading-- };
        },
      },
      () => ++visits <= 30 && undefined,
    );
    expect(result).toMatchObject({ stopped: true, cancelled: false });
    expect(reading).toBe(0);
    // The first 30 entries lie in d0 and d0/s0, d0/s1; reads ahead are bounded and nearest first.
    expect(opened.length).toBeLessThanOrEqual(1 + 8 + 4);
    expect(opened.slice(0, 2)).toEqual(["", "d0"]);
    expect(opened).toContain("d0/s1");
    expect(opened.filter((rel) => rel.startsWith("d3"))).toEqual([]);
  });
});

describe("file:/// resource", () => {
  const template = new UriTemplate("file:///{path}");
  const complete = async (value: string) =>
    (await large.client.complete({ ref: { type: "ref/resource", uri: "file:///{path}" }, argument: { name: "path", value } })).completion.values;

  beforeAll(() => {
    writeFileSync(join(files, "lib.rs"), "fn main() {}\n");
    writeFileSync(join(files, "space name.py"), "print('hi')\n");
  });

  test("a completion value, expanded by the SDK's UriTemplate, reads back", async () => {
    const { resourceTemplates } = await large.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain("file:///{path}");
    // Nothing typed yet: the roots, without the slash the template already has.
    const roots = await complete("");
    expect(roots).toEqual([ws.slice(1)]);
    const inside = await complete(`${roots[0]}/files/`);
    expect(inside).toEqual([`${ws.slice(1)}/files/lib.rs`, `${ws.slice(1)}/files/space name.py`]);
    for (const value of inside) {
      const uri = template.expand({ path: value });
      expect(uri).toStartWith(`file:///${ws.slice(1).replaceAll("/", "%2F")}%2Ffiles%2F`);
      const read = await large.client.readResource({ uri });
      expect(read.contents[0]).toMatchObject({ uri, text: value.endsWith(".rs") ? "fn main() {}\n" : "print('hi')\n" });
    }
  });

  test("a value typed with its leading slash keeps it, and its expansion reads back too", async () => {
    const values = await complete(`${files}/li`);
    expect(values).toEqual([`${files}/lib.rs`]);
    const uri = template.expand({ path: values[0]! });
    expect(uri).toStartWith("file:///%2F");
    expect((await large.client.readResource({ uri })).contents[0]).toMatchObject({ text: "fn main() {}\n" });
  });

  test("the encoded form is held to the same gate: outside the roots is refused", async () => {
    const uri = template.expand({ path: join(base.path, "outside.txt").slice(1) });
    await expect(large.client.readResource({ uri })).rejects.toThrow("outside the workspace");
    const dotted = template.expand({ path: `${ws.slice(1)}/files/../../outside.txt` });
    await expect(large.client.readResource({ uri: dotted })).rejects.toThrow("outside the workspace");
  });

  test.each([
    ["lib.rs", "text/x-rust", "fn main() {}\n"],
    ["main.py", "text/x-python", "print(1)\n"],
    ["index.ts", "text/x-typescript", "export {};\n"],
    ["main.go", "text/x-go", "package main\n"],
    ["query.sql", "text/x-sql", "select 1;\n"],
    ["main.c", "text/x-c", "int main;\n"],
    ["notes.unknownext", "text/plain", "plain words\n"],
    ["Makefile", "text/plain", "all:\n"],
    ["disk.vhd", "text/plain", "entity e is end;\n"],
    ["data.json", "application/json", '{"a":1}'],
    ["README.md", "text/markdown", "# Title\n"],
    ["page.html", "text/html", "<p>hi</p>\n"],
    ["config.yaml", "text/yaml", "a: 1\n"],
  ])("%s is served as %s", async (name, mimeType, text) => {
    writeFileSync(join(files, name), text);
    const read = await large.client.readResource({ uri: `file://${files}/${name}` });
    expect(read.contents[0]).toMatchObject({ mimeType, text });
  });

  test("binary files keep their type, and a binary file with a source name is not called text", async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    writeFileSync(join(files, "image.png"), png);
    writeFileSync(join(files, "odd.rs"), png);
    expect((await large.client.readResource({ uri: `file://${files}/image.png` })).contents[0]).toMatchObject({ mimeType: "image/png", blob: png.toString("base64") });
    expect((await large.client.readResource({ uri: `file://${files}/odd.rs` })).contents[0]).toMatchObject({ mimeType: "application/octet-stream" });
  });
});
