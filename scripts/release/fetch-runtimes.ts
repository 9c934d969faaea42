// Fills Bun's cache with the runtime of every release target (from the npm registry), so
// cross-compiling, and the tests that check cross-built binaries, work offline afterwards.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TARGETS } from "./targets.ts";

const dir = mkdtempSync(join(tmpdir(), "tfo-runtimes-"));
try {
  writeFileSync(join(dir, "probe.ts"), "export {};\n");
  for (const t of TARGETS) {
    const r = await Bun.build({ entrypoints: [join(dir, "probe.ts")], compile: { target: t.target, outfile: join(dir, `probe-${t.target}`) } });
    console.log(`${t.target}: ${r.success ? "ready" : r.logs.join(" ")}`);
    if (!r.success) process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
