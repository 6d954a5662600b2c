import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** One value per timestamp; null where the series has no point (drawn as a gap). */
  values: (number | null)[];
}

export interface ChartData {
  /** Unix seconds, ascending: every bucket of the range, so gaps stay visible. */
  timestamps: number[];
  series: ChartSeries[];
  /** The x-axis: the chosen range, not the extent of the data. */
  range: [number, number];
}

export interface ChartOptions {
  format: (v: number) => string;
  /** A fixed y-axis, e.g. [0, 100] for percentages. */
  yRange?: [number, number];
  /** Charts with the same key share one crosshair. */
  syncKey?: string;
  height?: number;
}

declare global {
  interface Window {
    /** What each chart on the page draws, keyed by chart name (for tests and debugging). */
    __fleetCharts?: Record<string, ChartData & { hidden: string[]; yRange?: [number, number] }>;
  }
}

const COLORS = [
  "#38bdf8",
  "#f472b6",
  "#a3e635",
  "#fbbf24",
  "#c084fc",
  "#f87171",
  "#2dd4bf",
  "#fb923c",
];

/** A series that is zero (or absent) everywhere says nothing; it starts hidden. */
export function allZero(s: ChartSeries): boolean {
  return s.values.every((v) => v === null || v === 0);
}

/**
 * A uPlot time-series chart that follows its container's width. All-zero
 * series start hidden (click the legend to show them); the legend says so.
 */
export function createChart(
  container: HTMLElement,
  key: string,
  opts: ChartOptions,
): { set(data: ChartData): void; destroy(): void } {
  let plot: uPlot | undefined;
  const height = opts.height ?? 200;
  const width = () => Math.max(240, container.clientWidth);
  const resize = new ResizeObserver(() => plot?.setSize({ width: width(), height }));
  resize.observe(container);
  const axis = {
    stroke: "#94a3b8",
    grid: { stroke: "#1e293b" },
    ticks: { stroke: "#334155" },
  };

  return {
    set(data) {
      const hidden = data.series.filter(allZero).map((s) => s.label);
      window.__fleetCharts = {
        ...window.__fleetCharts,
        [key]: { ...data, hidden, ...(opts.yRange ? { yRange: opts.yRange } : {}) },
      };
      container.dataset.points = String(
        data.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0),
      );
      container.dataset.series = String(data.series.length);
      container.dataset.hidden = String(hidden.length);
      plot?.destroy();
      plot = undefined;
      container.querySelector(".empty")?.remove();
      if (data.series.every((s) => s.values.every((v) => v === null))) {
        container.append(
          Object.assign(document.createElement("div"), {
            className: "empty",
            textContent: "no data in this range",
          }),
        );
        return;
      }
      const [x0, x1] = data.range;
      const options: uPlot.Options = {
        width: width(),
        height,
        cursor: {
          drag: { x: true, y: false },
          ...(opts.syncKey ? { sync: { key: opts.syncKey } } : {}),
        },
        legend: { live: true },
        // The scales as drawn, for tests and debugging (canvas labels are not in the DOM).
        hooks: {
          setScale: [
            (u: uPlot, k: string) => {
              const sc = u.scales[k];
              if (!sc || (k !== "x" && k !== "y")) return;
              container.dataset[`${k}Min`] = String(sc.min);
              container.dataset[`${k}Max`] = String(sc.max);
            },
          ],
        },
        scales: {
          x: { time: true, range: () => [x0, x1] },
          y: opts.yRange
            ? { range: () => opts.yRange as [number, number] }
            : { range: (_u, min, max) => [Math.min(0, min), max > min ? max * 1.05 : min + 1] },
        },
        axes: [axis, { ...axis, size: 76, values: (_u, splits) => splits.map(opts.format) }],
        series: [
          {},
          ...data.series.map((s, i) => ({
            label: allZero(s) ? `${s.label} (all 0)` : s.label,
            show: !allZero(s),
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            spanGaps: false,
            // Lone points (between gaps) would be invisible without their dots.
            points: { show: data.timestamps.length < 80 },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : opts.format(v)),
          })),
        ],
      };
      plot = new uPlot(
        options,
        [data.timestamps, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
        container,
      );
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
    },
  };
}

/**
 * Merges series onto one time axis and breaks the line where data stops: a
 * null goes in wherever consecutive points lie further apart than 2.5 × the
 * usual spacing (at least the step), so a node that stopped reporting shows a
 * gap, and the x-axis (data.range) still spans the whole chosen range.
 */
export function withGaps(
  parts: { label: string; points: { t: number; v: number }[] }[],
  start: number,
  end: number,
  step: number,
): ChartData {
  const times = [...new Set(parts.flatMap((p) => p.points.map((x) => x.t)))].sort((a, b) => a - b);
  const diffs = times
    .slice(1)
    .map((t, i) => t - (times[i] as number))
    .sort((a, b) => a - b);
  const usual = Math.max(step, diffs[Math.floor(diffs.length / 2)] ?? step);
  const timestamps: number[] = [];
  for (const [i, t] of times.entries()) {
    const prev = times[i - 1];
    if (prev !== undefined && t - prev > 2.5 * usual) timestamps.push(prev + usual);
    timestamps.push(t);
  }
  const index = new Map(timestamps.map((t, i) => [t, i]));
  const series = parts.map((p) => {
    const values: (number | null)[] = timestamps.map(() => null);
    for (const x of p.points) values[index.get(x.t) as number] = x.v;
    return { label: p.label, values };
  });
  return { timestamps, series, range: [start, end] };
}
