// /metrics of `serve --workers N`: whichever worker a scrape reaches asks the primary
// (METRICS_SUM), which asks every worker for its own figures (METRICS_COLLECT), adds its own
// process metrics and sums them with prom-client's AggregatorRegistry.aggregate: counters and
// histogram buckets are summed, and prom-client's default process metrics are summed or
// averaged as it declares (event-loop lag averaged, the version taken once, the start time left out).
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** Primary → worker: the worker's own metrics, as prom-client JSON. */
export const METRICS_COLLECT = 'metrics.collect';
/** Worker → primary: every process's metrics summed, as Prometheus text. */
export const METRICS_SUM = 'metrics.sum';

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

/** The Prometheus text of `lists` (one per process) summed. */
export function sumMetrics(lists: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(lists).metrics();
}
