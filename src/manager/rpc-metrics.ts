import type { Metric, Registry } from "prom-client";

/** One method × status code: its call count and duration histogram. */
export interface RpcSeries {
  readonly labels: Readonly<{ method: string; code: string }>;
  /** Records one call that took `seconds`. */
  observe(seconds: number): void;
}

interface SeriesState extends RpcSeries {
  /** fleet_rpc_requests_total (reset on its own). */
  calls: number;
  /** The histogram's _count. */
  count: number;
  sum: number;
  /** Calls per bucket (not cumulative); index i counts values ≤ bounds[i] and > bounds[i-1]. */
  perBucket: Float64Array;
}

const REQUESTS = "fleet_rpc_requests_total";
const DURATION = "fleet_rpc_duration_seconds";

/**
 * fleet_rpc_requests_total and fleet_rpc_duration_seconds, the two series
 * every RPC updates. prom-client's Counter.inc and Histogram.observe validate
 * and hash the label set on every call (about 4 µs a call together, measured
 * on the heartbeat path); here a call updates its series' numbers directly,
 * the series being looked up once per method and code by the caller. The
 * metrics are registered as prom-client metric objects whose get() returns
 * what prom-client's own Counter and Histogram return, so /metrics renders
 * them the same and --workers aggregates them by summing (cluster.ts).
 */
export function createRpcMetrics(registry: Registry, bounds: readonly number[]) {
  const all = new Map<string, SeriesState>();

  const series = (method: string, code: string): RpcSeries => {
    const key = `${method}\u0000${code}`;
    let s = all.get(key);
    if (!s) {
      const state: SeriesState = {
        labels: Object.freeze({ method, code }),
        calls: 0,
        count: 0,
        sum: 0,
        perBucket: new Float64Array(bounds.length),
        observe(seconds: number) {
          state.calls += 1;
          state.count += 1;
          state.sum += seconds;
          for (let i = 0; i < bounds.length; i++) {
            if (seconds <= (bounds[i] as number)) {
              state.perBucket[i] = (state.perBucket[i] as number) + 1;
              return;
            }
          }
        },
      };
      s = state;
      all.set(key, s);
    }
    return s;
  };

  const requests = {
    name: REQUESTS,
    help: "RPCs handled, by method and status code",
    type: "counter",
    aggregator: "sum",
    get: async () => ({
      name: REQUESTS,
      help: requests.help,
      type: "counter",
      aggregator: "sum",
      values: [...all.values()].map((s) => ({ value: s.calls, labels: { ...s.labels } })),
    }),
    reset() {
      for (const s of all.values()) s.calls = 0;
    },
  };
  const duration = {
    name: DURATION,
    help: "RPC latency, by method and status code",
    type: "histogram",
    aggregator: "sum",
    get: async () => ({
      name: DURATION,
      help: duration.help,
      type: "histogram",
      aggregator: "sum",
      values: [...all.values()].flatMap((s) => histogramValues(s, bounds)),
    }),
    reset() {
      for (const s of all.values()) {
        s.count = 0;
        s.sum = 0;
        s.perBucket.fill(0);
      }
    },
  };
  // Registry.registerMetric takes prom-client's classes in its types; it
  // reads only name, get() (and reset()), as for any metric.
  registry.registerMetric(requests as unknown as Metric);
  registry.registerMetric(duration as unknown as Metric);
  return { series };
}

export type RpcMetrics = ReturnType<typeof createRpcMetrics>;

/** A series as prom-client's Histogram.get() gives it: cumulative buckets, +Inf, _sum, _count. */
function histogramValues(s: SeriesState, bounds: readonly number[]) {
  const out: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
  let acc = 0;
  for (let i = 0; i < bounds.length; i++) {
    acc += s.perBucket[i] as number;
    out.push({
      labels: { le: bounds[i] as number, ...s.labels },
      value: acc,
      metricName: `${DURATION}_bucket`,
    });
  }
  out.push(
    { labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: `${DURATION}_bucket` },
    { labels: { ...s.labels }, value: s.sum, metricName: `${DURATION}_sum` },
    { labels: { ...s.labels }, value: s.count, metricName: `${DURATION}_count` },
  );
  return out;
}
