// Upstream's metrics, counted in plain maps on the request path: an OpenTelemetry
// instrument costs about a microsecond a record (attribute hashing), a tenth of a whole
// echo call here; a map update costs a hundredth of that. The SDK reads these tallies when
// it exports (producer.ts). Pure: no OpenTelemetry here.

export type MetricKind = "counter" | "updown" | "histogram";
export type MetricSpec = { name: string; kind: MetricKind; unit: string; description: string };
export type Labels = Record<string, string>;

export const METRICS = {
  toolCalls: { name: "mcp.tools.calls", kind: "counter", unit: "", description: "Tool calls, by tool and outcome" },
  toolDuration: { name: "mcp.tools.duration", kind: "histogram", unit: "s", description: "Tool call duration" },
  toolErrors: { name: "mcp.tools.errors", kind: "counter", unit: "", description: "Tool calls that failed" },
  resourceReads: { name: "mcp.resources.reads", kind: "counter", unit: "", description: "Resource reads, by URI and outcome" },
  resourceDuration: { name: "mcp.resources.read_duration", kind: "histogram", unit: "s", description: "Resource read duration" },
  promptGets: { name: "mcp.prompts.gets", kind: "counter", unit: "", description: "Prompt gets, by prompt and outcome" },
  promptDuration: { name: "mcp.prompts.get_duration", kind: "histogram", unit: "s", description: "Prompt get duration" },
  sessionEvents: { name: "mcp.sessions.events", kind: "counter", unit: "", description: "Session lifecycle events (initialized, closed, error)" },
  sessionsActive: { name: "mcp.server.sessions.active", kind: "updown", unit: "", description: "Sessions open now" },
  shutdowns: { name: "mcp.server.shutdowns", kind: "counter", unit: "", description: "Server shutdowns" },
  dropped: { name: "mcp.telemetry.dropped", kind: "counter", unit: "", description: "Spans and log records not sent: over telemetry.rate_limit, or their export failed" },
} as const satisfies Record<string, MetricSpec>;

// The semantic conventions' advice for durations in seconds (the SDK default suits milliseconds).
export const DURATION_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
// Every distinct resource URI is a series; past this many, the rest share one overflow
// series, as the OpenTelemetry SDK does (otel.metric.overflow), so memory stays bounded.
export const MAX_SERIES = 2000;
const OVERFLOW_KEY = "\u0000overflow";

export type SumSeries = { labels: Labels; value: number };
export type HistogramSeries = { labels: Labels; counts: number[]; sum: number; count: number; min: number; max: number };
export type Snapshot = { spec: MetricSpec; sums?: SumSeries[]; histograms?: HistogramSeries[] }[];

export function createTallies(boundaries: readonly number[] = DURATION_BOUNDARIES, maxSeries = MAX_SERIES) {
  const sums = new Map<MetricSpec, Map<string, SumSeries>>();
  const histograms = new Map<MetricSpec, Map<string, HistogramSeries>>();

  function seriesOf<T>(table: Map<MetricSpec, Map<string, T>>, spec: MetricSpec, key: string, make: (labels: Labels) => T, labels: () => Labels): T {
    let bySeries = table.get(spec);
    if (!bySeries) table.set(spec, (bySeries = new Map()));
    let series = bySeries.get(key);
    if (series) return series;
    if (bySeries.size >= maxSeries) {
      series = bySeries.get(OVERFLOW_KEY);
      if (!series) bySeries.set(OVERFLOW_KEY, (series = make({ "otel.metric.overflow": "true" })));
      return series;
    }
    bySeries.set(key, (series = make(labels())));
    return series;
  }

  return {
    /** Adds to a counter (or an up-down counter); `labels` is called only for a new series. */
    add(spec: MetricSpec, key: string, labels: () => Labels, value = 1) {
      seriesOf(sums, spec, key, (l) => ({ labels: l, value: 0 }), labels).value += value;
    },
    /** Sets a counter to a total counted elsewhere. */
    set(spec: MetricSpec, key: string, labels: () => Labels, value: number) {
      seriesOf(sums, spec, key, (l) => ({ labels: l, value: 0 }), labels).value = value;
    },
    record(spec: MetricSpec, key: string, labels: () => Labels, value: number) {
      const h = seriesOf(histograms, spec, key, (l) => ({ labels: l, counts: new Array<number>(boundaries.length + 1).fill(0), sum: 0, count: 0, min: Infinity, max: -Infinity }), labels);
      let i = 0;
      while (i < boundaries.length && value > boundaries[i]!) i++;
      h.counts[i]!++;
      h.sum += value;
      h.count++;
      if (value < h.min) h.min = value;
      if (value > h.max) h.max = value;
    },
    /** A copy of every series, for an export. */
    snapshot(): Snapshot {
      const out: Snapshot = [];
      for (const [spec, bySeries] of sums) out.push({ spec, sums: [...bySeries.values()].map((s) => ({ ...s })) });
      for (const [spec, bySeries] of histograms) out.push({ spec, histograms: [...bySeries.values()].map((h) => ({ ...h, counts: [...h.counts] })) });
      return out;
    },
    boundaries,
  };
}

export type Tallies = ReturnType<typeof createTallies>;
