import type { GetFleetSummaryResponse } from "../../gen/fleet/v1/fleet_pb.js";
import { fill, h } from "./dom.js";

/**
 * Status cards that filter the table when clicked ("nodes" clears the
 * filter), and the OS / architecture / version breakdown.
 */
export function renderSummary(
  cards: HTMLElement,
  breakdown: HTMLElement,
  s: GetFleetSummaryResponse,
  active: string,
  onStatus: (status: string) => void,
): void {
  const card = (key: string, label: string, value: bigint, status: string) =>
    h(
      "button",
      {
        type: "button",
        class: `card ${key}${active === status ? " selected" : ""}`,
        "data-count": key,
        "aria-pressed": active === status ? "true" : "false",
        title: status ? `show ${status} nodes only` : "show all nodes",
        onclick: () => onStatus(status),
      },
      h("span", { class: "value" }, String(value)),
      h("span", { class: "label" }, label),
    );
  fill(
    cards,
    card("total", "nodes", s.total, ""),
    card("online", "online", s.online, "online"),
    card("offline", "offline", s.offline, "offline"),
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
}
