// Connections that never become sessions: thousands that open and say nothing, and a client
// that sends its request head a byte at a time. The server keeps answering real clients,
// closes them, and its memory stays bounded (compiled binary, raw sockets).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { type HttpBinary, openSession, serveHttpBinary } from "./helpers/http-server.ts";
import { until } from "./helpers/wait.ts";

let server: HttpBinary;
beforeAll(async () => {
  server = await serveHttpBinary({ args: ["--root", "/tmp"] });
});
afterAll(async () => {
  await server.stop();
});

test("2,000 silent connections and a slow-header client: real clients are served meanwhile, and the silent ones are closed", async () => {
  const rssBefore = server.rssMb();
  let closed = 0;
  const silent: Socket[] = [];
  for (let i = 0; i < 2000; i++) {
    silent.push(await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => void closed++ } }));
  }
  // A request head that never ends: one byte every 200 ms.
  let slowClosed = false;
  const slow = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => void (slowClosed = true) } });
  slow.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  const drip = setInterval(() => slow.write("X"), 200);

  const started = performance.now();
  const session = await openSession(server.url);
  expect(session.status).toBe(200);
  expect(performance.now() - started).toBeLessThan(2000);
  expect(server.rssMb() - rssBefore).toBeLessThan(40);

  // Nothing holds a socket that never sent a request: all are closed within the header timeout.
  expect(await until(() => closed === 2000, 30_000, 100)).toBe(true);
  expect(await until(() => slowClosed, 30_000, 100)).toBe(true);
  clearInterval(drip);
  for (const s of silent) s.end();
  // And the server is still there.
  expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
}, 60_000);
