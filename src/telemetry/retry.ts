// telemetry.retry_enabled, max_retries and retry_backoff_ms, applied to the official OTLP
// exporters. Those exporters take no retry options: over HTTP they retry five times on a
// fixed schedule, over gRPC not at all. So this module swaps in a transport of its own
// around the exporter's inner one: the one place that touches an exporter's private
// fields (`_delegate._transport`), pinned with the packages (exact versions) and checked
// by test/telemetry-adapter.test.ts, which fails if a new version moves them.

/** What an exporter transport answers (otlp-exporter-base's ExportResponse). */
export type ExportResponse =
  | { status: "success"; data?: Uint8Array }
  | { status: "failure"; error: Error & { code?: unknown } }
  | { status: "retryable"; retryInMillis?: number; error?: Error };

export type Transport = { send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse>; shutdown(): void };

export type RetryPolicy = { enabled: boolean; maxRetries: number; backoffMs: number };

// gRPC codes the OTLP specification calls retryable: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS.
const RETRYABLE_GRPC_CODES = new Set([1, 4, 10, 11, 14, 15]);
const MAX_BACKOFF_MS = 30_000;

export function isRetryable(response: ExportResponse): boolean {
  if (response.status === "retryable") return true;
  if (response.status !== "failure") return false;
  const code = response.error?.code;
  return typeof code === "number" && RETRYABLE_GRPC_CODES.has(code);
}

/** Delay before retry `attempt` (1-based): backoff doubled each time, ±20 % jitter, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const base = Math.min(policy.backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Retries what the collector says may succeed later, as the policy allows, within the export's timeout. */
export function retryingTransport(inner: Transport, policy: RetryPolicy, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))): Transport {
  return {
    async send(data, timeoutMillis) {
      const deadline = Date.now() + timeoutMillis;
      let response = await inner.send(data, timeoutMillis);
      for (let attempt = 1; policy.enabled && attempt <= policy.maxRetries && isRetryable(response); attempt++) {
        // The collector's Retry-After wins over our schedule.
        const asked = response.status === "retryable" ? response.retryInMillis : undefined;
        const wait = asked !== undefined && asked >= 0 ? asked : backoffDelay(policy, attempt);
        if (Date.now() + wait >= deadline) break;
        await sleep(wait);
        response = await inner.send(data, deadline - Date.now());
      }
      return response;
    },
    shutdown: () => inner.shutdown(),
  };
}

type Exporterish = { _delegate?: { _transport?: Transport & { _transport?: Transport; retry?: unknown } } };

/** Puts the policy on an OTLP exporter of the pinned versions; throws if the exporter is not shaped as expected. */
export function applyRetryPolicy(exporter: object, policy: RetryPolicy): void {
  const delegate = (exporter as Exporterish)._delegate;
  const transport = delegate?._transport;
  if (!delegate || typeof transport?.send !== "function") {
    throw new Error("this @opentelemetry exporter version keeps its transport elsewhere; update src/telemetry/retry.ts with the version pin");
  }
  // The HTTP exporters wrap theirs in a fixed five-retry schedule: ours replaces it.
  const inner = typeof transport.retry === "function" && typeof transport._transport?.send === "function" ? transport._transport : transport;
  delegate._transport = retryingTransport(inner, policy);
}
