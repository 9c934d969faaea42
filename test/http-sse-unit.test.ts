// The SSE transport's stream on its own: what goes down it, and that a quiet session still
// sends something often enough for proxies that cut idle streams.
import { expect, test } from "bun:test";
import { sseTransport } from "../src/server/http-sse.ts";

async function readFor(stream: ReadableStream<Uint8Array>, ms: number): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const next = await Promise.race([reader.read(), Bun.sleep(end - performance.now()).then(() => undefined)]);
    if (!next || next.done) break;
    text += decoder.decode(next.value);
  }
  reader.releaseLock();
  return text;
}

test("the stream names the endpoint first, then carries messages, and beats while quiet", async () => {
  const sent: unknown[] = [];
  const t = sseTransport("s1", (m) => sent.push(m), 20);
  await t.send({ jsonrpc: "2.0", id: 1, result: {} });
  const text = await readFor(t.response.body!, 120);
  expect(text.startsWith("event: endpoint\ndata: /messages?sessionId=s1\n\n")).toBe(true);
  expect(text).toContain('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
  expect(text.split(": keepalive\n\n").length - 1).toBeGreaterThanOrEqual(2);
  expect(sent).toHaveLength(1);
  await t.close();
});

test("closing stops the beat and ends the stream; sending after it says the stream is closed", async () => {
  let closed = 0;
  const t = sseTransport("s2", () => {}, 10);
  t.onclose = () => closed++;
  await t.close();
  await t.close();
  expect(closed).toBe(1);
  const text = await readFor(t.response.body!, 60);
  expect(text).not.toContain("keepalive");
  expect(t.send({ jsonrpc: "2.0", id: 2, result: {} })).rejects.toThrow(/closed/);
});
