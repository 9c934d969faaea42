// How a client should start this very program: the path the person runs, not the file it
// resolves to. Homebrew puts /opt/homebrew/bin/tfo-mcp → ../Cellar/tfo-mcp/1.1.0/bin/tfo-mcp
// on PATH; process.execPath is the Cellar file (the OS resolves the link), which `brew
// upgrade` deletes. The link survives upgrades, so that is the path we write.
import { statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

export type ProcessFacts = {
  /** argv[0] as the program was started: absolute, relative to cwd, or a bare name found on PATH */
  argv0: string;
  /** the program file after the OS followed every link */
  execPath: string;
  /** Bun.main: the entry source file, or a /$bunfs/ (B:\~BUN\ on Windows) path inside a compiled binary */
  main: string;
  cwd: string;
  /** the PATH the program was looked up on */
  pathEnv: string | undefined;
  platform: NodeJS.Platform;
};

/** Both paths name the same file on disk (after following links). */
export function sameFileOnDisk(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.isFile() && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Where argv0 was found, as written (links kept), if it is this program; else undefined. */
export function invokedPath(f: ProcessFacts, sameFile = sameFileOnDisk): string | undefined {
  const a = f.argv0;
  if (a === "") return undefined;
  const win = f.platform === "win32";
  const hasDir = a.includes("/") || (win && a.includes("\\"));
  // A shell looks up a bare name on PATH in order; Windows also tries .exe.
  const names = win && !/\.[^\\/.]+$/.test(a) ? [a, `${a}.exe`] : [a];
  const candidates = isAbsolute(a) || hasDir
    ? [resolve(f.cwd, a)]
    : (f.pathEnv ?? "").split(win ? ";" : ":").filter(Boolean).flatMap((dir) => names.map((n) => resolve(f.cwd, join(dir, n))));
  // argv[0] is whatever the parent chose (`exec -a`, a wrapper): trust it only when it leads to this very file.
  return candidates.find((c) => sameFile(c, f.execPath));
}

/** [command, ...args before "serve"]: the compiled binary alone, or bun and the source entry file. */
export function launcherFrom(f: ProcessFacts, sameFile = sameFileOnDisk): string[] {
  const compiled = f.main.startsWith("/$bunfs/") || f.main.includes("~BUN");
  const program = invokedPath(f, sameFile) ?? f.execPath;
  return compiled ? [program] : [program, f.main];
}

export function launcherOfThisProcess(): string[] {
  return launcherFrom({ argv0: process.argv0, execPath: process.execPath, main: Bun.main, cwd: process.cwd(), pathEnv: process.env.PATH, platform: process.platform });
}
