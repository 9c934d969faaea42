// The tallies (tallies.ts) as an OpenTelemetry MetricProducer: each export reads them and
// hands the SDK cumulative sums and histograms under upstream's names.
import { ValueType } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, type MetricData, type MetricProducer } from "@opentelemetry/sdk-metrics";
import type { Tallies } from "./tallies.ts";

/** `beforeRead` brings counts kept elsewhere into the tallies first. */
export function talliesProducer(tallies: Tallies, scope: { name: string; version: string }, startedAtMs: number, beforeRead = () => {}): MetricProducer {
  const startTime = millisToHrTime(startedAtMs);
  return {
    async collect() {
      beforeRead();
      const endTime = millisToHrTime(performance.timeOrigin + performance.now());
      const metrics: MetricData[] = [];
      for (const { spec, sums, histograms } of tallies.snapshot()) {
        const descriptor = { name: spec.name, description: spec.description, unit: spec.unit, valueType: spec.kind === "histogram" ? ValueType.DOUBLE : ValueType.INT };
        if (sums) {
          metrics.push({
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: spec.kind === "counter",
            dataPoints: sums.map((s) => ({ startTime, endTime, attributes: s.labels, value: s.value })),
          });
        }
        if (histograms) {
          metrics.push({
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: histograms.map((h) => ({
              startTime,
              endTime,
              attributes: h.labels,
              value: { buckets: { boundaries: [...tallies.boundaries], counts: h.counts }, sum: h.sum, count: h.count, min: h.min, max: h.max },
            })),
          });
        }
      }
      // The reader puts the SDK's resource on these; the one given here is not used.
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: metrics.length ? [{ scope, metrics }] : [] }, errors: [] };
    },
  };
}
