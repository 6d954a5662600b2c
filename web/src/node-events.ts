import type { NodeEvent } from "../../gen/fleet/v1/fleet_pb.js";
import { fleet } from "./client.js";
import { fill, h } from "./dom.js";
import { ago, when } from "./format.js";

/** The node's history (ListNodeEvents), newest first, with reasons; "older" pages back. */
export function createEventTimeline(list: HTMLElement, nodeId: string) {
  let token = "";
  const events: NodeEvent[] = [];
  const older = h("button", { type: "button", class: "more", id: "events-older" }, "older events");
  older.addEventListener("click", () => void load(false));

  const render = () => {
    fill(
      list,
      events.length === 0 ? h("li", { class: "muted" }, "no events recorded") : null,
      ...events.map((e) =>
        h(
          "li",
          { class: `event ${e.kind}`, "data-kind": e.kind },
          h("span", { class: `badge ${e.kind}` }, e.kind),
          h("span", { class: "when", title: when(e.time) }, `${when(e.time)} · ${ago(e.time)}`),
          e.reason ? h("span", { class: "reason" }, e.reason) : null,
        ),
      ),
    );
    if (token) list.append(h("li", {}, older));
  };

  async function load(first: boolean) {
    try {
      const res = await fleet.listNodeEvents({
        nodeId,
        pageSize: 20,
        pageToken: first ? "" : token,
      });
      if (first) events.length = 0;
      events.push(...res.events);
      token = res.nextPageToken;
      render();
    } catch (err) {
      fill(list, h("li", { class: "error" }, err instanceof Error ? err.message : String(err)));
    }
  }
  return {
    load: () => load(true),
    /** A live event for this node: shown at the top at once. */
    add(e: NodeEvent) {
      if (e.kind === "keepalive" || events.some((x) => x.eventId === e.eventId)) return;
      events.unshift(e);
      render();
    },
  };
}
