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
  "30 responses of 8 MiB to a client that is not reading: the server holds a few, not all 240 MiB",
  async () => {
    const dir = tempDir("tfo-slow-");
    try {
      writeFileSync(join(dir.path, "big.txt"), "x".repeat(8 << 20));
      const proc = Bun.spawn(["node", join(import.meta.dir, "helpers", "slow-reader.cjs"), dir.path, "30", await binary()], { stdout: "pipe", stderr: "inherit" });
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      const { peakMiB, responses } = JSON.parse(out);
      expect(responses).toBe(31);
      // Measured: ~100-160 MiB with backpressure (a few responses in flight when the pipe
      // filled), 330-450 MiB without (every response held in memory).
      expect(peakMiB).toBeLessThan(220);
    } finally {
      dir.cleanup();
    }
  },
  60_000,
);
