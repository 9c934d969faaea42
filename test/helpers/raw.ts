// A raw line-level peer for the binary: writes any bytes to stdin, reads JSON lines from stdout.
// For what the SDK Client will not send: old protocol versions, junk, huge lines.
import type { Subprocess } from "bun";
import { binary, cleanEnv } from "./binary.ts";

export type RawPeer = {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  /** resolves when the bytes are in the pipe; a peer that died makes it resolve too */
  send(text: string): Promise<void>;
  request(id: number | string, method: string, params?: unknown): Promise<void>;
  /** waits for the next message with this id (or with id null when given null) */
  response(id: number | string | null, timeoutMs?: number): Promise<Record<string, any>>;
  messages: Record<string, any>[];
  stderr(): string;
  close(): Promise<number>;
};

export async function rawPeer(opts: { args?: string[]; cwd?: string; env?: Record<string, string> } = {}): Promise<RawPeer> {
  const proc = Bun.spawn([await binary(), "serve", ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const messages: Record<string, any>[] = [];
  const waiters: { id: unknown; resolve(m: Record<string, any>): void; from: number }[] = [];
  let err = "";
  (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  (async () => {
    let buffer = "";
    for await (const chunk of proc.stdout) {
      buffer += new TextDecoder().decode(chunk);
      let nl = buffer.indexOf("\n");
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
        if (!line) continue;
        messages.push(JSON.parse(line));
        for (const w of [...waiters]) settle(w);
      }
    }
  })();
  function settle(w: (typeof waiters)[number]) {
    const index = messages.findIndex((m, i) => i >= w.from && "id" in m && m.id === w.id && !("method" in m));
    if (index === -1) return;
    const [m] = messages.splice(index, 1);
    waiters.splice(waiters.indexOf(w), 1);
    w.resolve(m!);
  }
  const peer: RawPeer = {
    proc,
    messages,
    async send(text) {
      try {
        proc.stdin.write(text);
        await proc.stdin.flush();
      } catch {
        // the server is gone (killed by the test, or exited): nothing to deliver to
      }
    },
    request(id, method, params) {
      return peer.send(`${JSON.stringify({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) })}\n`);
    },
    response(id, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const w = { id, resolve, from: 0 };
        waiters.push(w);
        settle(w);
        setTimeout(() => reject(new Error(`no response for id ${id} within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs).unref();
      });
    },
    stderr: () => err,
    async close() {
      proc.stdin.end();
      return proc.exited;
    },
  };
  return peer;
}

export async function initializedPeer(opts: Parameters<typeof rawPeer>[0] & { protocolVersion?: string; capabilities?: unknown } = {}) {
  const peer = await rawPeer(opts);
  peer.request(0, "initialize", {
    protocolVersion: opts.protocolVersion ?? "2025-06-18",
    capabilities: opts.capabilities ?? {},
    clientInfo: { name: "raw", version: "1" },
  });
  const init = await peer.response(0);
  peer.send(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  return { peer, init };
}
