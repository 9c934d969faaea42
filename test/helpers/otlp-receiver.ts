// Small OTLP receivers for tests, since no collector can be installed on the CI machines:
// one over HTTP (/v1/traces, /v1/metrics, /v1/logs; JSON or protobuf, gzip or not) and one
// over gRPC (the three collector services). Each decodes what arrives into one plain shape
// (spans, metric points, log records with their resource attributes) and keeps the headers
// or gRPC metadata, so a test can assert on names, attributes, parent/child links and auth.
// Either can be told to refuse the next exports (HTTP status, gRPC code), and stopped and
// started again on the same port.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { OTLP_PROTO_FILES } from "./otlp-receiver-proto.ts";

export type Signal = "traces" | "metrics" | "logs";
export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };
export type Attrs = Record<string, Value>;

export type ReceivedSpan = { name: string; traceId: string; spanId: string; parentSpanId: string; kind: number; attributes: Attrs; status: { code: number; message: string }; resource: Attrs; scope: string; startMs: number; endMs: number };
export type ReceivedPoint = { metric: string; unit: string; type: "sum" | "gauge" | "histogram"; monotonic?: boolean; attributes: Attrs; value?: number; count?: number; sum?: number; bucketCounts?: number[]; bounds?: number[]; resource: Attrs };
export type ReceivedLog = { body: Value; severityText: string; severityNumber: number; attributes: Attrs; resource: Attrs; traceId: string };
export type Request = { signal: Signal; encoding: "json" | "protobuf"; headers: Record<string, string>; at: number; answered: number | string };

const SERVICES: Record<Signal, { service: string; request: string }> = {
  traces: { service: "opentelemetry.proto.collector.trace.v1.TraceService", request: "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest" },
  metrics: { service: "opentelemetry.proto.collector.metrics.v1.MetricsService", request: "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest" },
  logs: { service: "opentelemetry.proto.collector.logs.v1.LogsService", request: "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest" },
};

let root: protobuf.Root | undefined;
function requestType(signal: Signal): protobuf.Type {
  if (!root) {
    root = new protobuf.Root();
    for (const text of Object.values(OTLP_PROTO_FILES)) protobuf.parse(text, root);
    root.resolveAll();
  }
  return root.lookupType(SERVICES[signal].request);
}

/** Protobuf bytes → the OTLP/JSON shape (lowerCamelCase, ids as hex). */
export function decodeProtobuf(signal: Signal, bytes: Uint8Array): Record<string, unknown> {
  const type = requestType(signal);
  const message = type.decode(bytes);
  return type.toObject(message, { longs: String, enums: Number, bytes: String, defaults: false, arrays: true }) as Record<string, unknown>;
}

const hexOf = (id: unknown, encoding: "json" | "protobuf") => {
  if (typeof id !== "string" || id === "") return "";
  return encoding === "protobuf" ? Buffer.from(id, "base64").toString("hex") : id.toLowerCase();
};

function anyValue(v: any): Value {
  if (!v || typeof v !== "object") return null;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("arrayValue" in v) return (v.arrayValue?.values ?? []).map(anyValue);
  if ("kvlistValue" in v) return attrs(v.kvlistValue?.values);
  return null;
}
function attrs(list: any[] | undefined): Attrs {
  const out: Attrs = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}
const ms = (nanos: unknown) => Number(BigInt(String(nanos ?? "0")) / 1_000_000n);

function collect(signal: Signal, body: any, encoding: "json" | "protobuf", into: { spans: ReceivedSpan[]; points: ReceivedPoint[]; logs: ReceivedLog[] }) {
  if (signal === "traces") {
    for (const rs of body.resourceSpans ?? []) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          into.spans.push({
            name: s.name,
            traceId: hexOf(s.traceId, encoding),
            spanId: hexOf(s.spanId, encoding),
            parentSpanId: hexOf(s.parentSpanId, encoding),
            kind: Number(s.kind ?? 0),
            attributes: attrs(s.attributes),
            status: { code: Number(s.status?.code ?? 0), message: s.status?.message ?? "" },
            resource,
            scope: ss.scope?.name ?? "",
            startMs: ms(s.startTimeUnixNano),
            endMs: ms(s.endTimeUnixNano),
          });
    }
  } else if (signal === "metrics") {
    for (const rm of body.resourceMetrics ?? []) {
      const resource = attrs(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? [])
        for (const m of sm.metrics ?? []) {
          const base = { metric: m.name, unit: m.unit ?? "", resource };
          if (m.sum)
            for (const p of m.sum.dataPoints ?? [])
              into.points.push({ ...base, type: "sum", monotonic: Boolean(m.sum.isMonotonic), attributes: attrs(p.attributes), value: Number(p.asInt ?? p.asDouble ?? 0) });
          if (m.gauge) for (const p of m.gauge.dataPoints ?? []) into.points.push({ ...base, type: "gauge", attributes: attrs(p.attributes), value: Number(p.asInt ?? p.asDouble ?? 0) });
          if (m.histogram)
            for (const p of m.histogram.dataPoints ?? [])
              into.points.push({
                ...base,
                type: "histogram",
                attributes: attrs(p.attributes),
                count: Number(p.count ?? 0),
                sum: Number(p.sum ?? 0),
                bucketCounts: (p.bucketCounts ?? []).map(Number),
                bounds: (p.explicitBounds ?? []).map(Number),
              });
        }
    }
  } else {
    for (const rl of body.resourceLogs ?? []) {
      const resource = attrs(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? [])
          into.logs.push({ body: anyValue(r.body), severityText: r.severityText ?? "", severityNumber: Number(r.severityNumber ?? 0), attributes: attrs(r.attributes), resource, traceId: hexOf(r.traceId, encoding) });
    }
  }
}

