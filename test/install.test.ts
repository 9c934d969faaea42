// `tfo-mcp install <client>` writes only safe set-ups: which folder each client's entry serves,
// which command it starts, and what the person is told.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClientName } from "../src/clients/config-files.ts";
import { installClient, type InstallOptions } from "../src/clients/install.ts";
import { launcherFrom, type ProcessFacts } from "../src/clients/launcher.ts";
import { binary, cleanEnv } from "./helpers/binary.ts";
import { tempDir } from "./helpers/tmp.ts";

const dirs: { cleanup(): void }[] = [];
const fresh = (prefix = "tfo-install-") => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
};
afterAll(() => {
  for (const d of dirs) d.cleanup();
});

const LAUNCHER = ["/opt/homebrew/bin/tfo-mcp"];
/** A fresh home with ~/code/app (a folder) and ~/notes.txt (a file); the config file inside it. */
function place(client: ClientName, extra: Partial<InstallOptions> = {}): InstallOptions & { home: string; file: string } {
  const home = fresh();
  mkdirSync(join(home, "code", "app"), { recursive: true });
  writeFileSync(join(home, "notes.txt"), "not a folder");
  return { client, remove: false, dryRun: false, roots: [], launcher: LAUNCHER, home, cwd: home, file: join(home, "config.json"), ...extra };
}
const written = (file: string) => JSON.parse(readFileSync(file, "utf8")).mcpServers["tfo-mcp"];

describe("with no --root, each client gets the set-up that is safe for it", () => {
  test("claude-desktop is refused, says why and what to pass, and writes nothing", async () => {
    const o = place("claude-desktop");
    const r = await installClient(o);
    expect(r.ok).toBe(false);
    const error = r.ok ? "" : r.error;
    for (const part of ["Claude Desktop starts its servers in /", "sends no roots", "--root ~/code/project", "repeat --root"]) expect(error).toContain(part);
    expect(existsSync(o.file)).toBe(false);
  });
  test.each([
    ["cursor", "${workspaceFolder}, which Cursor expands to the open folder", { command: LAUNCHER[0], args: ["serve", "--root", "${workspaceFolder}"] }, "It will serve the folder Cursor has open (${workspaceFolder})."],
    ["claude-code", "no root: Claude Code starts it in its project folder and sends that as a root", { type: "stdio", command: LAUNCHER[0], args: ["serve"] }, "It will serve the folder Claude Code is opened in."],
  ] as const)("%s writes %s", async (client, _, entry, serves) => {
    const o = place(client);
    const r = await installClient(o);
    expect(r.ok && r.message).toContain(serves);
    expect(written(o.file)).toEqual(entry);
  });
});

describe("--root values", () => {
  test.each([
    ["~/code/app", "code/app"],
    ["~", ""],
    ["code/app", "code/app"],
    ["./code/../code/app/", "code/app"],
  ])("%p is written as <home>/%s", async (root, under) => {
    const o = place("claude-desktop", { roots: [root] });
    const r = await installClient(o);
    const expected = under ? join(o.home, under) : o.home;
    expect(r.ok && r.message).toContain(`It will serve ${expected}.`);
    expect(written(o.file).args).toEqual(["serve", "--root", expected]);
  });
  test("~ in --config is expanded too", async () => {
    const o = place("cursor", { file: "~/elsewhere.json" });
    const r = await installClient(o);
    expect(r.ok && r.file).toBe(join(o.home, "elsewhere.json"));
    expect(written(join(o.home, "elsewhere.json")).args).toEqual(["serve", "--root", "${workspaceFolder}"]);
  });
  test("several roots are all written, in order", async () => {
    const o = place("cursor", { roots: ["~/code/app", "~/code"] });
    await installClient(o);
    expect(written(o.file).args).toEqual(["serve", "--root", join(o.home, "code", "app"), "--root", join(o.home, "code")]);
  });
  test.each([
    ["~/missing", (h: string) => `--root ~/missing (${h}/missing) does not exist`],
    ["missing", (h: string) => `--root missing (${h}/missing) does not exist`],
    ["notes.txt", (h: string) => `--root notes.txt (${h}/notes.txt) is not a folder`],
    ["", () => "--root needs a folder"],
  ])("%p is refused and nothing is written", async (root, says) => {
    for (const client of ["claude-desktop", "claude-code", "cursor"] as const) {
      const o = place(client, { roots: ["~/code/app", root] });
      const r = await installClient(o);
      expect(r.ok ? r.message : r.error).toContain(says(o.home));
      expect(existsSync(o.file)).toBe(false);
    }
  });
});

