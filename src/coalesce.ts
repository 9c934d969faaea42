// Many small writes in one turn of the event loop become one write: under load a
// syscall per JSON-RPC message (or log line) costs more than the work behind it.
// The first write of a turn goes out at once, so a lone response is not delayed;
// what follows in the same turn is gathered and written together at its end.
export type Sink = { write(chunk: string): unknown };

export function coalescingWriter(sink: Sink, maxBuffered = 1 << 20) {
  let parts: string[] = [];
  let size = 0;
  let windowOpen = false;
  const flush = () => {
    if (parts.length === 0) return;
    const text = parts.length === 1 ? parts[0]! : parts.join("");
    parts = [];
    size = 0;
    sink.write(text);
  };
  const endOfTurn = () => {
    windowOpen = false;
    flush();
  };
  return {
    write(chunk: string) {
      if (!windowOpen) {
        windowOpen = true;
        setImmediate(endOfTurn);
        sink.write(chunk);
        return;
      }
      parts.push(chunk);
      size += chunk.length;
      if (size >= maxBuffered) flush();
    },
    flush,
  };
}
