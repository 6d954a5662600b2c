import { fleet, needsToken } from "./client.js";
import { onLiveState } from "./live.js";
import { renderNodePage } from "./node-page.js";
import { renderOverview } from "./overview.js";
import "./style.css";
import { renderTokenPrompt } from "./token.js";

const app = document.getElementById("app") as HTMLElement;
const live = document.getElementById("live") as HTMLElement;
let teardown: (() => void) | undefined;

onLiveState((s) => {
  live.dataset.state = s;
  live.textContent = s === "live" ? "● live" : s === "connecting" ? "connecting…" : "reconnecting…";
});

/** Hash routes: #/ (overview, ?status=&selector=) and #/node/ID (?range=). */
function route(): void {
  teardown?.();
  const [path = "/", search = ""] = window.location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search);
  const node = /^\/node\/(.+)$/.exec(path);
  teardown = node
    ? renderNodePage(app, decodeURIComponent(node[1] as string), query)
    : renderOverview(app, query);
}

/** Asks for FLEET_API_TOKEN when the manager requires one, then starts. */
async function main(): Promise<void> {
  try {
    await fleet.getFleetSummary({});
  } catch (err) {
    if (needsToken(err)) {
      renderTokenPrompt(app);
      return;
    }
  }
  window.addEventListener("hashchange", route);
  route();
}

void main();
