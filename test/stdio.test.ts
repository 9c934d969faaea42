import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { classifyLine, createStdioTransport } from "../src/server/stdio.ts";
import { until } from "./helpers/wait.ts";

describe("classifyLine (pure)", () => {
  test.each([
    ["{", null, -32700],
    ["[]", null, -32600],
    ['[{"jsonrpc":"2.0","id":1,"method":"ping"}]', null, -32600],
    ["42", null, -32600],
    ['"str"', null, -32600],
    ["null", null, -32600],
    ['{"id":1,"method":"ping"}', 1, -32600],
    ['{"jsonrpc":"1.0","id":"a","method":"ping"}', "a", -32600],
    ['{"jsonrpc":"2.0","id":2,"method":5}', 2, -32600],
    ['{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', null, -32600],
    ['{"jsonrpc":"2.0","id":3,"method":"ping","params":[1]}', 3, -32600],
    ['{"jsonrpc":"2.0","id":4,"method":"ping","params":null}', 4, -32600],
    ['{"jsonrpc":"2.0","id":5}', 5, -32600],
    ['{"jsonrpc":"2.0"}', null, -32600],
  ])("%s → error id %p code %p", (line, id, code) => {
    const v = classifyLine(line);
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.id).toBe(id as never);
      expect(v.code).toBe(code);
    }
  });
  test.each([
    '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    '{"jsonrpc":"2.0","id":"x","result":{}}',
    '{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"m"}}',
  ])("accepts %s", (line) => {
    expect(classifyLine(line).ok).toBe(true);
  });
});

function harness(opts: { maxLineBytes?: number; drainMs?: number } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: any[] = [];
  let buffered = "";
  output.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl = buffered.indexOf("\n");
    while (nl !== -1) {
      lines.push(JSON.parse(buffered.slice(0, nl)));
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
    }
  });
  const transport = createStdioTransport({ input, output, ...opts });
  const received: any[] = [];
  let closed = false;
  transport.onmessage = (m) => received.push(m);
  transport.onclose = () => {
    closed = true;
  };
  return { input, transport, lines, received, isClosed: () => closed };
}

