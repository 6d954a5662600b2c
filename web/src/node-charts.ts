import { createChart, withGaps } from "./chart.js";
import { fleet } from "./client.js";
import { h } from "./dom.js";
import { bytes, count, labelPairs, pct, rate } from "./format.js";

interface ChartSpec {
  key: string;
  title: string;
  type: string;
  /** Values keys drawn, each with its legend suffix. */
  names: [string, string][];
  /** The label that names a series in the legend (mount, interface), when present. */
  labelKey?: string;
  format: (v: number) => string;
  yRange?: [number, number];
}

const PERCENT: [number, number] = [0, 100];
export const NODE_CHARTS: ChartSpec[] = [
  {
    key: "cpu",
    title: "CPU",
    type: "cpu",
    names: [
      ["usage_percent", "usage"],
      ["iowait_percent", "iowait"],
    ],
    format: pct,
    yRange: PERCENT,
  },
  {
    key: "load",
    title: "Load average",
    type: "cpu",
    names: [
      ["load1", "1m"],
      ["load5", "5m"],
      ["load15", "15m"],
    ],
    format: count,
  },
  {
    key: "memory",
    title: "Memory usage",
    type: "memory",
    names: [["usage_percent", ""]],
    format: pct,
    yRange: PERCENT,
  },
  {
    key: "memory-bytes",
    title: "Memory",
    type: "memory",
    names: [
      ["used_bytes", "used"],
      ["cached_bytes", "cached"],
      ["swap_used_bytes", "swap used"],
    ],
    format: bytes,
  },
  {
    key: "disk",
    title: "Disk usage by mount",
    type: "disk",
    names: [["usage_percent", ""]],
    labelKey: "mount",
    format: pct,
    yRange: PERCENT,
  },
  {
    key: "disk-io",
    title: "Disk I/O",
    type: "disk",
    names: [
      ["read_bytes_per_second", "read"],
      ["write_bytes_per_second", "write"],
    ],
    labelKey: "mount",
    format: rate,
  },
  {
    key: "network",
    title: "Network throughput",
    type: "network",
    names: [
      ["rx_bytes_per_second", "rx"],
      ["tx_bytes_per_second", "tx"],
    ],
    labelKey: "interface",
    format: rate,
  },
  {
    key: "daemon-spool",
    title: "Daemon: memory and spool",
    type: "daemon",
    names: [
      ["rss_bytes", "rss"],
      ["spool_bytes", "spool"],
    ],
    format: bytes,
  },
  {
    key: "daemon-errors",
    title: "Daemon: retries and drops",
    type: "daemon",
    names: [
      ["retries", "retries"],
      ["batches_dropped", "batches dropped"],
      ["samples_dropped", "samples dropped"],
      ["spool_batches", "spooled batches"],
    ],
    format: count,
  },
];

/** About 300 points per chart, never finer than 10 s. */
export function stepFor(rangeSeconds: number): number {
  return Math.max(10, Math.ceil(rangeSeconds / 300));
}

/**
 * The node's charts in a grid, one crosshair across all of them. Each load
 * draws the chosen range as the x-axis with every bucket on it (gaps show).
 */
export function createNodeCharts(grid: HTMLElement, nodeId: string) {
  const charts = NODE_CHARTS.map((spec) => {
    const box = h("div", { class: "chart", id: `chart-${spec.key}`, "data-chart": spec.key });
    grid.append(h("div", { class: "panel" }, h("h2", {}, spec.title), box));
    const chart = createChart(box, spec.key, {
      format: spec.format,
      syncKey: `node-${nodeId}`,
      ...(spec.yRange ? { yRange: spec.yRange } : {}),
    });
    return { spec, chart };
  });
  let generation = 0;
  return {
    async load(range: number): Promise<void> {
      const my = ++generation;
      const end = Math.floor(Date.now() / 1000) + 1;
      const start = end - range;
      const stepSeconds = stepFor(range);
      await Promise.all(
        charts.map(async ({ spec, chart }) => {
          const results = await Promise.all(
            spec.names.map(([name]) =>
              fleet.queryMetrics({
                nodeId,
                type: spec.type,
                name,
                start: BigInt(start),
                end: BigInt(end),
                stepSeconds,
              }),
            ),
          );
          if (my !== generation) return;
          const parts = results.flatMap((res, i) =>
            res.series.map((s) => {
              const labels =
                (spec.labelKey && s.labels[spec.labelKey]) || labelPairs(s.labels).join(" ");
              const suffix = spec.names[i]?.[1] ?? "";
              return {
                label: [labels, suffix].filter(Boolean).join(" ") || spec.title,
                points: s.points.map((p) => ({ t: Number(p.timestamp), v: p.value })),
              };
            }),
          );
          chart.set(withGaps(parts, start, end, stepSeconds));
        }),
      ).catch((err: unknown) => console.warn("fleet: chart query failed", err));
    },
    destroy() {
      // Queries still in flight see a newer generation and leave the destroyed charts alone.
      generation++;
      for (const { chart } of charts) chart.destroy();
    },
  };
}