describe("what the person is told", () => {
  test("Added (new file), Updated with a backup, unchanged, Added beside other servers, Removed", async () => {
    const o = place("claude-desktop", { roots: ["~/code/app"] });
    const app = join(o.home, "code", "app");
    const added = await installClient(o);
    expect(added.ok && added.message).toBe(
      `Added "tfo-mcp" to ${o.file} (a new file): /opt/homebrew/bin/tfo-mcp serve --root ${app}. It will serve ${app}. Restart Claude Desktop to load it.`,
    );

    const updated = await installClient({ ...o, roots: ["~/code"] });
    const code = join(o.home, "code");
    expect(updated.ok && updated.message).toBe(
      `Updated "tfo-mcp" in ${o.file}: /opt/homebrew/bin/tfo-mcp serve --root ${code}. It will serve ${code}. Backup: ${o.file}.tfo-mcp-backup. Restart Claude Desktop to load it.`,
    );
    expect(JSON.parse(readFileSync(`${o.file}.tfo-mcp-backup`, "utf8")).mcpServers["tfo-mcp"].args).toEqual(["serve", "--root", app]);

    const same = await installClient({ ...o, roots: ["~/code"] });
    expect(same.ok && !same.changed && same.message).toBe(`${o.file} already has this "tfo-mcp" entry, so nothing changed: /opt/homebrew/bin/tfo-mcp serve --root ${code}. It will serve ${code}.`);

    const removed = await installClient({ ...o, remove: true, roots: [] });
    expect(removed.ok && removed.message).toBe(`Removed "tfo-mcp" from ${o.file}. Backup: ${o.file}.tfo-mcp-backup. Restart Claude Desktop to unload it.`);

    writeFileSync(o.file, JSON.stringify({ mcpServers: { other: { command: "x", args: [] } } }));
    const beside = await installClient({ ...o, client: "claude-code", roots: [] });
    expect(beside.ok && beside.message).toBe(
      `Added "tfo-mcp" to ${o.file}: /opt/homebrew/bin/tfo-mcp serve. It will serve the folder Claude Code is opened in. Backup: ${o.file}.tfo-mcp-backup. Start a new Claude Code session to load it.`,
    );
  });
  test("an update keeps the env the person added to our entry", async () => {
    const o = place("claude-desktop", { roots: ["~/code/app"] });
    writeFileSync(o.file, JSON.stringify({ mcpServers: { "tfo-mcp": { command: "/old/tfo-mcp", args: ["serve"], env: { ANTHROPIC_API_KEY: "sk-ant-x" } } } }));
    const r = await installClient(o);
    expect(r.ok && r.message).toStartWith(`Updated "tfo-mcp" in ${o.file}: `);
    expect(written(o.file)).toEqual({ command: LAUNCHER[0], args: ["serve", "--root", join(o.home, "code", "app")], env: { ANTHROPIC_API_KEY: "sk-ant-x" } });
    const again = await installClient(o);
    expect(again.ok && again.changed).toBe(false);
    const dry = await installClient({ ...o, roots: ["~/code"], dryRun: true });
    expect(dry.ok && JSON.parse(dry.after)["tfo-mcp"].env).toEqual({ ANTHROPIC_API_KEY: "********" });
  });
  test("a root with spaces is quoted in the command shown", async () => {
    const o = place("cursor");
    mkdirSync(join(o.home, "My Projects"));
    const r = await installClient({ ...o, roots: ["~/My Projects"] });
    expect(r.ok && r.message).toContain(`serve --root '${join(o.home, "My Projects")}'.`);
  });
});

describe("a dry run shows our entry only, never the whole file", () => {
  // ~/.claude.json holds the person's projects and history: about 2 MB here.
  const big = { numStartups: 412, projects: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`/Users/me/p${i}`, { history: [{ display: "secret prompt ".repeat(60) }] }])), mcpServers: { other: { command: "node", args: ["o.js"] } } };
  test.each(["claude-code", "cursor", "claude-desktop"] as const)("%s", async (client) => {
    const o = place(client, { dryRun: true, roots: client === "claude-desktop" ? ["~/code/app"] : [] });
    const text = `${JSON.stringify(big, null, 2)}\n`;
    writeFileSync(o.file, text);
    const r = await installClient(o);
    if (!r.ok) throw new Error(r.error);
    expect(r.changed).toBe(true);
    expect(r.message).toStartWith(`Dry run: would add "tfo-mcp" to ${o.file}: `);
    expect(JSON.parse(r.after)).toEqual({ "tfo-mcp": r.entry });
    expect(r.after).not.toContain("secret prompt");
    expect(r.after.length).toBeLessThan(400);
    expect(readFileSync(o.file, "utf8")).toBe(text);
    expect(existsSync(`${o.file}.tfo-mcp-backup`)).toBe(false);
  });
  test("uninstall --dry-run shows the entry that would go", async () => {
    const o = place("claude-code");
    await installClient(o);
    const r = await installClient({ ...o, remove: true, dryRun: true });
    expect(r.ok && r.message).toContain('Dry run: would remove "tfo-mcp"');
    expect(r.ok && JSON.parse(r.after)).toEqual({ "tfo-mcp": { type: "stdio", command: LAUNCHER[0], args: ["serve"] } });
    expect(written(o.file)).toBeDefined();
  });
});

