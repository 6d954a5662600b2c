import { fleet, needsToken } from "./client.js";
import { onReachability } from "./connection.js";
import { h } from "./dom.js";
import { clock } from "./format.js";
import { onLiveState, onTokenRejected } from "./live.js";
import { renderNodePage } from "./node-page.js";
import { renderOverview } from "./overview.js";
import "./style.css";
import "./glance.css";
import "./phone.css";
import { apiToken, renderTokenPrompt } from "./token.js";

const app = document.getElementById("app") as HTMLElement;
const live = document.getElementById("live") as HTMLElement;
const banner = h("div", { id: "stale-banner", class: "banner", role: "alert", hidden: true });
document.body.prepend(banner);
let teardown: (() => void) | undefined;

onLiveState((s) => {
  live.dataset.state = s;
  live.textContent = s === "live" ? "● live" : s === "connecting" ? "connecting…" : "reconnecting…";
});

// Never stale silently: say since when the data is old; clears itself on the next answer.
onReachability((s) => {
  banner.hidden = s.reachable;
  banner.textContent = s.reachable
    ? ""
    : `Manager unreachable since ${clock(s.lastContactMs)} — showing data from then`;
  if (s.reachable) delete document.body.dataset.stale;
  else document.body.dataset.stale = "";
});

/** Hash routes: #/ (overview, ?status=&selector=&sort=&desc=) and #/node/ID (?range=). */
function route(): void {
  teardown?.();
  const [path = "/", search = ""] = window.location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search);
  const node = /^\/node\/(.+)$/.exec(path);
  teardown = node
    ? renderNodePage(app, decodeURIComponent(node[1] as string), query)
    : renderOverview(app, query);
}

/** The token form; says so when the manager refused the token this browser had. */
function askForToken(rejected: boolean): void {
  teardown?.();
  teardown = undefined;
  renderTokenPrompt(app, rejected);
}

/** Asks for FLEET_API_TOKEN when the manager requires one, then starts. */
async function main(): Promise<void> {
  try {
    await fleet.getFleetSummary({});
  } catch (err) {
    if (needsToken(err)) {
      askForToken(apiToken() !== "");
      return;
    }
  }
  onTokenRejected(() => askForToken(true));
  window.addEventListener("hashchange", route);
  route();
}

void main();
