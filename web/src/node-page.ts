import type { Node } from "../../gen/fleet/v1/fleet_pb.js";
import { trustBadges } from "./badges.js";
import { type ChartData, type ChartSeries, createChart } from "./chart.js";
import { fleet } from "./client.js";
import { fill, h } from "./dom.js";
import { ago, bytes, labelPairs, when } from "./format.js";
import { onNodeEvent } from "./live.js";

const RANGES: [string, number][] = [
  ["15m", 900],
  ["1h", 3600],
  ["6h", 6 * 3600],
  ["24h", 86_400],
  ["7d", 7 * 86_400],
  ["30d", 30 * 86_400],
];

interface ChartSpec {
  key: string;
  title: string;
  type: string;
  names: string[];
  /** The label that names a series in the legend (mount, interface), when present. */
  labelKey?: string;
  format: (v: number) => string;
}

const pct = (v: number) => `${Math.round(v * 10) / 10}%`;
const CHARTS: ChartSpec[] = [
  { key: "cpu", title: "CPU usage", type: "cpu", names: ["usage_percent"], format: pct },
  { key: "memory", title: "Memory usage", type: "memory", names: ["usage_percent"], format: pct },
  {
    key: "disk",
    title: "Disk usage by mount",
    type: "disk",
    names: ["usage_percent"],
    labelKey: "mount",
    format: pct,
  },
  {
    key: "network",
    title: "Network throughput",
    type: "network",
    names: ["rx_bytes_per_second", "tx_bytes_per_second"],
    labelKey: "interface",
    format: (v) => `${bytes(v)}/s`,
  },
];

/** About 300 points per chart, never finer than 10 s. */
export function stepFor(rangeSeconds: number): number {
  return Math.max(10, Math.ceil(rangeSeconds / 300));
}

/** Merges series with their own timestamps onto one sorted time axis (nulls in the gaps). */
export function align(parts: { label: string; points: { t: number; v: number }[] }[]): ChartData {
  const times = [...new Set(parts.flatMap((p) => p.points.map((x) => x.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const series: ChartSeries[] = parts.map((p) => {
    const values: (number | null)[] = times.map(() => null);
    for (const x of p.points) values[index.get(x.t) as number] = x.v;
    return { label: p.label, values };
  });
  return { timestamps: times, series };
}

/** One node: facts, live status, and cpu/memory/disk/network charts over a chosen range. */
export function renderNodePage(
  root: HTMLElement,
  nodeId: string,
  query: URLSearchParams,
): () => void {
  let range = RANGES.find(([k]) => k === query.get("range"))?.[1] ?? 3600;
  const facts = h("section", { class: "panel facts", id: "node-facts" }, "loading…");
  const rangeBar = h("div", { class: "ranges", role: "group", "aria-label": "time range" });
  const grid = h("section", { class: "charts" });
  const charts = CHARTS.map((spec) => {
    const box = h("div", { class: "chart", id: `chart-${spec.key}`, "data-chart": spec.key });
    grid.append(h("div", { class: "panel" }, h("h2", {}, spec.title), box));
    return { spec, chart: createChart(box, spec.key, spec.format) };
  });
  fill(
    root,
    h("p", {}, h("a", { href: "#/" }, "← fleet")),
    facts,
    h("div", { class: "toolbar" }, rangeBar),
    grid,
  );

  const renderRanges = () =>
    fill(
      rangeBar,
      ...RANGES.map(([label, seconds]) =>
        h(
          "button",
          {
            type: "button",
            "data-range": label,
            class: seconds === range ? "active" : undefined,
            onclick: () => {
              range = seconds;
              history.replaceState(null, "", `#/node/${encodeURIComponent(nodeId)}?range=${label}`);
              renderRanges();
              void loadCharts();
            },
          },
          label,
        ),
      ),
    );

  const renderFacts = (n: Node) => {
    const row = (k: string, v: Node | string | HTMLElement) =>
      h(
        "div",
        { class: "fact" },
        h("span", { class: "k" }, k),
        h("span", { class: "v" }, v as string),
      );
    fill(
      facts,
      h(
        "h1",
        {},
        n.nodeId,
        " ",
        h(
          "span",
          { class: `badge ${n.status}`, id: "node-status", "data-status": n.status },
          n.status,
        ),
        ...trustBadges(n).map((b) => h("span", {}, " ", b)),
      ),
      h(
        "div",
        { class: "fact-grid" },
        row("hostname", n.hostname || "–"),
        row("ip", n.ip || "–"),
        row("os / arch", `${n.os || "?"} / ${n.arch || "?"}`),
        row("daemon", n.daemonVersion || "–"),
        row("agent", n.agentVersion || "–"),
        row("registered", when(n.registeredAt)),
        row("last seen", `${ago(n.lastSeenAt)} (${when(n.lastSeenAt)})`),
        row(
          "labels",
          h("span", {}, ...labelPairs(n.labels).map((l) => h("span", { class: "chip" }, l))),
        ),
      ),
    );
  };

  const loadNode = async () => {
    try {
      const { node } = await fleet.getNode({ nodeId });
      if (node) renderFacts(node);
    } catch (err) {
      fill(facts, h("p", { class: "error" }, err instanceof Error ? err.message : String(err)));
    }
  };

  let loading = 0;
  const loadCharts = async () => {
    const my = ++loading;
    const end = Math.floor(Date.now() / 1000) + 1;
    const start = end - range;
    const stepSeconds = stepFor(range);
    await Promise.all(
      charts.map(async ({ spec, chart }) => {
        const results = await Promise.all(
          spec.names.map((name) =>
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
        if (my !== loading) return;
        const parts = results.flatMap((res, i) =>
          res.series.map((s) => {
            const labels =
              (spec.labelKey && s.labels[spec.labelKey]) || labelPairs(s.labels).join(" ");
            const name =
              spec.names.length > 1 ? (spec.names[i] ?? "").replace(/_bytes_per_second$/, "") : "";
            return {
              label: [labels, name].filter(Boolean).join(" ") || spec.names[i] || spec.key,
              points: s.points.map((p) => ({ t: Number(p.timestamp), v: p.value })),
            };
          }),
        );
        chart.set(align(parts));
      }),
    ).catch((err: unknown) => console.warn("fleet: chart query failed", err));
  };

  renderRanges();
  void loadNode();
  void loadCharts();
  const off = onNodeEvent((e) => {
    if (e.nodeId !== nodeId) return;
    if (e.node) renderFacts(e.node);
    else fill(facts, h("p", { class: "error" }, `node ${nodeId} was deleted`));
  });
  const refresh = setInterval(() => void loadCharts(), 30_000);
  return () => {
    off();
    clearInterval(refresh);
    // Queries still in flight see a newer generation and leave the destroyed charts alone.
    loading++;
    for (const { chart } of charts) chart.destroy();
  };
}