describe("the command written is the path the person runs", () => {
  // Real files and links, laid out like Homebrew: bin/tfo-mcp → ../Cellar/tfo-mcp/1.1.0/bin/tfo-mcp.
  const root = fresh("tfo-launcher-");
  const cellar = join(root, "Cellar", "tfo-mcp", "1.1.0", "bin", "tfo-mcp");
  const bin = join(root, "bin");
  const other = join(root, "other");
  mkdirSync(join(cellar, ".."), { recursive: true });
  mkdirSync(bin);
  mkdirSync(other);
  writeFileSync(cellar, "");
  symlinkSync("../Cellar/tfo-mcp/1.1.0/bin/tfo-mcp", join(bin, "tfo-mcp"));
  writeFileSync(join(other, "tfo-mcp"), ""); // another tfo-mcp earlier on PATH: not this program
  const bun = join(root, "bun-install", "bun.exe");
  mkdirSync(join(bun, ".."));
  writeFileSync(bun, "");
  symlinkSync(bun, join(bin, "bun"));
  const compiled = { execPath: cellar, main: "/$bunfs/root/tfo-mcp", cwd: root, pathEnv: `${other}:${bin}:/usr/bin`, platform: "darwin" as const };

  test.each<[string, Partial<ProcessFacts>, string[]]>([
    ["argv0 an absolute link: kept", { argv0: join(bin, "tfo-mcp") }, [join(bin, "tfo-mcp")]],
    ["argv0 a bare name: found on PATH, link kept", { argv0: "tfo-mcp" }, [join(bin, "tfo-mcp")]],
    ["argv0 relative to cwd: made absolute, link kept", { argv0: "./bin/tfo-mcp" }, [join(bin, "tfo-mcp")]],
    ["argv0 the real file: kept", { argv0: cellar }, [cellar]],
    ["argv0 not this program (exec -a): the real file", { argv0: "something-else" }, [cellar]],
    ["argv0 another program's path: the real file", { argv0: join(other, "tfo-mcp") }, [cellar]],
    ["argv0 empty: the real file", { argv0: "" }, [cellar]],
    ["bare name on no PATH: the real file", { argv0: "tfo-mcp", pathEnv: undefined }, [cellar]],
    ["from source with bun on PATH: [bun link, entry file]", { argv0: "bun", execPath: bun, main: "/src/tfo/src/cli.ts" }, [join(bin, "bun"), "/src/tfo/src/cli.ts"]],
    ["from source with bun by path: [that path, entry file]", { argv0: join(bin, "bun"), execPath: bun, main: "/src/tfo/src/cli.ts" }, [join(bin, "bun"), "/src/tfo/src/cli.ts"]],
  ])("%s", (_, facts, launcher) => {
    expect(launcherFrom({ ...compiled, argv0: "", ...facts })).toEqual(launcher);
  });

  test("through the built binary: run by a link on PATH, the link is written; claude-desktop without --root exits 1", async () => {
    const home = fresh("tfo-install-home-");
    mkdirSync(join(home, "code", "app"), { recursive: true });
    const links = join(home, "bin");
    mkdirSync(links);
    symlinkSync(await binary(), join(links, "tfo-mcp"));
    const env = cleanEnv({ HOME: home, PATH: `${links}:${process.env.PATH}`, XDG_CONFIG_HOME: join(home, ".config") });
    const run = (script: string) => Bun.spawnSync(["sh", "-c", script], { env, cwd: home, stdout: "pipe", stderr: "pipe" });

    const refused = run("tfo-mcp install claude-desktop");
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.toString()).toContain("Claude Desktop starts its servers in /");

    // Quoted, so the shell leaves ~ alone: the program must expand it.
    const r = run("tfo-mcp install claude-desktop '--root=~/code/app'");
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const file = join(home, ".config", "Claude", "claude_desktop_config.json");
    expect(written(file)).toEqual({ command: join(links, "tfo-mcp"), args: ["serve", "--root", join(home, "code", "app")] });
    expect(r.stdout.toString()).toContain(`Added "tfo-mcp" to ${file} (a new file): ${join(links, "tfo-mcp")} serve --root ${join(home, "code", "app")}.`);

    const dry = run("tfo-mcp install claude-code --dry-run");
    expect(dry.exitCode).toBe(0);
    const shown = dry.stdout.toString().split("\n").slice(1).join("\n");
    expect(JSON.parse(shown)).toEqual({ "tfo-mcp": { type: "stdio", command: join(links, "tfo-mcp"), args: ["serve"] } });
  }, 120_000);
});