/** What a receiver has seen, and helpers to wait for it. */
function store() {
  const got = { spans: [] as ReceivedSpan[], points: [] as ReceivedPoint[], logs: [] as ReceivedLog[], requests: [] as Request[] };
  return {
    ...got,
    /** the latest cumulative point of a metric with these attributes (a subset match) */
    point(metric: string, match: Attrs = {}): ReceivedPoint | undefined {
      return got.points.filter((p) => p.metric === metric && Object.entries(match).every(([k, v]) => p.attributes[k] === v)).at(-1);
    },
    span(name: string): ReceivedSpan | undefined {
      return got.spans.find((s) => s.name === name);
    },
    clear() {
      got.spans.length = 0;
      got.points.length = 0;
      got.logs.length = 0;
      got.requests.length = 0;
    },
  };
}

export type Receiver = ReturnType<typeof store> & {
  /** the endpoint to configure: http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** answer the next `n` exports (of `answer.signal`, or any) with this HTTP status (and Retry-After seconds) or gRPC code */
  refuse(n: number, answer: Answer): void;
  /** hold each export this long before answering (a slow collector) */
  delay(ms: number): void;
  stop(): Promise<void>;
  start(): Promise<void>;
};

type Answer = { status?: number; retryAfter?: string; grpcCode?: number; signal?: Signal };

/** The first refusal meant for this signal, taken off the list. */
function takeRefusal(refusals: Answer[], signal: Signal): Answer | undefined {
  const i = refusals.findIndex((r) => !r.signal || r.signal === signal);
  return i === -1 ? undefined : refusals.splice(i, 1)[0];
}

export async function startHttpReceiver(port = 0): Promise<Receiver> {
  const seen = store();
  const refusals: Answer[] = [];
  let holdMs = 0;
  let server: ReturnType<typeof Bun.serve> | undefined;
  const listen = (p: number) =>
    Bun.serve({
      hostname: "127.0.0.1",
      port: p,
      async fetch(req) {
        const m = new URL(req.url).pathname.match(/^\/v1\/(traces|metrics|logs)$/);
        if (!m || req.method !== "POST") return new Response("not found", { status: 404 });
        const signal = m[1] as Signal;
        let bytes = new Uint8Array(await req.arrayBuffer());
        if (req.headers.get("content-encoding") === "gzip") bytes = Bun.gunzipSync(bytes);
        const json = (req.headers.get("content-type") ?? "").includes("json");
        const headers = Object.fromEntries(req.headers);
        if (holdMs) await Bun.sleep(holdMs);
        const refusal = takeRefusal(refusals, signal);
        seen.requests.push({ signal, encoding: json ? "json" : "protobuf", headers, at: performance.now(), answered: refusal?.status ?? 200 });
        if (refusal?.status) return new Response("refused", { status: refusal.status, headers: refusal.retryAfter ? { "retry-after": refusal.retryAfter } : {} });
        const body = json ? JSON.parse(new TextDecoder().decode(bytes)) : decodeProtobuf(signal, bytes);
        collect(signal, body, json ? "json" : "protobuf", seen);
        return json ? Response.json({}) : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
      },
    });
  server = listen(port);
  const fixedPort = server.port!;
  return Object.assign(seen, {
    url: `http://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    refuse(n: number, answer: Answer) {
      for (let i = 0; i < n; i++) refusals.push(answer);
    },
    delay(ms: number) {
      holdMs = ms;
    },
    async stop() {
      await server?.stop(true);
      server = undefined;
    },
    async start() {
      server ??= listen(fixedPort);
    },
  });
}

export async function startGrpcReceiver(port = 0): Promise<Receiver> {
  const seen = store();
  const refusals: Answer[] = [];
  let holdMs = 0;
  let server: grpc.Server | undefined;
  const raw = (b: Buffer) => b;
  const listen = async (p: number) => {
    const s = new grpc.Server();
    for (const signal of ["traces", "metrics", "logs"] as Signal[]) {
      s.addService(
        { Export: { path: `/${SERVICES[signal].service}/Export`, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } } as grpc.ServiceDefinition,
        {
          Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
            const answer = async () => {
              if (holdMs) await Bun.sleep(holdMs);
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
              const refusal = takeRefusal(refusals, signal);
              seen.requests.push({ signal, encoding: "protobuf", headers, at: performance.now(), answered: refusal?.grpcCode ?? 0 });
              if (refusal?.grpcCode) return done({ code: refusal.grpcCode, details: "refused by the test" });
              collect(signal, decodeProtobuf(signal, call.request), "protobuf", seen);
              done(null, Buffer.alloc(0));
            };
            void answer();
          },
        },
      );
    }
    const bound = await new Promise<number>((resolve, reject) => s.bindAsync(`127.0.0.1:${p}`, grpc.ServerCredentials.createInsecure(), (e, got) => (e ? reject(e) : resolve(got))));
    server = s;
    return bound;
  };
  const fixedPort = await listen(port);
  return Object.assign(seen, {
    url: `http://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    refuse(n: number, answer: Answer) {
      for (let i = 0; i < n; i++) refusals.push(answer);
    },
    delay(ms: number) {
      holdMs = ms;
    },
    async stop() {
      server?.forceShutdown();
      server = undefined;
    },
    async start() {
      if (!server) await listen(fixedPort);
    },
  });
}
