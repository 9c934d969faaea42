// Many small writes in one turn of the event loop become one write: under load a
// syscall per JSON-RPC message (or log line) costs more than the work behind it.
export type Sink = { write(chunk: string): unknown };

export function coalescingWriter(sink: Sink, maxBuffered = 1 << 20) {
  let parts: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (parts.length === 0) return;
    const text = parts.length === 1 ? parts[0]! : parts.join("");
    parts = [];
    size = 0;
    sink.write(text);
  };
  return {
    write(chunk: string) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= maxBuffered) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
