// Builds the standalone tfo-mcp executable: `bun build.ts` for this machine.
import { execSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import pkg from "./package.json" with { type: "json" };

export type BuildOptions = { outfile: string; target?: Bun.Build.CompileTarget };

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

export async function buildBinary({ outfile, target }: BuildOptions): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  const hostTarget = `bun-${process.platform}-${process.arch}`;
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, "src/cli.ts")],
    compile: {
      outfile,
      ...(target ? { target } : {}),
      // The binary must behave the same in every folder: no .env or bunfig.toml from the user's cwd.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    // ESM output is what lets bytecode work with dependencies that use import.meta.
    format: "esm",
    // Code that is imported dynamically (the Anthropic SDK, YAML, storage) becomes chunks
    // inside the executable, loaded on first use: a single bundle pays ~12 ms at every
    // start-up for the Anthropic SDK alone, even when it is never called.
    splitting: true,
    bytecode: true,
    minify: true,
    sourcemap: "none",
    define: {
      __TFO_VERSION__: JSON.stringify(pkg.version),
      __TFO_COMMIT__: JSON.stringify(gitCommit()),
      __TFO_TARGET__: JSON.stringify(target ?? hostTarget),
    },
  });
  if (!result.success) {
    throw new Error(`build failed:\n${result.logs.map((l) => String(l)).join("\n")}`);
  }
  return outfile;
}

if (import.meta.main) {
  const outfile = join(import.meta.dir, "dist", process.platform === "win32" ? "tfo-mcp.exe" : "tfo-mcp");
  const started = performance.now();
  await buildBinary({ outfile });
  const size = Bun.file(outfile).size;
  console.log(`built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`);
}
