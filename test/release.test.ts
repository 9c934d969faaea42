// Shipping: archives, checksums, formula, the install script, client set-up, and cross-built binaries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { buildBinary } from "../build.ts";
import { sha256, sha256sums, tarGz, zip } from "../scripts/release/archive.ts";
import { renderFormula } from "../scripts/release/formula.ts";
import { archiveName, binaryName, hostTarget, platformName, TARGETS } from "../scripts/release/targets.ts";
import { configPathFor, parseConfig, withEntry, withoutEntry } from "../src/clients/config-files.ts";
import { binary, cleanEnv, runBinary } from "./helpers/binary.ts";
import { tempDir } from "./helpers/tmp.ts";

const root = join(import.meta.dir, "..");
const dirs: { cleanup(): void }[] = [];
const fresh = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
};
afterAll(() => {
  for (const d of dirs) d.cleanup();
});
const sh = (cmd: string[], cwd?: string) => Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });

describe("targets and names", () => {
  test("six targets, names derived from the matrix", () => {
    expect(TARGETS.map(platformName)).toEqual(["linux-x64", "linux-arm64", "linux-x64-musl", "darwin-x64", "darwin-arm64", "windows-x64"]);
    expect(TARGETS.map(archiveName)).toContain("tfo-mcp-windows-x64.zip");
    expect(TARGETS.map(binaryName)).toContain("tfo-mcp-darwin-arm64");
    expect(hostTarget("linux", "x64")?.target).toBe("bun-linux-x64");
    expect(hostTarget("linux", "x64", true)?.target).toBe("bun-linux-x64-musl");
    expect(hostTarget("win32", "x64")?.target).toBe("bun-windows-x64");
    expect(hostTarget("linux", "ia32")).toBeUndefined();
  });
});

