import type { GetFleetSummaryResponse, Node } from "../../gen/fleet/v1/fleet_pb.js";
import { trustBadges } from "./badges.js";
import { fleet } from "./client.js";
import { fill, h } from "./dom.js";
import { ago, labelPairs } from "./format.js";
import { onNodeEvent } from "./live.js";

const PAGE = 200;

/** The fleet overview: counts, filters, and a node table kept current by WatchNodes. */
export function renderOverview(root: HTMLElement, query: URLSearchParams): () => void {
  let status = query.get("status") ?? "";
  let selector = query.get("selector") ?? "";
  const rows = new Map<string, Node>();
  let total = 0n;
  let nextToken = "";
  let generation = 0;

  const cards = h("section", { class: "cards", "aria-label": "fleet summary" });
  const summaryError = h("p", { class: "error", id: "summary-error", role: "alert" });
  const breakdown = h("section", { class: "breakdown" });
  const statusSel = h(
    "select",
    { id: "status-filter", "aria-label": "status" },
    h("option", { value: "" }, "all statuses"),
    h("option", { value: "online" }, "online"),
    h("option", { value: "offline" }, "offline"),
  );
  statusSel.value = status;
  const selInput = h("input", {
    id: "selector-filter",
    type: "search",
    placeholder: "label selector, e.g. env=prod,role!=db,gpu",
    value: selector,
    spellcheck: false,
  });
  const filterError = h("span", { class: "error", id: "filter-error" });
  const tbody = h("tbody");
  const more = h("button", { class: "more", type: "button" }, "load more");
  const footer = h("p", { class: "muted", id: "table-footer" });

  const applyFilter = () => {
    status = statusSel.value;
    selector = selInput.value.trim();
    const q = new URLSearchParams();
    if (status) q.set("status", status);
    if (selector) q.set("selector", selector);
    const hash = `#/${q.size ? `?${q}` : ""}`;
    if (window.location.hash !== hash) history.replaceState(null, "", hash);
    void reload();
  };
  statusSel.addEventListener("change", applyFilter);
  selInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") applyFilter();
  });
  more.addEventListener("click", () => void loadPage(false));

  fill(
    root,
    summaryError,
    cards,
    breakdown,
    h(
      "section",
      { class: "panel" },
      h(
        "div",
        { class: "filters" },
        statusSel,
        selInput,
        h("button", { type: "button", onclick: applyFilter }, "filter"),
        filterError,
      ),
      h(
        "table",
        { class: "nodes", id: "nodes" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...[
              "node",
              "status",
              "hostname",
              "ip",
              "os / arch",
              "version",
              "last seen",
              "labels",
            ].map((t) => h("th", {}, t)),
          ),
        ),
        tbody,
      ),
      footer,
      more,
    ),
  );

  const rowOf = (n: Node, flash: boolean) =>
    h(
      "tr",
      { "data-node-id": n.nodeId, "data-status": n.status, class: flash ? "flash" : undefined },
      h("td", {}, h("a", { href: `#/node/${encodeURIComponent(n.nodeId)}` }, n.nodeId)),
      h("td", {}, h("span", { class: `badge ${n.status}` }, n.status), ...trustBadges(n)),
      h("td", {}, n.hostname || "–"),
      h("td", { class: "mono" }, n.ip || "–"),
      h("td", {}, `${n.os || "?"} / ${n.arch || "?"}`),
      h("td", { class: "mono" }, n.daemonVersion || "–"),
      h(
        "td",
        {
          "data-last-seen": String(n.lastSeenAt),
          title: new Date(Number(n.lastSeenAt) * 1000).toLocaleString(),
        },
        ago(n.lastSeenAt),
      ),
      h("td", {}, ...labelPairs(n.labels).map((l) => h("span", { class: "chip" }, l))),
    );

  const renderTable = (flashId?: string) => {
    const sorted = [...rows.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    fill(tbody, ...sorted.map((n) => rowOf(n, n.nodeId === flashId)));
    if (sorted.length === 0)
      tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "no nodes match")));
    footer.textContent = `${rows.size} of ${total} nodes`;
    more.hidden = !nextToken;
  };

  const renderSummary = (s: GetFleetSummaryResponse) => {
    const card = (key: string, label: string, value: bigint) =>
      h(
        "div",
        { class: `card ${key}`, "data-count": key },
        h("div", { class: "value" }, String(value)),
        h("div", { class: "label" }, label),
      );
    fill(
      cards,
      card("total", "nodes", s.total),
      card("online", "online", s.online),
      card("offline", "offline", s.offline),
    );
    const list = (title: string, m: Record<string, bigint>) =>
      h(
        "div",
        { class: "dist" },
        h("h3", {}, title),
        ...Object.entries(m)
          .sort(([, a], [, b]) => Number(b - a))
          .slice(0, 6)
          .map(([k, v]) =>
            h(
              "div",
              { class: "row" },
              h("span", {}, k || "unknown"),
              h("span", { class: "mono" }, String(v)),
            ),
          ),
      );
    fill(
      breakdown,
      list("by OS", s.byOs),
      list("by architecture", s.byArch),
      list("by daemon version", s.byVersion),
    );
  };

  // Never rejects: a failure is shown above the cards, which are marked stale until the next success.
  const loadSummary = async () => {
    const gen = generation;
    try {
      const s = await fleet.getFleetSummary({});
      if (gen !== generation) return;
      summaryError.textContent = "";
      cards.removeAttribute("data-stale");
      renderSummary(s);
    } catch (err) {
      if (gen !== generation) return;
      summaryError.textContent = `summary: ${err instanceof Error ? err.message : String(err)}`;
      cards.setAttribute("data-stale", "");
    }
  };

  async function loadPage(first: boolean) {
    const gen = generation;
    try {
      const res = await fleet.listNodes({
        status,
        selector,
        pageSize: PAGE,
        pageToken: first ? "" : nextToken,
      });
      if (gen !== generation) return;
      if (first) rows.clear();
      for (const n of res.nodes) rows.set(n.nodeId, n);
      total = res.total;
      nextToken = res.nextPageToken;
      filterError.textContent = "";
      renderTable();
    } catch (err) {
      filterError.textContent = err instanceof Error ? err.message : String(err);
    }
  }

  async function reload() {
    generation++;
    nextToken = "";
    await Promise.all([loadPage(true), loadSummary()]);
  }

  // Events: update rows in place; new nodes and summary counts re-read, debounced.
  let refetch: ReturnType<typeof setTimeout> | undefined;
  const scheduleRefetch = (listToo: boolean) => {
    clearTimeout(refetch);
    refetch = setTimeout(() => {
      void loadSummary();
      if (listToo && rows.size < PAGE) void loadPage(true);
    }, 300);
  };
  const off = onNodeEvent((e) => {
    const known = rows.get(e.nodeId);
    if (e.kind === "deleted" || !e.node) {
      if (rows.delete(e.nodeId)) {
        total = total > 0n ? total - 1n : 0n;
        renderTable();
      }
      scheduleRefetch(false);
      return;
    }
    if (known) {
      if (status && e.node.status !== status) {
        rows.delete(e.nodeId);
        total = total > 0n ? total - 1n : 0n;
        renderTable();
      } else {
        rows.set(e.nodeId, e.node);
        renderTable(e.nodeId);
      }
      scheduleRefetch(false);
    } else {
      scheduleRefetch(true);
    }
  });
  // Heartbeats move last_seen_at without an event: re-read the first page now and then.
  const resync = setInterval(() => {
    if (rows.size <= PAGE) void loadPage(true);
    void loadSummary();
  }, 30_000);
  const tick = setInterval(() => {
    for (const td of tbody.querySelectorAll<HTMLElement>("td[data-last-seen]")) {
      td.textContent = ago(BigInt(td.dataset.lastSeen ?? "0"));
    }
  }, 5000);

  void reload();
  return () => {
    off();
    clearInterval(tick);
    clearInterval(resync);
    clearTimeout(refetch);
    generation++;
  };
}
