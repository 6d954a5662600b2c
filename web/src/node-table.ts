import type { Node } from "../../gen/fleet/v1/fleet_pb.js";
import { trustBadges } from "./badges.js";
import { fill, h } from "./dom.js";
import { ago, labelPairs, pct, rate } from "./format.js";
import type { SortKey } from "./overview-query.js";

interface Column {
  key: SortKey;
  title: string;
  cell: (n: Node, view: TableView) => HTMLElement | string;
  /** The value this column sorts by; usage without data sorts as -1, as in the API. */
  value: (n: Node) => number | string;
  numeric?: boolean;
}

export interface TableView {
  /** When the manager is unreachable: statuses are unknown, ages count to this moment. */
  staleSinceMs: number | undefined;
}

const usage = (v: number | undefined) => v ?? -1;

/** A usage bar with its value; amber from 75 %, red from 90 %. */
function bar(v: number | undefined): HTMLElement {
  if (v === undefined) return h("span", { class: "muted" }, "–");
  const level = v >= 90 ? "high" : v >= 75 ? "warn" : "ok";
  return h(
    "span",
    { class: `usage ${level}`, "data-value": String(v) },
    h(
      "span",
      { class: "track" },
      h("span", { class: "fill", style: `width:${Math.min(100, Math.max(0, v))}%` }),
    ),
    h("span", { class: "num" }, pct(v)),
  );
}

export const COLUMNS: Column[] = [
  {
    key: "node",
    title: "node",
    cell: (n) => h("a", { href: `#/node/${encodeURIComponent(n.nodeId)}` }, n.nodeId),
    value: (n) => n.nodeId,
  },
  {
    key: "status",
    title: "status",
    cell: (n, view) =>
      h(
        "span",
        {},
        view.staleSinceMs !== undefined
          ? h("span", { class: "badge unknown", title: `last known: ${n.status}` }, "unknown")
          : h("span", { class: `badge ${n.status}` }, n.status, n.flapping ? " ⚡" : ""),
        ...trustBadges(n),
      ),
    value: (n) => n.status,
  },
  {
    key: "cpu",
    title: "cpu",
    cell: (n) => bar(n.usage?.cpuPercent),
    value: (n) => usage(n.usage?.cpuPercent),
    numeric: true,
  },
  {
    key: "memory",
    title: "memory",
    cell: (n) => bar(n.usage?.memoryPercent),
    value: (n) => usage(n.usage?.memoryPercent),
    numeric: true,
  },
  {
    key: "disk",
    title: "disk",
    cell: (n) => bar(n.usage?.diskPercent),
    value: (n) => usage(n.usage?.diskPercent),
    numeric: true,
  },
  {
    key: "network",
    title: "network",
    cell: (n) =>
      n.usage?.networkRxBytesPerSecond === undefined
        ? h("span", { class: "muted" }, "–")
        : h(
            "span",
            { class: "mono net" },
            `↓${rate(n.usage.networkRxBytesPerSecond)} ↑${rate(n.usage.networkTxBytesPerSecond ?? 0)}`,
          ),
    value: (n) =>
      n.usage?.networkRxBytesPerSecond === undefined
        ? -1
        : n.usage.networkRxBytesPerSecond + (n.usage.networkTxBytesPerSecond ?? 0),
    numeric: true,
  },
  {
    key: "last_seen",
    title: "last seen",
    cell: (n, view) =>
      h(
        "span",
        {
          "data-last-seen": String(n.lastSeenAt),
          title: new Date(Number(n.lastSeenAt) * 1000).toLocaleString(),
        },
        ago(n.lastSeenAt, view.staleSinceMs),
      ),
    value: (n) => Number(n.lastSeenAt) || -1,
    numeric: true,
  },
  { key: "hostname", title: "hostname", cell: (n) => n.hostname || "–", value: (n) => n.hostname },
  {
    key: "ip",
    title: "ip",
    cell: (n) => h("span", { class: "mono" }, n.ip || "–"),
    value: (n) => n.ip,
  },
  {
    key: "os",
    title: "os / arch",
    cell: (n) => `${n.os || "?"} / ${n.arch || "?"}`,
    value: (n) => `${n.os}/${n.arch}`,
  },
  {
    key: "version",
    title: "version",
    cell: (n) => h("span", { class: "mono" }, n.daemonVersion || "–"),
    value: (n) => n.daemonVersion,
  },
  {
    key: "labels",
    title: "labels",
    cell: (n) => h("span", {}, ...labelPairs(n.labels).map((l) => h("span", { class: "chip" }, l))),
    value: (n) => labelPairs(n.labels).join(","),
  },
];

/** Sorts like the API: by the column's value, ties by node_id ascending in either direction. */
export function sortNodes(nodes: Node[], key: SortKey, desc: boolean): Node[] {
  const col = COLUMNS.find((c) => c.key === key) ?? (COLUMNS[0] as Column);
  return nodes.sort((a, b) => {
    const va = col.value(a);
    const vb = col.value(b);
    const c = va < vb ? -1 : va > vb ? 1 : 0;
    if (c !== 0) return desc ? -c : c;
    return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
  });
}

/** The header row: each column sorts when clicked (again: the other direction). */
export function renderHeader(
  thead: HTMLElement,
  sort: SortKey,
  desc: boolean,
  onSort: (key: SortKey) => void,
): void {
  fill(
    thead,
    h(
      "tr",
      {},
      ...COLUMNS.map((c) =>
        h(
          "th",
          {
            "data-sort": c.key,
            "aria-sort": c.key === sort ? (desc ? "descending" : "ascending") : undefined,
            class: c.numeric ? "num" : undefined,
          },
          h(
            "button",
            { type: "button", class: "sort", onclick: () => onSort(c.key) },
            c.title,
            c.key === sort ? (desc ? " ▼" : " ▲") : "",
          ),
        ),
      ),
    ),
  );
}

/** One row; on a phone each cell shows its column title (the table becomes a list). */
export function renderRow(n: Node, view: TableView, flash: boolean): HTMLElement {
  return h(
    "tr",
    {
      "data-node-id": n.nodeId,
      "data-status": view.staleSinceMs !== undefined ? "unknown" : n.status,
      class: flash ? "flash" : undefined,
    },
    ...COLUMNS.map((c) => h("td", { "data-label": c.title, "data-col": c.key }, c.cell(n, view))),
  );
}