describe("archives", () => {
  const files = [
    { name: "tfo-mcp", data: new Uint8Array(Buffer.from("#!/bin/sh\necho hi\n")), mode: 0o755 },
    { name: "README.md", data: new Uint8Array(Buffer.from("# readme\n".repeat(100))), mode: 0o644 },
  ];
  test("tar.gz: standard tar reads it, modes kept, same bytes every time", () => {
    const dir = fresh("tfo-tar-");
    const bytes = tarGz(files, 1_700_000_000);
    expect(sha256(tarGz(files, 1_700_000_000))).toBe(sha256(bytes));
    writeFileSync(join(dir, "a.tar.gz"), bytes);
    expect(sh(["tar", "-xzf", "a.tar.gz"], dir).exitCode).toBe(0);
    expect(readFileSync(join(dir, "tfo-mcp"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(join(dir, "tfo-mcp")).mode & 0o777).toBe(0o755);
    expect(sh(["tar", "-tvzf", "a.tar.gz"], dir).stdout.toString()).toContain("root/root");
  });
  test("zip: unzip tests and extracts it, same bytes every time", () => {
    const dir = fresh("tfo-zip-");
    const bytes = zip(files, 1_700_000_000);
    expect(sha256(zip(files, 1_700_000_000))).toBe(sha256(bytes));
    writeFileSync(join(dir, "a.zip"), bytes);
    expect(sh(["unzip", "-t", "a.zip"], dir).stdout.toString()).toContain("No errors detected");
    expect(sh(["unzip", "-p", "a.zip", "README.md"], dir).stdout.toString()).toBe("# readme\n".repeat(100));
  });
  test("SHA256SUMS is what sha256sum -c reads", () => {
    const dir = fresh("tfo-sums-");
    writeFileSync(join(dir, "b.bin"), "b");
    writeFileSync(join(dir, "a.bin"), "a");
    const text = sha256sums(["b.bin", "a.bin"].map((name) => ({ name, sha256: sha256(readFileSync(join(dir, name))) })));
    expect(text.split("\n")[0]).toEndWith("  a.bin");
    writeFileSync(join(dir, "SHA256SUMS"), text);
    expect(sh(["sha256sum", "-c", "SHA256SUMS"], dir).exitCode).toBe(0);
  });
});

describe("Homebrew formula", () => {
  test("renders per-platform URLs and checksums (snapshot)", () => {
    const sha = Object.fromEntries(TARGETS.map((t, i) => [archiveName(t), String(i).repeat(64)]));
    const formula = renderFormula({ version: "1.2.3", baseUrl: "https://example.test/v1.2.3", homepage: "https://example.test", sha256: sha, targets: TARGETS });
    expect(formula).toMatchSnapshot();
    expect(formula).toContain('url "https://example.test/v1.2.3/tfo-mcp-darwin-arm64.tar.gz"');
    expect(formula).toContain('bin.install "tfo-mcp"');
    expect(formula).toContain("shell_output(\"#{bin}/tfo-mcp --version\")");
    if (Bun.which("ruby")) expect(sh(["ruby", "-c", "-e", formula]).exitCode).toBe(0);
  });
  test("a missing checksum is an error, not a broken formula", () => {
    expect(() => renderFormula({ version: "1", baseUrl: "u", homepage: "h", sha256: {}, targets: TARGETS })).toThrow("no checksum for tfo-mcp-darwin-arm64.tar.gz");
  });
});

describe("the host binary stands alone", () => {
  test("runs from an empty folder with an empty PATH: --version and serve", async () => {
    const dir = fresh("tfo-alone-");
    const bin = join(dir, "tfo-mcp");
    writeFileSync(bin, readFileSync(await binary()));
    Bun.spawnSync(["chmod", "755", bin]);
    const env = { PATH: "", HOME: dir };
    const version = Bun.spawnSync([bin, "--version"], { cwd: dir, env });
    expect(version.stdout.toString()).toMatch(/^tfo-mcp, version \d+\.\d+\.\d+ /);
    const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    const serve = Bun.spawnSync([bin, "serve"], { cwd: dir, env, stdin: new TextEncoder().encode(`${init}\n`) });
    expect(JSON.parse(serve.stdout.toString()).result.serverInfo.name).toBe("TelemetryFlow-MCP");
  });
});

describe("scripts/install.sh against a local release server", () => {
  let server: ReturnType<typeof Bun.serve>;
  let good: string;
  let bad: string;
  beforeAll(async () => {
    const host = hostTarget()!;
    good = fresh("tfo-rel-good-");
    bad = fresh("tfo-rel-bad-");
    const bytes = tarGz(
      [
        { name: "tfo-mcp", data: new Uint8Array(readFileSync(await binary())), mode: 0o755 },
        { name: "LICENSE", data: new Uint8Array(readFileSync(join(root, "LICENSE"))), mode: 0o644 },
      ],
      0,
    );
    for (const dir of [good, bad]) writeFileSync(join(dir, archiveName(host)), bytes);
    writeFileSync(join(good, "SHA256SUMS"), sha256sums([{ name: archiveName(host), sha256: sha256(bytes) }]));
    writeFileSync(join(bad, "SHA256SUMS"), sha256sums([{ name: archiveName(host), sha256: "0".repeat(64) }]));
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const [, which, name] = new URL(req.url).pathname.split("/");
        const dir = which === "good" ? good : which === "bad" ? bad : undefined;
        const file = dir && name ? Bun.file(join(dir, name)) : undefined;
        return file?.size ? new Response(file) : new Response("missing", { status: 404 });
      },
    });
  }, 120_000);
  afterAll(() => server.stop(true));
  // Async spawn: the release server runs in this process and must keep answering.
  const install = async (which: string, prefix: string, tmp: string) => {
    const proc = Bun.spawn(["sh", join(root, "scripts", "install.sh"), "--prefix", prefix], {
      env: { ...cleanEnv(), TFO_MCP_BASE_URL: `http://127.0.0.1:${server.port}/${which}`, TMPDIR: tmp, HOME: prefix },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, exitCode };
  };

  test("good checksum: installed, runs, says how to add it to PATH", async () => {
    const prefix = fresh("tfo-prefix-");
    const tmp = fresh("tfo-tmp-");
    const r = await install("good", prefix, tmp);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`Installed tfo-mcp`);
    expect(r.stdout).toContain("is not on your PATH");
    // What it recommends is the safe set-up: Claude Desktop only with a --root, Claude Code from inside the project.
    const bin = join(prefix, "bin", "tfo-mcp");
    for (const line of [`claude mcp add tfo -- ${bin} serve\n`, `${bin} install claude-desktop --root ~/code/project\n`, `${bin} install cursor\n`]) expect(r.stdout).toContain(line);
    expect(r.stdout).not.toMatch(/install claude-desktop\s*\n|install claude-desktop +\(/);
    expect(Bun.spawnSync([join(prefix, "bin", "tfo-mcp"), "--version"]).stdout.toString()).toStartWith("tfo-mcp, version ");
    expect(readdirSync(tmp)).toEqual([]);
  });
  test("bad checksum: refused, nothing installed, nothing left behind", async () => {
    const prefix = fresh("tfo-prefix-");
    const tmp = fresh("tfo-tmp-");
    const r = await install("bad", prefix, tmp);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("checksum mismatch");
    expect(existsSync(join(prefix, "bin"))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });
  test("a missing release is a clear failure", async () => {
    const prefix = fresh("tfo-prefix-");
    const r = await install("nowhere", prefix, fresh("tfo-tmp-"));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("download failed");
  });
  // .ci/run installs shellcheck. Without it the lint is skipped, and says so: a pass would claim a check that never ran.
  const shellcheck = Bun.which("shellcheck");
  if (!shellcheck) console.warn("shellcheck is not installed: scripts/install.sh, scripts/services.sh and .ci/run are not linted (test skipped)");
  test.skipIf(!shellcheck)("shellcheck finds nothing in install.sh, services.sh and .ci/run", () => {
    const r = sh([shellcheck!, join(root, "scripts", "install.sh"), join(root, "scripts", "services.sh"), join(root, ".ci", "run")]);
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});

describe("client config edits (pure)", () => {
  test("standard paths per OS", () => {
    const place = (platform: NodeJS.Platform) => ({ platform, home: "/h", env: { APPDATA: "C:\\AppData" } });
    expect(configPathFor("claude-desktop", place("darwin"))).toBe("/h/Library/Application Support/Claude/claude_desktop_config.json");
    expect(configPathFor("claude-desktop", place("linux"))).toBe("/h/.config/Claude/claude_desktop_config.json");
    expect(configPathFor("claude-desktop", place("win32"))).toContain("Claude");
    expect(configPathFor("claude-code", place("linux"))).toBe("/h/.claude.json");
    expect(configPathFor("cursor", place("darwin"))).toBe("/h/.cursor/mcp.json");
  });
  test("indentation is detected; other servers and keys keep their order", () => {
    const text = '{\n    "theme": "dark",\n    "mcpServers": {\n        "other": { "command": "x" }\n    }\n}\n';
    const p = parseConfig(text);
    if (!p.ok) throw new Error(p.error);
    expect(p.indent).toBe(4);
    const added = withEntry(p.doc, { command: "/bin/tfo-mcp", args: ["serve"] });
    expect(Object.keys(added)).toEqual(["theme", "mcpServers"]);
    expect(Object.keys(added.mcpServers as object)).toEqual(["other", "tfo-mcp"]);
    expect(withoutEntry(added).doc).toEqual(p.doc);
  });
  test.each([
    ["{ nope", "is not valid JSON"],
    ["[1]", "is not a JSON object"],
    ['{"mcpServers": []}', '"mcpServers" is not an object'],
  ])("%p is refused", (text, error) => {
    const p = parseConfig(text);
    expect(!p.ok && p.error).toContain(error);
  });
});

describe("tfo-mcp install / uninstall through the binary", () => {
  const other = { command: "node", args: ["other.js"] };
  test.each(["claude-desktop", "claude-code", "cursor"] as const)("%s: add next to other servers, backup, idempotent, dry run, uninstall", async (client) => {
    const home = fresh("tfo-home-");
    const env = cleanEnv({ HOME: home, XDG_CONFIG_HOME: "", APPDATA: "" });
    const file = configPathFor(client, { platform: process.platform, home, env: {} });
    mkdirSync(join(file, ".."), { recursive: true });
    const original = `${JSON.stringify({ keep: true, mcpServers: { other } }, null, 4)}\n`;
    writeFileSync(file, original);

    const dry = await runBinary(["install", client, "--dry-run", "--root", home], { env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("Dry run");
    expect(readFileSync(file, "utf8")).toBe(original);

    const r = await runBinary(["install", client, "--root", home], { env });
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    expect(doc.keep).toBe(true);
    expect(doc.mcpServers.other).toEqual(other);
    expect(doc.mcpServers["tfo-mcp"]).toMatchObject({ command: await binary(), args: ["serve", "--root", home] });
    if (client === "claude-code") expect(doc.mcpServers["tfo-mcp"].type).toBe("stdio");
    expect(readFileSync(file, "utf8")).toStartWith('{\n    "keep"');
    expect(readFileSync(`${file}.tfo-mcp-backup`, "utf8")).toBe(original);

    const again = await runBinary(["install", client, "--root", home], { env });
    expect(again.stdout).toContain("nothing changed");

    const un = await runBinary(["uninstall", client], { env });
    expect(un.code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ keep: true, mcpServers: { other } });
  });
  test("a config that is not JSON is reported and left untouched", async () => {
    const home = fresh("tfo-home-");
    const file = join(home, ".cursor", "mcp.json");
    mkdirSync(join(home, ".cursor"));
    writeFileSync(file, "{ broken");
    const r = await runBinary(["install", "cursor"], { env: cleanEnv({ HOME: home }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not valid JSON");
    expect(readFileSync(file, "utf8")).toBe("{ broken");
    expect(existsSync(`${file}.tfo-mcp-backup`)).toBe(false);
  });
  test("--config names another file; unknown clients are refused", async () => {
    const home = fresh("tfo-home-");
    const file = join(home, "custom", "servers.json");
    const r = await runBinary(["install", "cursor", "--config", file], { env: cleanEnv({ HOME: home }) });
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).mcpServers["tfo-mcp"].args).toEqual(["serve", "--root", "${workspaceFolder}"]);
    const bad = await runBinary(["install", "vscode"], { env: cleanEnv({ HOME: home }) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Use one of: claude-desktop, claude-code, cursor");
  });
});

describe("release workflow and container (static checks: no Docker engine or Actions runner here)", () => {
  test("the workflow tests, builds every target, checks sums and publishes", () => {
    const wf = parse(readFileSync(join(root, ".github", "workflows", "release.yml"), "utf8"));
    expect(wf.on.push.tags).toEqual(["v*"]);
    expect(Object.keys(wf.jobs)).toEqual(["test", "build", "publish"]);
    const steps = JSON.stringify(wf.jobs);
    for (const needle of [".ci/run", "npm run build -- --all", "sha256sum -c SHA256SUMS", "gh release create", "Formula/tfo-mcp.rb"]) expect(steps).toContain(needle);
  });
  test("the Dockerfile builds with the Bun image and runs tfo-mcp serve as non-root", () => {
    const text = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(text).toMatch(/^FROM oven\/bun:[\d.]+ AS build$/m);
    expect(text).toContain('ENTRYPOINT ["tfo-mcp", "serve"]');
    expect(text).toMatch(/^USER tfo$/m);
  });
});

// Cross-compiling needs each target's Bun runtime in Bun's cache (.ci/run fetches them from npm).
const cache = join(process.env.BUN_INSTALL ?? join(homedir(), ".bun"), "install", "cache");
const runtimeFor = (target: string) => `bun-${target.replace("bun-", "").replace("arm64", "aarch64")}-v${Bun.version}`;
const crossReady = TARGETS.filter((t) => t.target !== hostTarget()?.target).every((t) => existsSync(join(cache, runtimeFor(t.target))));

describe.skipIf(!crossReady)("cross-built binaries (runtimes cached)", () => {
  const MAGIC: Record<string, (b: Buffer) => boolean> = {
    "linux-x64": (b) => b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === 62,
    "linux-x64-musl": (b) => b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === 62 && b.includes("ld-musl"),
    "linux-arm64": (b) => b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === 183,
    "darwin-x64": (b) => b.readUInt32LE(0) === 0xfeedfacf && b.readUInt32LE(4) === 0x01000007,
    "darwin-arm64": (b) => b.readUInt32LE(0) === 0xfeedfacf && b.readUInt32LE(4) === 0x0100000c,
    "windows-x64": (b) => b.toString("latin1", 0, 2) === "MZ" && b.readUInt16LE(b.readUInt32LE(0x3c) + 4) === 0x8664,
  };
  const dir = fresh("tfo-cross-");
  test.each(TARGETS.map((t) => [platformName(t), t] as const))("%s has the right file type and architecture", async (name, t) => {
    const out = join(dir, binaryName(t));
    await buildBinary({ outfile: out, target: t.target });
    const head = Buffer.alloc(4096);
    const fd = require("node:fs").openSync(out, "r");
    require("node:fs").readSync(fd, head, 0, 4096, 0);
    require("node:fs").closeSync(fd);
    expect(MAGIC[name]!(head)).toBe(true);
  }, 120_000);
  test.skipIf(!Bun.which("qemu-aarch64") || !existsSync("/usr/aarch64-linux-gnu"))("linux-arm64 runs under qemu", () => {
    const r = Bun.spawnSync(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", join(dir, "tfo-mcp-linux-arm64"), "--version"]);
    expect(r.stdout.toString()).toContain("bun-linux-arm64");
  }, 60_000);
});
