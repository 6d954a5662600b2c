import { createChart, withGaps } from "./chart.js";
import { fleet } from "./client.js";
import { fill, h } from "./dom.js";
import { count, pct } from "./format.js";

export const FLEET_RANGES: [string, number][] = [
  ["1h", 3600],
  ["6h", 6 * 3600],
  ["24h", 86_400],
  ["7d", 7 * 86_400],
];

interface FleetChart {
  key: string;
  title: string;
  type: string;
  aggregates: string[];
  format: (v: number) => string;
  yRange?: [number, number];
}

const CHARTS: FleetChart[] = [
  {
    key: "fleet-reporting",
    title: "Nodes reporting CPU",
    type: "cpu",
    aggregates: ["count"],
    format: count,
  },
  {
    key: "fleet-cpu",
    title: "CPU across nodes",
    type: "cpu",
    aggregates: ["p50", "p90", "max"],
    format: pct,
    yRange: [0, 100],
  },
  {
    key: "fleet-memory",
    title: "Memory across nodes",
    type: "memory",
    aggregates: ["p50", "p90", "max"],
    format: pct,
    yRange: [0, 100],
  },
];

/**
 * The fleet chart section over the nodes the overview's filter selects:
 * how many report, and p50/p90/max of CPU and memory (QueryFleetMetrics).
 */
export function createFleetCharts(section: HTMLElement, onRange: (label: string) => void) {
  const bar = h("div", { class: "ranges", role: "group", "aria-label": "fleet chart range" });
  const grid = h("div", { class: "charts three" });
  fill(section, h("div", { class: "section-head" }, h("h2", {}, "Fleet over time"), bar), grid);
  const charts = CHARTS.map((spec) => {
    const box = h("div", { class: "chart", id: `chart-${spec.key}`, "data-chart": spec.key });
    grid.append(h("div", { class: "panel" }, h("h3", {}, spec.title), box));
    return {
      spec,
      chart: createChart(box, spec.key, {
        format: spec.format,
        syncKey: "fleet",
        height: 160,
        ...(spec.yRange ? { yRange: spec.yRange } : {}),
      }),
    };
  });
  let generation = 0;
  return {
    async load(filter: { status: string; selector: string }, range: string) {
      const my = ++generation;
      const seconds = FLEET_RANGES.find(([k]) => k === range)?.[1] ?? 3600;
      fill(
        bar,
        ...FLEET_RANGES.map(([label]) =>
          h(
            "button",
            {
              type: "button",
              "data-range": label,
              class: label === range ? "active" : undefined,
              onclick: () => onRange(label),
            },
            label,
          ),
        ),
      );
      const end = Math.floor(Date.now() / 1000) + 1;
      const start = end - seconds;
      const stepSeconds = Math.max(10, Math.ceil(seconds / 120));
      await Promise.all(
        charts.map(async ({ spec, chart }) => {
          try {
            const res = await fleet.queryFleetMetrics({
              ...filter,
              type: spec.type,
              name: "usage_percent",
              start: BigInt(start),
              end: BigInt(end),
              stepSeconds,
              aggregates: spec.aggregates,
            });
            if (my !== generation) return;
            const parts = res.series.map((s) => ({
              label: s.aggregate,
              points: s.points.map((p) => ({ t: Number(p.timestamp), v: p.value })),
            }));
            chart.set(withGaps(parts, start, end, res.stepSeconds));
          } catch (err) {
            console.warn("fleet: fleet chart query failed", err);
          }
        }),
      );
    },
    destroy() {
      generation++;
      for (const { chart } of charts) chart.destroy();
    },
  };
}
