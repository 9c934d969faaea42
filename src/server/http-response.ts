// Responses the http server writes itself, and a watch on the ones the SDK writes.

export const jsonError = (status: number, message: string, headers: Record<string, string> = {}, code = -32000) =>
  Response.json({ jsonrpc: "2.0", id: null, error: { code, message } }, { status, headers });

const encoder = new TextEncoder();

/**
 * The same response, calling `done` once when its event stream has been handed over in full
 * or the client went away (at once for any other response: its body is already whole): how
 * the server knows a call or a stream is still open. With `prelude`, those bytes go first:
 * Bun sends a streaming response's headers with its first chunk, so an SSE stream with
 * nothing to say yet would leave the client waiting for its headers.
 */
export function watchResponse(res: Response, done: () => void, prelude?: string): Response {
  if (res.body === null || !res.headers.get("content-type")?.startsWith("text/event-stream")) {
    done();
    return res;
  }
  const reader = res.body.getReader();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (prelude) controller.enqueue(encoder.encode(prelude));
      },
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            controller.close();
            finish();
          } else controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
