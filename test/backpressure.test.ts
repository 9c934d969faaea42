// A client that reads slowly must not make the server buffer without bound: while output is
// backed up, no new request is read or started.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./helpers/binary.ts";
import { tempDir } from "./helpers/tmp.ts";

const hasNode = Bun.which("node") !== null;
if (!hasNode) console.warn("backpressure.test.ts skipped: node is not installed (it plays the MCP client, as Claude Desktop does)");

test.skipIf(!hasNode || process.platform !== "linux")(
  "50 responses of 8 MiB to a client that is not reading: the server holds a few, not all 400 MiB",
  async () => {
    const dir = tempDir("tfo-slow-");
    try {
      writeFileSync(join(dir.path, "big.txt"), "x".repeat(8 << 20));
      const proc = Bun.spawn(["node", join(import.meta.dir, "helpers", "slow-reader.cjs"), dir.path, "50", await binary()], { stdout: "pipe", stderr: "inherit" });
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      const { peakMiB, responses } = JSON.parse(out);
      expect(responses).toBe(51);
      // Measured: 80-240 MiB with backpressure (the spread is how many calls were already
      // running when the pipe filled), 490 MiB for 30 responses without (each one held).
      expect(peakMiB).toBeLessThan(320);
    } finally {
      dir.cleanup();
    }
  },
  60_000,
);
