import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** One value per timestamp; null where the series has no point. */
  values: (number | null)[];
}

export interface ChartData {
  /** Unix seconds, ascending. */
  timestamps: number[];
  series: ChartSeries[];
}

declare global {
  interface Window {
    /** What each chart on the page draws, keyed by chart name (for tests and debugging). */
    __fleetCharts?: Record<string, ChartData>;
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

/** A uPlot time-series chart that follows its container's width. */
export function createChart(
  container: HTMLElement,
  key: string,
  format: (v: number) => string,
): { set(data: ChartData): void; destroy(): void } {
  let plot: uPlot | undefined;
  const width = () => Math.max(280, container.clientWidth);
  const resize = new ResizeObserver(() => plot?.setSize({ width: width(), height: 220 }));
  resize.observe(container);

  return {
    set(data) {
      window.__fleetCharts = { ...window.__fleetCharts, [key]: data };
      container.dataset.points = String(
        data.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0),
      );
      container.dataset.series = String(data.series.length);
      plot?.destroy();
      plot = undefined;
      container.querySelector(".empty")?.remove();
      if (data.series.length === 0) {
        container.append(
          Object.assign(document.createElement("div"), {
            className: "empty",
            textContent: "no data in this range",
          }),
        );
        return;
      }
      const opts: uPlot.Options = {
        width: width(),
        height: 220,
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, ticks: { stroke: "#334155" } },
          {
            stroke: "#94a3b8",
            grid: { stroke: "#1e293b" },
            ticks: { stroke: "#334155" },
            size: 84,
            values: (_u, splits) => splits.map(format),
          },
        ],
        series: [
          {},
          ...data.series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            spanGaps: false,
            points: { show: data.timestamps.length < 60 },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)),
          })),
        ],
      };
      plot = new uPlot(
        opts,
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
