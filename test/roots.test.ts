// Client roots narrow the workspace (never widen it), over the real binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ListRootsRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expandHome, narrowRoots, rootsWithClient, startupRoots } from "../src/workspace/roots.ts";
import { connectBinary, resourceText, textOf } from "./helpers/client.ts";
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
  const logged: string[] = [];

  beforeAll(async () => {
    mkdirSync(sub, { recursive: true });
    mkdirSync(other);
    writeFileSync(join(sub, "in.txt"), "in");
    writeFileSync(join(other, "out.txt"), "out");
    roots = [sub, "/etc"];
    client = new Client({ name: "rooted", version: "1" }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.map((r) => ({ uri: pathToFileURL(r).href, name: "r" })) }));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(String(n.params.data));
    });
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
    await until(async () => !(await read(join(other, "out.txt"))).isError);
    expect(textOf(await read(join(other, "out.txt")))).toBe("out");
    expect((await read(join(sub, "in.txt"))).isError).toBe(true);
  });
  test("roots wholly outside are ignored: the configured roots stay, and the client is told once", async () => {
    roots = ["/etc"];
    await client.sendRootsListChanged();
    await until(() => logged.some((m) => m.includes("lie outside this server's roots")));
    expect(textOf(await read(join(other, "out.txt")))).toBe("out");
    expect(textOf(await read(join(sub, "in.txt")))).toBe("in");
    expect((await read("/etc/hostname")).isError).toBe(true);
    const health = JSON.parse(resourceText(await client.readResource({ uri: "status://health" })));
    expect(health.workspace.roots).toEqual([root]);
    expect(health.workspace.why).toContain("lie outside them and were ignored");
  });
});

describe("no explicit roots", () => {
  const base = tempDir("tfo-noroot-");
  const project = join(base.path, "project");
  const home = join(base.path, "home");
  beforeAll(() => {
    mkdirSync(project);
    mkdirSync(home);
    writeFileSync(join(project, "a.txt"), "project file");
    writeFileSync(join(home, ".bashrc"), "secret");
  });
  afterAll(() => base.cleanup());

  for (const [where, cwd] of [
    ["the filesystem root", "/"],
    ["the home folder", "HOME"],
  ] as const) {
    test(`started in ${where} without --root: no workspace, every path tool and execute_command says how to fix it`, async () => {
      const c = await connectBinary({ cwd: cwd === "HOME" ? home : cwd, env: { HOME: home } });
      try {
        for (const [name, args] of [
          ["read_file", { path: join(home, ".bashrc") }],
          ["write_file", { path: join(home, "x.txt"), content: "x" }],
          ["list_directory", { path: "." }],
          ["search_files", { pattern: "*" }],
          ["execute_command", { command: "echo hi" }],
        ] as const) {
          const r = await c.client.callTool({ name, arguments: args });
          expect(r.isError).toBe(true);
          expect(textOf(r)).toContain("without --root");
          expect(textOf(r)).toContain('Add "--root", "/path/to/project" to this server\'s args');
        }
        expect(existsSync(join(home, "x.txt"))).toBe(false);
        expect(c.stderr()).toContain("No workspace: tfo-mcp was started in");
      } finally {
        await c.close();
      }
    });
  }

  test("started in / without --root, the client's roots are the workspace", async () => {
    const client = new Client({ name: "claude-ai", version: "1" }, { capabilities: { roots: {} } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: pathToFileURL(project).href }] }));
    const c = await connectBinary({ cwd: "/", env: { HOME: home }, client });
    try {
      await until(async () => !(await c.client.callTool({ name: "read_file", arguments: { path: "a.txt" } })).isError);
      expect(textOf(await c.client.callTool({ name: "read_file", arguments: { path: "a.txt" } }))).toBe("project file");
      expect((await c.client.callTool({ name: "read_file", arguments: { path: join(home, ".bashrc") } })).isError).toBe(true);
    } finally {
      await c.close();
    }
  });

  test("the advice names the client's own config once the client is known", async () => {
    const client = new Client({ name: "claude-ai", version: "1" }, { capabilities: {} });
    const c = await connectBinary({ cwd: "/", env: { HOME: home }, client });
    try {
      const r = await c.client.callTool({ name: "read_file", arguments: { path: "/etc/hostname" } });
      expect(textOf(r)).toContain("claude_desktop_config.json");
    } finally {
      await c.close();
    }
  });

  test("--root / is possible for those who mean it", async () => {
    const c = await connectBinary({ cwd: "/", env: { HOME: home }, args: ["--root", "/"] });
    try {
      expect(textOf(await c.client.callTool({ name: "read_file", arguments: { path: join(project, "a.txt") } }))).toBe("project file");
    } finally {
      await c.close();
    }
  });

  test("~ in --root is the home folder", async () => {
    const c = await connectBinary({ cwd: "/", env: { HOME: base.path }, args: ["--root", "~/project"] });
    try {
      expect(textOf(await c.client.callTool({ name: "read_file", arguments: { path: "a.txt" } }))).toBe("project file");
    } finally {
      await c.close();
    }
  });
});

describe("startupRoots and rootsWithClient (pure)", () => {
  test.each([
    [[], "/", "/home/me", []],
    [[], "/home/me", "/home/me", []],
    [[], "/home/me/app", "/home/me", ["/home/me/app"]],
    [["/srv"], "/", "/home/me", ["/srv"]],
  ])("explicit %p, cwd %p, home %p → %p", (explicit, cwd, home, want) => {
    expect(startupRoots(explicit, cwd, home).roots).toEqual(want);
  });
  test("client roots replace implicit roots, narrow explicit ones, and never empty them", () => {
    const implicit = startupRoots([], "/w/app", "/home/me");
    expect(rootsWithClient(implicit, ["/elsewhere"]).roots).toEqual(["/elsewhere"]);
    const none = startupRoots([], "/", "/home/me");
    expect(rootsWithClient(none, ["/w"]).roots).toEqual(["/w"]);
    expect(rootsWithClient(none, []).unavailable).toContain("without --root");
    const explicit = startupRoots(["/w"], "/", "/home/me");
    expect(rootsWithClient(explicit, ["/w/app"]).roots).toEqual(["/w/app"]);
    const apart = rootsWithClient(explicit, ["/elsewhere"]);
    expect(apart.roots).toEqual(["/w"]);
    expect(apart.ignored).toEqual(["/elsewhere"]);
  });
  test.each([
    ["~", "/h"],
    ["~/x", "/h/x"],
    ["a/~", "a/~"],
    ["~user/x", "~user/x"],
  ])("expandHome(%p) → %p", (input, want) => {
    expect(expandHome(input, "/h")).toBe(want);
  });
});

/** Polls until the condition holds (at most 5 s): roots arrive after initialize, asynchronously. */
async function until(condition: () => boolean | Promise<boolean>) {
  const end = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met within 5 s");
    await Bun.sleep(20);
  }
}