describe("stdio transport", () => {
  test("splits chunks at newlines, joins partial lines, strips CR, skips blank lines", async () => {
    const h = harness();
    await h.transport.start();
    h.input.write('{"jsonrpc":"2.0","id":1,');
    h.input.write('"method":"ping"}\r\n\n   \n{"jsonrpc":"2.0","method":"a"}\n{"jsonrpc":"2.0","id":2,"met');
    h.input.write('hod":"b"}\n');
    await until(() => h.received.length >= 3, 1000);
    expect(h.received.map((m) => m.method)).toEqual(["ping", "a", "b"]);
    expect(h.lines).toEqual([]);
  });

  test("answers junk with errors and keeps going", async () => {
    const h = harness();
    await h.transport.start();
    h.input.write('not json\n{"jsonrpc":"2.0","id":9,"method":"x","params":"p"}\n{"jsonrpc":"2.0","id":10,"method":"ok"}\n');
    await until(() => h.received.length >= 1 && h.lines.length >= 2, 1000);
    expect(h.lines.map((l) => [l.id, l.error.code])).toEqual([[null, -32700], [9, -32600]]);
    expect(h.received.map((m) => m.id)).toEqual([10]);
  });

  test("an over-long line is answered once, discarded, and the next line works", async () => {
    const h = harness({ maxLineBytes: 100 });
    await h.transport.start();
    h.input.write("x".repeat(60));
    h.input.write("x".repeat(60));
    h.input.write("x".repeat(500));
    h.input.write('yyy\n{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    h.input.write(`${"z".repeat(150)}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n`);
    await until(() => h.received.length >= 2 && h.lines.length >= 2, 1000);
    expect(h.lines.map((l) => [l.id, l.error.code])).toEqual([[null, -32600], [null, -32600]]);
    expect(h.lines[0].error.message).toContain("longer than 100 bytes");
    expect(h.received.map((m) => m.id)).toEqual([1, 2]);
  });

  test("a duplicate id of a running request is refused; it is free again once answered", async () => {
    const h = harness();
    await h.transport.start();
    const req = '{"jsonrpc":"2.0","id":1,"method":"slow"}\n';
    h.input.write(req + req);
    await until(() => h.received.length >= 1 && h.lines.length >= 1, 1000);
    expect(h.received).toHaveLength(1);
    expect(h.lines[0].error.message).toContain("already in use");
    await h.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
    h.input.write(req);
    await until(() => h.received.length >= 2, 1000);
    expect(h.received).toHaveLength(2);
  });

  test("a last request without a newline before EOF is answered; a half-discarded over-long one is not", async () => {
    const h = harness({ drainMs: 5000 });
    await h.transport.start();
    h.input.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":2,"method":"last"}');
    h.input.end();
    await until(() => h.received.length >= 2, 1000);
    expect(h.received.map((m) => m.id)).toEqual([1, 2]);
    expect(h.isClosed()).toBe(false);
    await h.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
    await h.transport.send({ jsonrpc: "2.0", id: 2, result: {} });
    expect(h.isClosed()).toBe(true);
    const junk = harness({ maxLineBytes: 10 });
    await junk.transport.start();
    junk.input.write("x".repeat(50));
    junk.input.end();
    await until(() => junk.lines.length >= 1 && junk.input.readableEnded, 1000);
    expect(junk.received).toEqual([]);
    expect(junk.lines).toHaveLength(1);
  });

  test("EOF waits for running requests, then closes", async () => {
    const h = harness({ drainMs: 5000 });
    await h.transport.start();
    h.input.write('{"jsonrpc":"2.0","id":1,"method":"slow"}\n');
    h.input.end();
    await until(() => h.received.length >= 1 && h.input.readableEnded, 1000);
    expect(h.isClosed()).toBe(false);
    await h.transport.send({ jsonrpc: "2.0", id: 1, result: {} });
    expect(h.isClosed()).toBe(true);
  });

  test("EOF with nothing running closes at once; a running request past the drain time is dropped", async () => {
    const idle = harness();
    await idle.transport.start();
    idle.input.end();
    // At once: the drain time (10 s by default) is for requests still running.
    await until(() => idle.isClosed(), 1000);
    expect(idle.isClosed()).toBe(true);
    const busy = harness({ drainMs: 20 });
    await busy.transport.start();
    busy.input.write('{"jsonrpc":"2.0","id":1,"method":"slow"}\n');
    busy.input.end();
    await until(() => busy.isClosed(), 2000);
    expect(busy.isClosed()).toBe(true);
  });
});

describe("direct dispatch to the SDK Server", () => {
  test("the pinned SDK still has the entry points connectServer relies on, and requests flow through them", async () => {
    const { Server } = await import("@modelcontextprotocol/sdk/server/index.js");
    const { connectServer } = await import("../src/server/connect.ts");
    const h = harness();
    const server = new Server({ name: "t", version: "1" }, { capabilities: {} });
    expect(await connectServer(server, h.transport, { checked: true })).toBe("direct");
    h.input.write('{"jsonrpc":"2.0","id":7,"method":"ping"}\n');
    await until(() => h.lines.length >= 1, 1000);
    expect(h.lines).toEqual([{ jsonrpc: "2.0", id: 7, result: {} }]);
    h.input.write('{"jsonrpc":"2.0","id":8,"method":"nope/nope"}\n{"jsonrpc":"2.0","method":"notifications/whatever"}\n');
    await until(() => h.lines.length >= 2, 1000);
    expect(h.lines[1].error.code).toBe(-32601);
    expect(h.lines).toHaveLength(2);
  });
  test("an unchecked transport keeps the SDK's own classification", async () => {
    const { Server } = await import("@modelcontextprotocol/sdk/server/index.js");
    const { connectServer } = await import("../src/server/connect.ts");
    const h = harness();
    expect(await connectServer(new Server({ name: "t", version: "1" }, { capabilities: {} }), h.transport, { checked: false })).toBe("stock");
  });
});
