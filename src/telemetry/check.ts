// `tfo-mcp validate --check-telemetry`: one test span, sent at once and without retries,
// and what the endpoint answered.
import { ExportResultCode } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createExporters } from "./exporters.ts";
import type { TelemetrySettings } from "./settings.ts";

export type CheckResult = { ok: true; ms: number } | { ok: false; ms: number; error: string };

export async function checkTelemetry(settings: TelemetrySettings, timeoutMs = Math.min(settings.timeoutMs, 10_000)): Promise<CheckResult> {
  const started = performance.now();
  const { traces } = await createExporters({ ...settings, timeoutMs, retry: { enabled: false, maxRetries: 0, backoffMs: 0 } }, { traces: true, metrics: false, logs: false });
  if (!traces) return { ok: false, ms: 0, error: "no trace exporter" };
  let answer: (r: CheckResult) => void = () => {};
  const answered = new Promise<CheckResult>((resolve) => {
    answer = resolve;
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes(settings.resource),
    spanProcessors: [
      new SimpleSpanProcessor({
        exporter: {
          export: (spans, done) =>
            traces.export(spans, (result) => {
              const ms = Math.round(performance.now() - started);
              answer(result.code === ExportResultCode.SUCCESS ? { ok: true, ms } : { ok: false, ms, error: String(result.error?.message ?? result.error ?? "export failed") });
              done(result);
            }),
          shutdown: () => traces.shutdown(),
        },
      }),
    ],
  });
  provider.getTracer("tfo-mcp").startSpan("tfo-mcp.telemetry.check", { attributes: { "mcp.check": true } }).end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    answered,
    new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, ms: timeoutMs, error: `no answer within ${timeoutMs} ms` }), timeoutMs + 500);
    }),
  ]);
  clearTimeout(timer);
  await Promise.race([provider.shutdown().catch(() => {}), Bun.sleep(500)]);
  return result;
}
