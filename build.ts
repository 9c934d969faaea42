// Builds the standalone tfo-mcp executable: `bun build.ts` for this machine;
// `bun build.ts --all` for every release target, with archives, SHA256SUMS and the
// Homebrew formula in dist/. Publishing is the release workflow's job, not this one's.
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import pkg from "./package.json" with { type: "json" };
import { type ArchiveFile, sha256, sha256sums, tarGz, zip } from "./scripts/release/archive.ts";
import { renderFormula } from "./scripts/release/formula.ts";
import { archiveName, binaryName, exeName, TARGETS } from "./scripts/release/targets.ts";

export type BuildOptions = { outfile: string; target?: Bun.Build.CompileTarget };

/**
 * The OTLP gRPC exporter loads @grpc/grpc-js through `createRequire(import.meta.url)`, which
 * the bundler cannot follow: in the executable it looks for a node_modules that is not
 * there ("Cannot find module '@grpc/grpc-js'"). This hands it the bundled module instead.
 * The build fails if the pinned package stops looking like this.
 */
export const otlpGrpcRequire: Bun.BunPlugin = {
  name: "otlp-grpc-require",
  setup(build) {
    build.onLoad({ filter: /otlp-grpc-exporter-base[\\/]dist[\\/]_virtual[\\/]_rolldown[\\/]runtime\.mjs$/ }, async ({ path }) => {
      const text = await Bun.file(path).text();
      const from = "createRequire(import.meta.url)";
      if (!text.includes(from)) throw new Error(`${path} no longer calls ${from}; update otlpGrpcRequire in build.ts`);
      const to = '((id) => { if (id === "@grpc/grpc-js") return __grpcJs; throw new Error(`${id} is not bundled`); })';
      return { loader: "js", contents: `import * as __grpcJs from "@grpc/grpc-js";\n${text.replace(from, to)}` };
    });
  },
};

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
    // A worker is embedded only when it is an entrypoint of its own (src/tools/content-match.ts starts it).
    entrypoints: [join(import.meta.dir, "src/cli.ts"), join(import.meta.dir, "src/tools/content-match-worker.ts")],
    plugins: [otlpGrpcRequire],
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
    // Every entrypoint at the root of the executable's file system, beside the main one, so
    // content-match.ts finds its worker at the same relative URL in the binary as in src/tools/.
    naming: { entry: "[name].[ext]" },
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

/** Archive timestamps: SOURCE_DATE_EPOCH, else the commit's time, so rebuilds give the same bytes. */
function sourceDate(): number {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(execSync("git log -1 --format=%ct", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim());
  } catch {
    return 0;
  }
}

export function releaseBaseUrl(version: string): string {
  return process.env.TFO_MCP_RELEASE_URL ?? `https://github.com/${pkg.repository}/releases/download/v${version}`;
}

/** Every target: binary, archive with README and LICENSE, SHA256SUMS, Formula/tfo-mcp.rb. */
export async function buildRelease(dist: string): Promise<{ name: string; sha256: string; size: number }[]> {
  mkdirSync(dist, { recursive: true });
  const mtime = sourceDate();
  const docs: ArchiveFile[] = ["README.md", "LICENSE"].map((name) => ({ name, data: readFileSync(join(import.meta.dir, name)), mode: 0o644 }));
  const archives: { name: string; sha256: string; size: number }[] = [];
  for (const t of TARGETS) {
    const outfile = join(dist, binaryName(t));
    await buildBinary({ outfile, target: t.target });
    const files = [{ name: exeName(t), data: readFileSync(outfile), mode: 0o755 }, ...docs];
    const bytes = t.os === "windows" ? zip(files, mtime) : tarGz(files, mtime);
    writeFileSync(join(dist, archiveName(t)), bytes);
    archives.push({ name: archiveName(t), sha256: sha256(bytes), size: bytes.length });
    console.log(`${archiveName(t)}  ${(bytes.length / 1024 / 1024).toFixed(1)} MiB (binary ${(files[0]!.data.length / 1024 / 1024).toFixed(1)} MiB)`);
  }
  writeFileSync(join(dist, "SHA256SUMS"), sha256sums(archives));
  mkdirSync(join(dist, "Formula"), { recursive: true });
  const formula = renderFormula({
    version: pkg.version,
    baseUrl: releaseBaseUrl(pkg.version),
    homepage: `https://github.com/${pkg.repository}`,
    sha256: Object.fromEntries(archives.map((a) => [a.name, a.sha256])),
    targets: TARGETS,
  });
  writeFileSync(join(dist, "Formula", "tfo-mcp.rb"), formula);
  return archives;
}

if (import.meta.main) {
  const dist = join(import.meta.dir, "dist");
  const started = performance.now();
  if (process.argv.includes("--all")) {
    await buildRelease(dist);
    console.log(`release artifacts in ${dist} in ${Math.round(performance.now() - started)} ms`);
  } else {
    const outfile = join(dist, process.platform === "win32" ? "tfo-mcp.exe" : "tfo-mcp");
    await buildBinary({ outfile });
    const size = Bun.file(outfile).size;
    console.log(`built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`);
  }
}
