import type { Node } from "../../gen/fleet/v1/fleet_pb.js";
import { trustBadges } from "./badges.js";
import { fleet } from "./client.js";
import { onReachability, reachability } from "./connection.js";
import { fill, h } from "./dom.js";
import { ago, labelPairs, pct, rate, skew, when } from "./format.js";
import { onNodeEvent } from "./live.js";
import { createNodeCharts } from "./node-charts.js";
import { createEventTimeline } from "./node-events.js";

const RANGES: [string, number][] = [
  ["15m", 900],
  ["1h", 3600],
  ["6h", 6 * 3600],
  ["24h", 86_400],
  ["7d", 7 * 86_400],
  ["30d", 30 * 86_400],
];

/** One node: facts, history, and its charts over a chosen range. */
export function renderNodePage(
  root: HTMLElement,
  nodeId: string,
  query: URLSearchParams,
): () => void {
  let range = RANGES.find(([k]) => k === query.get("range"))?.[1] ?? 3600;
  let node: Node | undefined;
  const facts = h("section", { class: "panel facts", id: "node-facts" }, "loading…");
  const rangeBar = h("div", { class: "ranges", role: "group", "aria-label": "time range" });
  const grid = h("section", { class: "charts" });
  const eventList = h("ol", { class: "events", id: "node-events" });
  fill(
    root,
    h("p", {}, h("a", { href: "#/" }, "← fleet")),
    facts,
    h("div", { class: "toolbar" }, rangeBar),
    grid,
    h("section", { class: "panel" }, h("h2", {}, "Events"), eventList),
  );
  const charts = createNodeCharts(grid, nodeId);
  const timeline = createEventTimeline(eventList, nodeId);

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
              void charts.load(range);
            },
          },
          label,
        ),
      ),
    );

  const renderFacts = () => {
    if (!node) return;
    const n = node;
    const r = reachability();
    const stale = r.reachable ? undefined : r.lastContactMs;
    const row = (k: string, v: string | HTMLElement, id?: string) =>
      h("div", { class: "fact", id }, h("span", { class: "k" }, k), h("span", { class: "v" }, v));
    const status = stale === undefined ? n.status : "unknown";
    const u = n.usage;
    fill(
      facts,
      h(
        "h1",
        {},
        n.nodeId,
        " ",
        h(
          "span",
          {
            class: `badge ${status}`,
            id: "node-status",
            "data-status": status,
            title: `last known: ${n.status}`,
          },
          status,
        ),
        n.flapping ? h("span", { class: "badge flapping", id: "node-flapping" }, "flapping") : null,
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
        row("last seen", `${ago(n.lastSeenAt, stale)} (${when(n.lastSeenAt)})`, "node-last-seen"),
        n.offlineSince
          ? row(
              "offline since",
              `${when(n.offlineSince)} (${ago(n.offlineSince, stale)})`,
              "node-offline-since",
            )
          : null,
        row("clock skew", n.clockSkewSeconds ? skew(n.clockSkewSeconds) : "none", "node-skew"),
        u
          ? row(
              "usage",
              `cpu ${u.cpuPercent === undefined ? "–" : pct(u.cpuPercent)} · mem ${u.memoryPercent === undefined ? "–" : pct(u.memoryPercent)} · disk ${u.diskPercent === undefined ? "–" : pct(u.diskPercent)} · net ↓${rate(u.networkRxBytesPerSecond ?? 0)} ↑${rate(u.networkTxBytesPerSecond ?? 0)}`,
            )
          : null,
        row(
          "labels",
          h("span", {}, ...labelPairs(n.labels).map((l) => h("span", { class: "chip" }, l))),
        ),
      ),
    );
  };

  const loadNode = async () => {
    try {
      const res = await fleet.getNode({ nodeId });
      node = res.node;
      renderFacts();
    } catch (err) {
      if (!node)
        fill(facts, h("p", { class: "error" }, err instanceof Error ? err.message : String(err)));
    }
  };

  renderRanges();
  void loadNode();
  void charts.load(range);
  void timeline.load();
  const off = onNodeEvent((e) => {
    if (e.nodeId !== nodeId) return;
    timeline.add(e);
    if (e.node) {
      node = e.node;
      renderFacts();
    } else fill(facts, h("p", { class: "error" }, `node ${nodeId} was deleted`));
  });
  const offReach = onReachability((r) => {
    renderFacts();
    if (r.reachable) {
      void loadNode();
      void charts.load(range);
      void timeline.load();
    }
  });
  const refresh = setInterval(() => {
    if (!reachability().reachable) return;
    void charts.load(range);
    void loadNode();
  }, 30_000);
  const tick = setInterval(() => {
    if (reachability().reachable) renderFacts();
  }, 5000);
  return () => {
    off();
    offReach();
    clearInterval(refresh);
    clearInterval(tick);
    charts.destroy();
  };
}
