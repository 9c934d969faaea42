// The container image: no Docker engine runs on the build machines, so what can be checked
// without one is checked here (the README shows how a client runs it).
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!;

test("the runtime image has a shell for execute_command and runs as a non-root user", () => {
  // distroless has no /bin/sh: execute_command always failed there.
  expect(runtime).not.toContain("distroless");
  expect(runtime).toMatch(/^debian:\S+-slim/);
  const user = /^USER (\S+)/m.exec(runtime)?.[1];
  expect(user).toBeDefined();
  expect(["root", "0"]).not.toContain(user);
  expect(runtime).toContain('ENTRYPOINT ["tfo-mcp", "serve"]');
  expect(runtime).toContain('CMD ["--root", "/workspace"]');
});

test("the build copies only what it builds from; .dockerignore keeps host installs, builds and history out", () => {
  const build = stages[0]!;
  expect(build).not.toMatch(/^COPY \. /m);
  const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
  for (const entry of ["node_modules", "dist", ".git"]) expect(ignored).toContain(entry);
  // Every source the build copies exists, so the COPY lines cannot silently go stale.
  for (const [, from] of build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const path of from!.split(" ")) expect(existsSync(join(root, path))).toBe(true);
  }
});

test("the README shows how a client runs the container", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  expect(readme).toContain('docker run -i --rm --user "$(id -u):$(id -g)" -v "$PWD:/workspace" tfo-mcp');
});
