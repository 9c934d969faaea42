// Contract tests for what we rely on inside the pinned @opentelemetry packages: where each
// OTLP exporter keeps its transport (retry.ts swaps it), and the createRequire call that
// build.ts's plugin replaces. A new version that moves either fails here, not in the field.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createExporters } from "../src/telemetry/exporters.ts";
import { applyRetryPolicy } from "../src/telemetry/retry.ts";

const policy = { enabled: true, maxRetries: 2, backoffMs: 10 };

describe("every OTLP exporter takes our retry policy", () => {
  for (const protocol of ["grpc", "http/protobuf", "http/json"] as const) {
    test(protocol, async () => {
      const urls = protocol === "grpc" ? { traces: "http://127.0.0.1:9", metrics: "http://127.0.0.1:9", logs: "http://127.0.0.1:9" } : { traces: "http://127.0.0.1:9/v1/traces", metrics: "http://127.0.0.1:9/v1/metrics", logs: "http://127.0.0.1:9/v1/logs" };
      const exporters = await createExporters({ protocol, urls, headers: {}, compression: false, timeoutMs: 1000, retry: policy }, { traces: true, metrics: true, logs: true });
      for (const exporter of [exporters.traces, exporters.metrics, exporters.logs]) {
        const transport = (exporter as unknown as { _delegate: { _transport: { send: unknown; retry?: unknown; _transport?: unknown } } })._delegate._transport;
        // Ours: a plain object with send and shutdown, not the SDK's RetryingTransport (which has retry()).
        expect(typeof transport.send).toBe("function");
        expect(transport.retry).toBeUndefined();
        await exporter!.shutdown();
      }
    });
  }

  test("an exporter shaped otherwise is refused loudly, not silently left with its own retries", () => {
    expect(() => applyRetryPolicy({}, policy)).toThrow("update src/telemetry/retry.ts");
  });
});

test("the gRPC exporter base still loads @grpc/grpc-js through createRequire (build.ts's otlpGrpcRequire replaces it)", () => {
  const runtime = join(import.meta.dir, "../node_modules/@opentelemetry/otlp-grpc-exporter-base/dist/_virtual/_rolldown/runtime.mjs");
  expect(readFileSync(runtime, "utf8")).toContain("createRequire(import.meta.url)");
});
