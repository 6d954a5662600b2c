/** The metric rows the ingest case sends, shared by the RPC run and the COPY baseline. */

const TYPES = ["cpu", "memory", "disk", "network"] as const;
export const VALUES_PER_METRIC = 10;

export interface BenchMetric {
  type: string;
  labels: Record<string, string>;
  /** Unix seconds. */
  ts: number;
  values: Record<string, number>;
}

/** Metric j of request r of a node: unique (type, labels, ts) per node, deterministic values. */
export function benchMetric(node: number, r: number, j: number, baseTs: number): BenchMetric {
  const values: Record<string, number> = {};
  const type = TYPES[j % TYPES.length] as string;
  for (let k = 0; k < VALUES_PER_METRIC; k++) {
    values[valueName(type, k)] = ((node * 7919 + r * 104_729 + j * 31 + k) % 100_000) / 7;
  }
  return {
    type,
    labels: { series: `s${j}` },
    ts: baseTs + r,
    values,
  };
}

export const benchNodeId = (prefix: string, i: number) => `${prefix}-${i}`;

/** The first keys carry the names the manager keeps as node usage, so ingest pays for that too. */
function valueName(type: string, k: number): string {
  if (type === "network" && k < 2) return k === 0 ? "rx_bytes_per_second" : "tx_bytes_per_second";
  return k === 0 && type !== "network" ? "usage_percent" : `value_${k}`;
}
