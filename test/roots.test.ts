// Client roots narrow the workspace (never widen it), over the real binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { narrowRoots } from "../src/workspace/roots.ts";
import { connectBinary, textOf } from "./helpers/client.ts";
import { tempDir } from "./helpers/tmp.ts";

describe("narrowRoots (pure)", () => {
  test.each([
    [["/w"], ["/w/app"], ["/w/app"]],
    [["/w/app"], ["/w"], ["/w/app"]],
    [["/w"], ["/w"], ["/w"]],
    [["/w"], ["/elsewhere"], []],
    [["/w/app"], ["/w/app2"], []],
    [["/a", "/b"], ["/a/x", "/b", "/c"], ["/a/x", "/b"]],
    [["/w"], [], []],
  ])("configured %p, client %p → %p", (configured, client, want) => {
    expect(narrowRoots(configured, client)).toEqual(want);
  });
});

describe("roots from the client", () => {
  const base = tempDir("tfo-roots-");
  const root = join(base.path, "ws");
  const sub = join(root, "sub");
  const other = join(root, "other");
  let roots: string[] = [];
  let client: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    mkdirSync(sub, { recursive: true });
    mkdirSync(other);
    writeFileSync(join(sub, "in.txt"), "in");
    writeFileSync(join(other, "out.txt"), "out");
    roots = [sub, "/etc"];
    client = new Client({ name: "rooted", version: "1" }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.map((r) => ({ uri: pathToFileURL(r).href, name: "r" })) }));
    const c = await connectBinary({ args: ["--root", root], client });
    close = c.close;
  });
  afterAll(async () => {
    await close();
    base.cleanup();
  });
  const read = (path: string) => client.callTool({ name: "read_file", arguments: { path } });

  test("the workspace narrows to the client's root inside ours; /etc stays out", async () => {
    expect(textOf(await read(join(sub, "in.txt")))).toBe("in");
    expect(textOf(await read("in.txt"))).toBe("in");
    const outside = await read(join(other, "out.txt"));
    expect(outside.isError).toBe(true);
    expect(textOf(outside)).toContain(`paths must stay inside the workspace root ${sub}`);
    expect((await read("/etc/hostname")).isError).toBe(true);
  });
  test("roots/list_changed re-reads the roots", async () => {
    roots = [other];
    await client.sendRootsListChanged();
    await Bun.sleep(200);
    expect(textOf(await read(join(other, "out.txt")))).toBe("out");
    expect((await read(join(sub, "in.txt"))).isError).toBe(true);
  });
  test("roots wholly outside leave nothing accessible, with a message that says why", async () => {
    roots = ["/etc"];
    await client.sendRootsListChanged();
    await Bun.sleep(200);
    const r = await read(join(other, "out.txt"));
    expect(textOf(r)).toContain("the client's roots lie outside the server's configured roots");
  });
});
