import type { Node } from "../../gen/fleet/v1/fleet_pb.js";
import { fleet } from "./client.js";
import { isUnreachable, onReachability, reachability } from "./connection.js";
import { fill, h } from "./dom.js";
import { createFleetCharts } from "./fleet-charts.js";
import { onNodeEvent } from "./live.js";
import { renderHeader, renderRow, sortNodes, type TableView } from "./node-table.js";
import {
  API_ORDER,
  type OverviewQuery,
  overviewHash,
  parseOverviewQuery,
  type SortKey,
} from "./overview-query.js";
import { renderSummary } from "./summary-cards.js";

const PAGE = 200;

/** The fleet overview: status cards, fleet charts, and a sortable node table kept current by WatchNodes. */
export function renderOverview(root: HTMLElement, query: URLSearchParams): () => void {
  const q: OverviewQuery = parseOverviewQuery(query);
  const rows = new Map<string, Node>();
  let total = 0n;
  let nextToken = "";
  let generation = 0;

  const cards = h("section", { class: "cards", "aria-label": "fleet summary" });
  const summaryError = h("p", { class: "error", id: "summary-error", role: "alert" });
  const breakdown = h("section", { class: "breakdown" });
  const chartsSection = h("section", { class: "panel fleet-charts", id: "fleet-charts" });
  const statusSel = h(
    "select",
    { id: "status-filter", "aria-label": "status" },
    h("option", { value: "" }, "all statuses"),
    h("option", { value: "online" }, "online"),
    h("option", { value: "offline" }, "offline"),
  );
  const selInput = h("input", {
    id: "selector-filter",
    type: "search",
    placeholder: "label selector, e.g. env=prod,role!=db,gpu",
    spellcheck: false,
  });
  const filterError = h("p", { class: "error", id: "filter-error", role: "alert" });
  const thead = h("thead");
  const tbody = h("tbody");
  const more = h("button", { class: "more", type: "button" }, "load more");
  const footer = h("p", { class: "muted", id: "table-footer" });
  const fleetCharts = createFleetCharts(chartsSection, (range) => apply({ range }));

  /** Changes the query, writes it to the URL, and reloads what depends on it. */
  function apply(change: Partial<OverviewQuery>) {
    Object.assign(q, change);
    const hash = overviewHash(q);
    if (window.location.hash !== hash) history.replaceState(null, "", hash);
    void reload();
  }
  const applyFilter = () => apply({ status: statusSel.value, selector: selInput.value.trim() });
  statusSel.addEventListener("change", applyFilter);
  selInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") applyFilter();
  });
  more.addEventListener("click", () => void loadPage(false));
  const onSort = (key: SortKey) =>
    apply({ sort: key, desc: key === q.sort ? !q.desc : key !== "node" && key !== "hostname" });

  fill(
    root,
    summaryError,
    cards,
    h(
      "section",
      { class: "panel" },
      h(
        "div",
        { class: "filters" },
        statusSel,
        selInput,
        h("button", { type: "button", onclick: applyFilter }, "filter"),
      ),
      filterError,
      h("div", { class: "table-wrap" }, h("table", { class: "nodes", id: "nodes" }, thead, tbody)),
      footer,
      more,
    ),
    chartsSection,
    breakdown,
  );

  const view = (): TableView => {
    const r = reachability();
    return { staleSinceMs: r.reachable ? undefined : r.lastContactMs };
  };
  const renderTable = (flashId?: string) => {
    statusSel.value = q.status;
    selInput.value = q.selector;
    renderHeader(thead, q.sort, q.desc, onSort);
    const v = view();
    const sorted = sortNodes([...rows.values()], q.sort, q.desc);
    fill(tbody, ...sorted.map((n) => renderRow(n, v, n.nodeId === flashId)));
    if (sorted.length === 0)
      tbody.append(h("tr", {}, h("td", { colspan: 12, class: "muted" }, "no nodes match")));
    const partial = !API_ORDER[q.sort] && nextToken ? " (sorted within the loaded rows)" : "";
    footer.textContent = `${rows.size} of ${total} nodes${partial}`;
    more.hidden = !nextToken;
  };

  // Never rejects: a failure is shown above the cards, which are marked stale until the next success.
  const loadSummary = async () => {
    const gen = generation;
    try {
      const s = await fleet.getFleetSummary({});
      if (gen !== generation) return;
      summaryError.textContent = "";
      cards.removeAttribute("data-stale");
      renderSummary(cards, breakdown, s, q.status, (status) => apply({ status }));
    } catch (err) {
      if (gen !== generation || isUnreachable(err)) return;
      summaryError.textContent = `summary: ${err instanceof Error ? err.message : String(err)}`;
      cards.setAttribute("data-stale", "");
    }
  };

  async function loadPage(first: boolean) {
    const gen = generation;
    try {
      const res = await fleet.listNodes({
        status: q.status,
        selector: q.selector,
        orderBy: API_ORDER[q.sort] ?? "node_id",
        descending: API_ORDER[q.sort] ? q.desc : false,
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
      if (gen !== generation) return;
      // Unreachable: keep what was shown (the banner says since when it is old).
      if (isUnreachable(err)) return;
      // A rejected query leaves no stale results under its error.
      filterError.textContent = err instanceof Error ? err.message : String(err);
      if (first) {
        rows.clear();
        total = 0n;
        nextToken = "";
        renderTable();
        footer.textContent = "no results (see the error above)";
      }
    }
  }

  async function reload() {
    generation++;
    nextToken = "";
    await Promise.all([loadPage(true), loadSummary(), fleetCharts.load(q, q.range)]);
  }

  // Events: update rows in place; new nodes and summary counts re-read, debounced.
  // A pending list re-read survives later events (a delete must not cancel it).
  let refetch: ReturnType<typeof setTimeout> | undefined;
  let listPending = false;
  const scheduleRefetch = (listToo: boolean) => {
    listPending ||= listToo;
    clearTimeout(refetch);
    refetch = setTimeout(() => {
      void loadSummary();
      if (listPending && rows.size < PAGE) void loadPage(true);
      listPending = false;
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
      if (q.status && e.node.status !== q.status) {
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
  // Back from unreachable: re-read everything; going stale: redraw as unknown, frozen.
  const offReach = onReachability((r) => {
    renderTable();
    if (r.reachable) void reload();
  });
  // Heartbeats and usage move without an event: re-read the first page now and then.
  const resync = setInterval(() => {
    if (!reachability().reachable) return;
    if (rows.size <= PAGE) void loadPage(true);
    void loadSummary();
  }, 15_000);
  const chartsRefresh = setInterval(() => {
    if (reachability().reachable) void fleetCharts.load(q, q.range);
  }, 60_000);
  const tick = setInterval(() => {
    if (reachability().reachable) renderTable();
  }, 5000);

  void reload();
  return () => {
    off();
    offReach();
    clearInterval(tick);
    clearInterval(resync);
    clearInterval(chartsRefresh);
    clearTimeout(refetch);
    fleetCharts.destroy();
    generation++;
  };
}
